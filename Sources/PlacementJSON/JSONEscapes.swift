/// What the two readers (`JSONParser`, `JSONReader`) share of JSON strings.
enum JSONEscapes {
    /// The byte a one-letter escape (`\n`, `\"`, `\/`, …) stands for.
    static func simple(_ e: UInt8) -> UInt8? {
        switch e {
        case UInt8(ascii: "\""): 0x22
        case UInt8(ascii: "\\"): 0x5C
        case UInt8(ascii: "/"): 0x2F
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
    }

    /// Four hex digits at `i` (advanced past them), or nil.
    static func hex4<C: RandomAccessCollection<UInt8>>(_ bytes: C, _ i: inout C.Index) -> UInt32? {
        guard bytes.distance(from: i, to: bytes.endIndex) >= 4 else { return nil }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: return nil
            }
            v = v * 16 + d
            bytes.formIndex(after: &i)
        }
        return v
    }

    /// The scalar of a `\uXXXX` escape whose digits start at `i`, joining a
    /// surrogate pair when a low surrogate escape follows; a lone surrogate
    /// (which UTF-8 cannot hold) becomes U+FFFD. Nil for bad digits.
    static func unicode<C: RandomAccessCollection<UInt8>>(_ bytes: C, _ i: inout C.Index) -> Unicode.Scalar? {
        guard var code = hex4(bytes, &i) else { return nil }
        if code >= 0xD800 && code < 0xDC00, bytes.distance(from: i, to: bytes.endIndex) >= 2, bytes[i] == 0x5C,
           bytes[bytes.index(after: i)] == UInt8(ascii: "u") {
            var j = bytes.index(i, offsetBy: 2)
            if let low = hex4(bytes, &j), low >= 0xDC00 && low < 0xE000 {
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                i = j
            }
        }
        return Unicode.Scalar(code) ?? "\u{FFFD}"
    }
}
