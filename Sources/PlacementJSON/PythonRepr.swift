/// Python's `repr` of a decoded JSON value. Placement's 400 messages embed
/// it (they come from the `jsonschema` package), and clients and tests
/// match on those words.
public enum PythonRepr {
    public static func of(_ v: JSON) -> String {
        switch v {
        case .null: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        case .bigInt(let s): s
        case .double(let d):
            d.isNaN ? "nan" : d.isInfinite ? (d < 0 ? "-inf" : "inf") : JSONWriter.formatDouble(d)
        case .string(let s): string(s)
        case .array(let a): "[" + a.map(of).joined(separator: ", ") + "]"
        case .object(let o): "{" + o.pairs.map { string($0.key) + ": " + of($0.value) }.joined(separator: ", ") + "}"
        }
    }

    /// Python's str repr: single quotes unless the text has a single quote and no double quote.
    public static func string(_ s: String) -> String {
        let quote: Character = (s.contains("'") && !s.contains("\"")) ? "\"" : "'"
        var out = String(quote)
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where ch == quote.unicodeScalars.first!: out += "\\" + String(ch)
            case _ where ch.value < 0x20 || ch.value == 0x7F:
                out += "\\x" + String(ch.value, radix: 16).leftPadded(2)
            default: out.unicodeScalars.append(ch)
            }
        }
        out.append(quote)
        return out
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
