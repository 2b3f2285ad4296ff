import Synchronization
import Foundation
import HTTPTypes
import Ledger

// Small string helpers on the request path. Foundation's versions (NSString
// bridging for trimming, percent decoding and date formatting) were a fifth
// of a GET's CPU in profiles.

extension StringProtocol {
    /// Without leading and trailing ASCII whitespace, as Python's `str.strip()` treats a header or query value.
    var trimmed: String {
        func space(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
        let u = Array(utf8)
        guard let f = u.first, let l = u.last else { return "" }
        if !space(f) && !space(l) { return String(self) }
        guard let first = u.firstIndex(where: { !space($0) }) else { return "" }
        let last = u.lastIndex(where: { !space($0) })!
        return String(decoding: u[first...last], as: UTF8.self)
    }

    /// Equal but for the case of ASCII letters, compared byte by byte
    /// without building either lowercased copy.
    func equalsIgnoringASCIICase<Other: StringProtocol>(_ other: Other) -> Bool {
        func lower(_ b: UInt8) -> UInt8 { (0x41...0x5A).contains(b) ? b + 0x20 : b }
        return utf8.elementsEqual(other.utf8) { lower($0) == lower($1) }
    }

    /// ASCII lowercase (header tokens, `true`/`false`, `latest`).
    var asciiLowercased: String {
        String(decoding: utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    /// Percent-decoded as Python's `unquote` (and `unquote_plus` with
    /// `plusAsSpace`): malformed escapes stay as they are, invalid UTF-8 becomes U+FFFD.
    func percentDecoded(plusAsSpace: Bool = false) -> String {
        // Nearly every path segment and query value has nothing to decode:
        // look before copying the bytes into an array.
        guard utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) else {
            return String(self)
        }
        let u = Array(utf8)
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: b - 0x30
            case 0x41...0x46: b - 0x41 + 10
            case 0x61...0x66: b - 0x61 + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(u.count)
        var i = 0
        while i < u.count {
            let b = u[i]
            if b == UInt8(ascii: "%"), i + 2 < u.count, let h = hex(u[i + 1]), let l = hex(u[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(plusAsSpace && b == UInt8(ascii: "+") ? 0x20 : b)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

enum RequestID {
    /// `req-` and a random (version 4) UUID, as Placement's request ids read.
    static func make() -> String { "req-" + uuid4() }

    /// 128 bits from the system's generator once per process; after that a
    /// counter through SplitMix64's finalizer (a bijection, so no two ids of
    /// one process are equal). Asking the system for every id cost a
    /// getrandom call per byte, a sixth of a GET's CPU.
    private static let seed: (UInt64, UInt64) = {
        var g = SystemRandomNumberGenerator()
        return (g.next(), g.next())
    }()
    private static let counter = Atomic<UInt64>(0)

    private static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func uuid4() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let hi = mix(n &+ seed.0), lo = mix(n &* 0x9E37_79B9_7F4A_7C15 ^ seed.1)
        var bytes = (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? hi : lo) >> (8 * UInt64(i % 8))) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Header names used on every request, made once.
enum Header {
    static let requestID = HTTPField.Name("x-openstack-request-id")!
    static let apiVersion = HTTPField.Name("openstack-api-version")!
    static let ledgerSequence = HTTPField.Name("X-Ledger-Sequence")!
    static let asOf = HTTPField.Name("X-Ledger-As-Of")!
    static let authToken = HTTPField.Name("X-Auth-Token")!
    static let roles = HTTPField.Name("X-Roles")!
    static let systemScope = HTTPField.Name("OpenStack-System-Scope")!
    static let identityStatus = HTTPField.Name("X-Identity-Status")!
    static let userID = HTTPField.Name("X-User-Id")!
    static let user = HTTPField.Name("X-User")!
    static let projectID = HTTPField.Name("X-Project-Id")!
    static let tenantID = HTTPField.Name("X-Tenant-Id")!
    static let domainID = HTTPField.Name("X-Domain-Id")!
}

/// RFC 7231 date (`Sun, 29 Nov 2026 18:00:00 GMT`) of a ledger timestamp.
func httpDate(_ micros: Micros) -> String {
    var t = time_t(micros / 1_000_000)
    var tm = tm()
    gmtime_r(&t, &tm)
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return "\(days[Int(tm.tm_wday)]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(tm.tm_year + 1900) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
}

extension HTTPFields {
    /// `self[name]` (the values of every field of that name, joined), found
    /// in one pass over the request's few fields. The subscript builds an
    /// array of values and joins it on every lookup, and a request's prelude
    /// makes about fifteen.
    func value(_ name: HTTPField.Name) -> String? {
        var first: String?
        var more: [String] = []
        for field in self where field.name == name {
            if first == nil { first = field.value } else { more.append(field.value) }
        }
        guard let first, !more.isEmpty else { return first }
        return ([first] + more).joined(separator: name == .cookie ? "; " : ", ")
    }
}
