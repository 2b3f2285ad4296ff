import Foundation
import Testing
@testable import PlacementJSON

/// Messages are compared with what Placement 16.0.0 (jsonschema 4.26) says
/// for the same body; clients and the gabbi files match on these words.
@Suite struct SchemaTests {
    let rp = try! Schema(text: #"{"type": "object", "properties": {"name": {"type": "string", "maxLength": 200}, "uuid": {"type": "string", "format": "uuid"}}, "required": ["name"], "additionalProperties": false}"#)

    @Test func typeErrorReadsLikePlacement() throws {
        let e = try #require(rp.validate(try JSONParser.parse(#"{"name": 5}"#)))
        #expect(e.description == "5 is not of type 'string'\n\nFailed validating 'type' in schema['properties']['name']:\n    {'type': 'string', 'maxLength': 200}\n\nOn instance['name']:\n    5")
    }

    @Test func requiredAndAdditional() throws {
        #expect(rp.validate(try JSONParser.parse("{}"))?.message == "'name' is a required property")
        #expect(rp.validate(try JSONParser.parse(#"{"name": "a", "x": 1, "y": 2}"#))?.message
            == "Additional properties are not allowed ('x', 'y' were unexpected)")
        #expect(rp.validate(try JSONParser.parse(#"{"name": "a", "uuid": "nope"}"#))?.message == "'nope' is not a 'uuid'")
        #expect(rp.validate(try JSONParser.parse(#"{"name": "a", "uuid": "A6F3A6F3-0000-4000-8000-000000000000"}"#)) == nil)
    }

    @Test func boundsIncludingHugeIntegers() throws {
        let s = try Schema(text: #"{"type": "integer", "minimum": 1, "maximum": 2147483647}"#)
        #expect(s.validate(.int(0))?.message == "0 is less than the minimum of 1")
        #expect(s.validate(.bigInt("99999999999999999999"))?.message == "99999999999999999999 is greater than the maximum of 2147483647")
        #expect(s.validate(.double(1.5))?.message == "1.5 is not of type 'integer'")
        #expect(s.validate(.double(2.0)) == nil)  // draft 2020-12: 2.0 is an integer
    }

    @Test func patternPropertiesWithoutMatch() throws {
        let s = try Schema(text: #"{"type": "object", "patternProperties": {"^[A-Z0-9_]+$": {"type": "integer"}}, "additionalProperties": false, "minProperties": 1}"#)
        #expect(s.validate(try JSONParser.parse(#"{"vcpu": 1}"#))?.message == "'vcpu' does not match any of the regexes: '^[A-Z0-9_]+$'")
        #expect(s.validate(try JSONParser.parse("{}"))?.message == "{} should be non-empty")
    }

    @Test func shallowestErrorWins() throws {
        let s = try Schema(text: #"{"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "integer"}}}}, "required": ["c"]}"#)
        #expect(s.validate(try JSONParser.parse(#"{"a": {"b": "x"}}"#))?.message == "'c' is a required property")
    }

    @Test func anyOfReportsTheBranchError() throws {
        let s = try Schema(text: #"{"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]}"#)
        #expect(s.validate(.int(3))?.message == "3 is not valid under any of the given schemas")
        #expect(s.validate(.null) == nil)
    }
}

/// The patterns matched without NSRegularExpression answer as the regular
/// expression engine does, and as Python's `re.search` where the two differ
/// (`$` before a final newline only).
struct SimplePatternTests {
    static let patterns = ["^[0-9a-fA-F-]{36}$", "^[A-Z0-9_]+$", "^CUSTOM_[A-Z0-9_]+$", "^[1-9][0-9]*$", "^[A-Z]*A$", "^a{2}[b-d]*$"]

    @Test func agreesWithTheRegexEngine() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("AZaz09_-CUSTOM19fF.ü ")
        var samples = ["", "A", "CUSTOM_", "CUSTOM_X", "custom_x", "0", "10", "01", "aa", "aab", "aabe", "AAA", "BA", "B",
                       "c1f0b4b3-1c7c-4c1e-9e4a-123456789abc", "c1f0b4b3-1c7c-4c1e-9e4a-123456789ab", "ÜBER", "A B"]
        for _ in 0..<2000 {
            samples.append(String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
        }
        for p in Self.patterns {
            let simple = try #require(SimplePattern(p), "\(p) should be simple")
            let regex = try NSRegularExpression(pattern: p)
            for s in samples {
                let expected = regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
                #expect(simple.matches(s) == expected, "\(p) on \(s.debugDescription)")
            }
        }
    }

    @Test func dollarIsPythons() throws {
        let p = try #require(SimplePattern("^[A-Z0-9_]+$"))
        #expect(p.matches("VCPU\n"))
        #expect(!p.matches("VCPU\n\n"))
        #expect(!p.matches("\nVCPU"))
        #expect(!p.matches("VCPU\r"))
    }

    @Test func othersAreLeftToTheEngine() {
        for p in ["^[A-Z0-9_]+$|^all|^unknown$", "^resources([1-9][0-9]*)?$", "[A-Z]+", "^a.b$", "^[^a]$", "^\\d+$", "^a?$"] {
            #expect(SimplePattern(p) == nil, "\(p)")
        }
    }
}
