/// A Placement microversion, `1.N`.
public struct Microversion: Comparable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let min = Microversion(1, 0)
    public static let max = Microversion(1, 39)

    public var description: String { "\(major).\(minor)" }

    public static func < (a: Microversion, b: Microversion) -> Bool {
        (a.major, a.minor) < (b.major, b.minor)
    }

    /// Whether this request's version is at least 1.`minor`.
    public func atLeast(_ minor: Int) -> Bool { self >= Microversion(1, minor) }

    /// Negotiates the version of a request from its `OpenStack-API-Version`
    /// headers, as Placement's microversion middleware does: absent means the
    /// minimum, `latest` the maximum; a malformed value is 400 and one out of
    /// range 406.
    static func negotiate(_ headerValues: [String]) throws -> Microversion {
        // What clients send on nearly every request: one `placement 1.N`.
        if headerValues.count == 1, let v = plain(headerValues[0]) { return v }
        // The header may list several services: "placement 1.2, compute 2.1".
        var wanted: String?
        for value in headerValues {
            for part in value.split(separator: ",") {
                let words = part.split(separator: " ", omittingEmptySubsequences: true)
                if words.count >= 1, words[0].asciiLowercased == "placement" {
                    wanted = words.count > 1 ? words[1...].joined(separator: " ") : ""
                }
            }
        }
        guard let wanted else { return .min }
        if wanted.asciiLowercased == "latest" { return .max }
        let parts = wanted.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw PlacementError(400, "Invalid microversion: invalid version string: \(wanted); not enough values to unpack (expected 2, got \(parts.count))")
        }
        // Python's int(): any number of digits (a sign allowed); too large for Int is simply out of range.
        func pyInt(_ s: Substring) -> Int? {
            let t = s.trimmed
            let digits = t.hasPrefix("-") || t.hasPrefix("+") ? t.dropFirst() : Substring(t)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(t) ?? (t.hasPrefix("-") ? Int.min : Int.max)
        }
        guard let major = pyInt(parts[0]) else {
            throw PlacementError(400, "Invalid microversion: invalid version string: \(wanted); invalid literal for int() with base 10: '\(parts[0])'")
        }
        guard let minor = pyInt(parts[1]) else {
            throw PlacementError(400, "Invalid microversion: invalid version string: \(wanted); invalid literal for int() with base 10: '\(parts[1])'")
        }
        let v = Microversion(major, minor)
        guard v.isServed else {
            throw PlacementError(406, "Invalid microversion: Unacceptable version header: \(wanted)")
        }
        return v
    }

    var isServed: Bool { self >= .min && self <= .max }

    /// `placement 1.N` exactly (N of one to three digits, served), else nil
    /// and the general negotiation decides.
    private static func plain(_ value: String) -> Microversion? {
        var u = value.utf8[...]
        let prefix = "placement 1.".utf8
        guard u.count > prefix.count, u.count <= prefix.count + 3, u.starts(with: prefix) else { return nil }
        u = u.dropFirst(prefix.count)
        var minor = 0
        for b in u {
            guard b >= 0x30, b <= 0x39 else { return nil }
            minor = minor * 10 + Int(b - 0x30)
        }
        let v = Microversion(1, minor)
        return v.isServed ? v : nil
    }
}
