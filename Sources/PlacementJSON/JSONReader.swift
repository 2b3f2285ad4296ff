/// A pull reader over JSON bytes for documents of a known shape (the event
/// log), without building a `JSON` tree: the caller asks for the value it
/// expects next. Wrong shapes, bad escapes and truncation are errors.
public struct JSONReader {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let bytes: UnsafeRawBufferPointer
    private var i = 0

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private func fail(_ what: String) -> Failure { Failure(description: "\(what) at byte \(i)") }

    private mutating func skipSpace() {
        while i < bytes.count {
            let b = bytes[i]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            i += 1
        }
    }

    private mutating func expect(_ c: UInt8) throws(Failure) {
        skipSpace()
        guard i < bytes.count, bytes[i] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
        i += 1
    }

    private mutating func peek() throws(Failure) -> UInt8 {
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end") }
        return bytes[i]
    }

    /// Calls `body` with each key of the object that comes next; `body` must
    /// read (or `skip`) the key's value.
    public mutating func object(_ body: (inout JSONReader, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        if try peek() == UInt8(ascii: "}") { i += 1; return }
        while true {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            try body(&self, key)
            let b = try peek()
            i += 1
            if b == UInt8(ascii: "}") { return }
            guard b == UInt8(ascii: ",") else { i -= 1; throw fail("expected ',' or '}'") }
        }
    }

    /// Calls `body` once per element of the array that comes next.
    public mutating func array(_ body: (inout JSONReader) throws -> Void) throws {
        try expect(UInt8(ascii: "["))
        if try peek() == UInt8(ascii: "]") { i += 1; return }
        while true {
            try body(&self)
            let b = try peek()
            i += 1
            if b == UInt8(ascii: "]") { return }
            guard b == UInt8(ascii: ",") else { i -= 1; throw fail("expected ',' or ']'") }
        }
    }

    /// Consumes a `null` if one comes next.
    public mutating func null() throws(Failure) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        guard i + 4 <= bytes.count, bytes[i + 1] == UInt8(ascii: "u"), bytes[i + 2] == UInt8(ascii: "l"),
              bytes[i + 3] == UInt8(ascii: "l") else { throw fail("bad literal") }
        i += 4
        return true
    }

    public mutating func bool() throws(Failure) -> Bool {
        let b = try peek()
        if b == UInt8(ascii: "t"), i + 4 <= bytes.count, bytes[i + 3] == UInt8(ascii: "e") { i += 4; return true }
        if b == UInt8(ascii: "f"), i + 5 <= bytes.count, bytes[i + 4] == UInt8(ascii: "e") { i += 5; return false }
        throw fail("expected a boolean")
    }

    public mutating func int() throws(Failure) -> Int64 {
        _ = try peek()
        var negative = false
        if bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        let start = i
        var v: Int64 = 0
        while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
            let d = Int64(bytes[i] - 0x30)
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            if o1 || o2 { throw fail("integer out of range") }
            v = s
            i += 1
        }
        guard i > start else { throw fail("expected an integer") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            throw fail("expected an integer")
        }
        return v
    }

    public mutating func double() throws(Failure) -> Double {
        _ = try peek()
        let start = i
        while i < bytes.count {
            let b = bytes[i]
            guard (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
                || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") else { break }
            i += 1
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        guard let d = Double(text) else { throw fail("expected a number") }
        return d
    }

    public mutating func string() throws(Failure) -> String {
        try expect(UInt8(ascii: "\""))
        let start = i
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") { return try escapedString(from: start) }
            i += 1
        }
        throw fail("unterminated string")
    }

    private mutating func escapedString(from start: Int) throws(Failure) -> String {
        var out = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if b == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            guard b == UInt8(ascii: "\\") else { out.append(b); continue }
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            if let simple = JSONEscapes.simple(e) {
                out.append(simple)
            } else if e == UInt8(ascii: "u"), let scalar = JSONEscapes.unicode(bytes, &i) {
                out.append(contentsOf: String(Character(scalar)).utf8)
            } else {
                throw fail("bad escape")
            }
        }
        throw fail("unterminated string")
    }

    /// Skips the value that comes next, whatever it is.
    public mutating func skip() throws {
        switch try peek() {
        case UInt8(ascii: "{"): try object { r, _ in try r.skip() }
        case UInt8(ascii: "["): try array { r in try r.skip() }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try bool()
        case UInt8(ascii: "n"): _ = try null()
        default: _ = try double()
        }
    }

    /// The bytes of the value that comes next, skipped (to read it later,
    /// once a field after it says how).
    public mutating func rawValue() throws -> UnsafeRawBufferPointer {
        skipSpace()
        let start = i
        try skip()
        return UnsafeRawBufferPointer(rebasing: bytes[start..<i])
    }

    /// Fails unless only whitespace is left.
    public mutating func end() throws(Failure) {
        skipSpace()
        guard i == bytes.count else { throw fail("extra data") }
    }
}
