/// The anchored patterns Placement's schemas use most (`^[A-Z0-9_]+$`,
/// `^[0-9a-fA-F-]{36}$`, `^CUSTOM_[A-Z0-9_]+$`, `^[1-9][0-9]*$`), matched
/// without NSRegularExpression, which bridges every string to NSString and
/// allocated thousands of times per PUT body. A pattern is simple when it is
/// `^`, then literal characters and bracket classes (ranges and single
/// ASCII characters), each optionally followed by `+`, `*` or `{n}`, then
/// `$`. Python's `$` also matches before a final newline; so does this.
/// Anything else is left to the regular expression engine.
struct SimplePattern {
    private struct Atom {
        var ranges: [ClosedRange<UInt32>]
        var min: Int
        var max: Int  // Int.max: unbounded
        func admits(_ c: UInt32) -> Bool { ranges.contains { $0.contains(c) } }
    }

    private let atoms: [Atom]

    init?(_ pattern: String) {
        let p = Array(pattern.unicodeScalars)
        guard p.count >= 2, p.first == "^", p.last == "$" else { return nil }
        var atoms: [Atom] = []
        var i = 1
        let end = p.count - 1
        while i < end {
            var ranges: [ClosedRange<UInt32>] = []
            let c = p[i]
            if c == "[" {
                i += 1
                guard i < end, p[i] != "^", p[i] != "]" else { return nil }
                while i < end, p[i] != "]" {
                    let lo = p[i]
                    guard lo.isASCII, lo != "\\", lo != "[" else { return nil }
                    if i + 2 < end, p[i + 1] == "-", p[i + 2] != "]" {
                        let hi = p[i + 2]
                        guard hi.isASCII, hi != "\\", lo.value <= hi.value else { return nil }
                        ranges.append(lo.value...hi.value)
                        i += 3
                    } else {
                        ranges.append(lo.value...lo.value)
                        i += 1
                    }
                }
                guard i < end else { return nil }
                i += 1  // ]
            } else {
                guard c.isASCII, c.properties.isAlphabetic || c.properties.numericType != nil || c == "_" || c == "-" else { return nil }
                ranges = [c.value...c.value]
                i += 1
            }
            var atom = Atom(ranges: ranges, min: 1, max: 1)
            if i < end {
                switch p[i] {
                case "+": atom.max = .max; i += 1
                case "*": atom.min = 0; atom.max = .max; i += 1
                case "{":
                    var j = i + 1, n = 0
                    while j < end, let d = p[j].properties.numericType != nil ? Int(String(p[j])) : nil { n = n * 10 + d; j += 1 }
                    guard j < end, p[j] == "}", j > i + 1 else { return nil }
                    atom.min = n; atom.max = n
                    i = j + 1
                case "?", "(", ")", "|", ".", "\\": return nil
                default: break
                }
            }
            atoms.append(atom)
        }
        self.atoms = atoms
    }

    /// Python's `re.search` of the pattern in `s`.
    func matches(_ s: String) -> Bool {
        var s = s
        // An ASCII string's bytes are its scalars: matched in place, no array.
        if let ascii = s.withUTF8({ bytes in bytes.allSatisfy({ $0 < 0x80 }) ? matches(bytes) : nil }) { return ascii }
        return matches(s.unicodeScalars.map(\.value))
    }

    private func matches<C: RandomAccessCollection>(_ chars: C) -> Bool where C.Element: BinaryInteger, C.Index == Int {
        // `$`: the end, or just before a final newline.
        if match(chars, 0, 0, chars.count) { return true }
        return chars.last == 0x0A && match(chars, 0, 0, chars.count - 1)
    }

    private func match<C: RandomAccessCollection>(_ s: C, _ atom: Int, _ pos: Int, _ end: Int) -> Bool
    where C.Element: BinaryInteger, C.Index == Int {
        guard atom < atoms.count else { return pos == end }
        let a = atoms[atom]
        var n = 0
        while n < a.max, pos + n < end, a.admits(UInt32(s[s.startIndex + pos + n])) { n += 1 }
        guard n >= a.min else { return false }
        // Greedy, giving back one at a time (what a backtracking engine tries).
        while n >= a.min {
            if match(s, atom + 1, pos + n, end) { return true }
            n -= 1
        }
        return false
    }
}
