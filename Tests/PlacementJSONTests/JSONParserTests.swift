import Testing
@testable import PlacementJSON

@Suite struct JSONParserTests {
    @Test func keepsIntegersFloatsAndOrder() throws {
        let v = try JSONParser.parse(#"{"b": 1, "a": 1.0, "c": [true, null, "x"]}"#)
        #expect(v.objectValue?.keys == ["b", "a", "c"])
        #expect(v["b"] == .int(1))
        #expect(v["a"] == .double(1.0))
        #expect(v["c"] == .array([.bool(true), .null, .string("x")]))
    }

    @Test func integersPast64BitsStayIntegers() throws {
        let v = try JSONParser.parse(#"{"total": 99999999999999999999999}"#)
        #expect(v["total"] == .bigInt("99999999999999999999999"))
    }

    @Test func repeatedKeyKeepsFirstPlaceAndLastValue() throws {
        let v = try JSONParser.parse(#"{"a": 1, "b": 2, "a": 3}"#)
        #expect(v.objectValue?.keys == ["a", "b"])
        #expect(v["a"] == .int(3))
    }

    @Test func malformedInputIsWordedLikePython() {
        #expect(throws: JSONParseError(message: "Expecting value: line 1 column 9 (char 8)")) { try JSONParser.parse(#"{"name":"#) }
        #expect(throws: JSONParseError(message: "Extra data: line 1 column 4 (char 3)")) { try JSONParser.parse("{} x") }
        #expect(throws: (any Error).self) { try JSONParser.parse("{'a': 1}") }
    }

    @Test func invalidUTF8AndDeepNestingAreErrorsNotCrashes() {
        #expect(throws: (any Error).self) { try JSONParser.parse([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]) }
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: (any Error).self) { try JSONParser.parse(deep) }
    }

    @Test func unicodeEscapesAndSurrogates() throws {
        #expect(try JSONParser.parse(#""\u00e9\ud83d\ude00""#) == .string("é😀"))
        #expect(JSONWriter.string(.string("é")) == #""\u00e9""#)
    }

    /// Strings with and without characters to escape: what Python's
    /// `json.dumps` writes (ASCII only), and parsed back to the same string.
    @Test func stringsAreEscapedAsPythonDoes() throws {
        let cases: [(String, String)] = [
            ("VCPU", #""VCPU""#), ("", #""""#), ("a\"b", #""a\"b""#), ("a\\b", #""a\\b""#),
            ("tab\there", #""tab\there""#), ("nl\n", #""nl\n""#), ("\u{01}", #""\u0001""#), ("\u{7F}", #""\u007f""#),
            ("é", #""\u00e9""#), ("😀", #""\ud83d\ude00""#),
            ("c1f0b4b3-1c7c-4c1e-9e4a-123456789abc", #""c1f0b4b3-1c7c-4c1e-9e4a-123456789abc""#),
        ]
        for (text, expected) in cases {
            #expect(JSONWriter.string(.string(text)) == expected, "\(text.debugDescription)")
            #expect(try JSONParser.parse(JSONWriter.string(.string(text))) == .string(text))
        }
        var rng = XorShift(state: 7)
        let alphabet = Array("aZ09 -_\"\\\n\t\u{01}\u{7F}é😀")
        for _ in 0..<2_000 {
            let text = String((0..<Int(rng.next() % 12)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            let written = JSONWriter.string(.string(text))
            #expect(written.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }, "\(text.debugDescription)")
            #expect(try JSONParser.parse(written) == .string(text), "\(text.debugDescription)")
        }
    }

    @Test func writesLikePythonJSONDumps() {
        let v: JSON = ["a": 1, "b": [1.0, "x"], "c": nil]
        #expect(JSONWriter.string(v) == #"{"a": 1, "b": [1.0, "x"], "c": null}"#)
    }
}
