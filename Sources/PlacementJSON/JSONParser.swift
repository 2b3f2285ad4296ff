/// Why a body is not JSON, worded like Python's `json` module (Placement's
/// clients see "Malformed JSON: <this>").
public struct JSONParseError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A strict, bounded JSON parser over bytes: invalid UTF-8, nesting deeper
/// than `maxDepth` and trailing data are errors, never crashes.
public struct JSONParser {
    public static let defaultMaxDepth = 256

    private let bytes: [UInt8]
    private var i = 0
    private let maxDepth: Int

    public static func parse(_ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSON {
        var p = JSONParser(bytes: Array(bytes), maxDepth: maxDepth)
        return try p.document()
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSON {
        try parse(Array(text.utf8))
    }

    private init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    private func fail(_ what: String, at pos: Int? = nil) -> JSONParseError {
        let p = pos ?? i
        var line = 1, col = 1
        for b in bytes[0..<min(p, bytes.count)] {
            if b == 0x0A { line += 1; col = 1 } else { col += 1 }
        }
        return JSONParseError(message: "\(what): line \(line) column \(col) (char \(p))")
    }

    private mutating func document() throws(JSONParseError) -> JSON {
        if String(validating: bytes, as: UTF8.self) == nil {
            throw JSONParseError(message: "'utf-8' codec can't decode the request body: invalid UTF-8")
        }
        // A UTF-8 byte order mark is refused by Python's json.loads on str.
        skipSpace()
        let v = try value(depth: 0)
        skipSpace()
        if i != bytes.count { throw fail("Extra data") }
        return v
    }

    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func value(depth: Int) throws(JSONParseError) -> JSON {
        guard depth < maxDepth else { throw JSONParseError(message: "nesting deeper than \(maxDepth) levels") }
        guard i < bytes.count else { throw fail("Expecting value") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "N"): return try literal("NaN", .double(.nan))
        case UInt8(ascii: "I"): return try literal("Infinity", .double(.infinity))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("Expecting value")
        }
    }

    private mutating func literal(_ word: String, _ v: JSON) throws(JSONParseError) -> JSON {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("Expecting value") }
        i += w.count
        return v
    }

    private mutating func number() throws(JSONParseError) -> JSON {
        let start = i
        if bytes[i] == UInt8(ascii: "-") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "I") {
                _ = try literal("Infinity", .null)
                return .double(-.infinity)
            }
        }
        let digitsStart = i
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
        if i == digitsStart { throw fail("Expecting value", at: start) }
        // Python accepts no leading zeros: "01" is "0" followed by extra data.
        if bytes[digitsStart] == 0x30 && i - digitsStart > 1 { i = digitsStart + 1; return .int(0) }
        var isFloat = false
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            let dot = i
            i += 1
            let fs = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            if i == fs { i = dot } else { isFloat = true }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            let e = i
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let es = i
            while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
            if i == es { i = e } else { isFloat = true }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if isFloat { return .double(Double(text) ?? .nan) }
        if let v = Int64(text) { return .int(v) }
        return .bigInt(text)
    }

    private mutating func string() throws(JSONParseError) -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("Unterminated string starting at", at: start) }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; break }
            if b < 0x20 { throw fail("Invalid control character at") }
            if b == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { throw fail("Unterminated string starting at", at: start) }
                let e = bytes[i]
                i += 1
                if let simple = JSONEscapes.simple(e) {
                    out.append(simple)
                } else if e == UInt8(ascii: "u") {
                    guard let scalar = JSONEscapes.unicode(bytes, &i) else { throw fail("Invalid \\uXXXX escape") }
                    out.append(contentsOf: String(Character(scalar)).utf8)
                } else {
                    throw fail("Invalid \\escape", at: i - 2)
                }
            } else {
                out.append(b)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func array(depth: Int) throws(JSONParseError) -> JSON {
        i += 1
        var items: [JSON] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            skipSpace()
            guard i < bytes.count else { throw fail("Expecting ',' delimiter") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw fail("Expecting ',' delimiter")
        }
    }

    private mutating func object(depth: Int) throws(JSONParseError) -> JSON {
        i += 1
        var obj = JSONObject()
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                throw fail("Expecting property name enclosed in double quotes")
            }
            let key = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("Expecting ':' delimiter") }
            i += 1
            skipSpace()
            obj[key] = try value(depth: depth + 1)
            skipSpace()
            guard i < bytes.count else { throw fail("Expecting ',' delimiter") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
            throw fail("Expecting ',' delimiter")
        }
    }
}
