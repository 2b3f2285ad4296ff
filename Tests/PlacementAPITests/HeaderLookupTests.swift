import HTTPTypes
import Testing
@testable import PlacementAPI

/// `HTTPFields.value(_:)` answers as HTTPTypes' subscript does: nil when
/// absent, the value, or every value of that name joined (`; ` for cookies).
@Suite struct HeaderLookupTests {
    @Test func valueIsTheSubscript() {
        let names: [HTTPField.Name] = [.contentType, .accept, .cookie, Header.authToken, Header.roles, HTTPField.Name("X-Other")!]
        let values = ["a", "b, c", "", "admin", "x;y"]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var fields = HTTPFields()
            for _ in 0..<Int.random(in: 0...8, using: &rng) {
                fields.append(HTTPField(name: names.randomElement(using: &rng)!, value: values.randomElement(using: &rng)!))
            }
            for name in names { #expect(fields.value(name) == fields[name], "\(fields) \(name)") }
        }
    }
}
