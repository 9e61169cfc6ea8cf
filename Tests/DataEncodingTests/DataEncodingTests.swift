import DataEncoding
import Testing

@Suite struct HexTests {
    @Test func roundTrip() {
        #expect(Hex.encode([0x00, 0xab, 0xff, 0x10]) == "00abff10")
        #expect(Hex.decode("00ABff10") == [0x00, 0xab, 0xff, 0x10])
        #expect(Hex.decode("0x0102") == [1, 2])
        #expect(Hex.decode("") == [])
    }

    @Test(arguments: ["abc", "zz", "0g", "1 2"])
    func rejectsMalformed(_ text: String) {
        #expect(Hex.decode(text) == nil)
    }
}

@Suite struct Base64Tests {
    // RFC 4648, section 10.
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ])
    func rfcVectors(_ plain: String, _ encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func allByteValuesRoundTrip() {
        let bytes = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
    }

    @Test(arguments: ["Zg=", "Z", "Zm9v!", "Zg==Zg==", "===="])
    func rejectsMalformed(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }
}

@Suite struct JSONTests {
    @Test func serializesInOrderWithEscapes() {
        let value = JSON.object([
            ("svn", .string("1")), ("a\"b", .array([.number(3), .bool(true), .null])),
            ("ctl", .string("line\n\u{01}")),
        ])
        #expect(value.serialized() == #"{"svn":"1","a\"b":[3,true,null],"ctl":"line\n\u0001"}"#)
        // Escapes between multi-byte characters, at both ends, and none at all.
        #expect(JSON.string("\"é\u{1F}ü\\x\t").serialized() == #""\"é\u001fü\\x\t""#)
        #expect(JSON.string("plain ascii").serialized() == #""plain ascii""#)
    }

    @Test func prettyPrintsTwoSpacesAMember() {
        let value = JSON.object([
            ("a", .array([.number(1), .object([("b", .null)])])), ("c", .object([])), ("d", .array([])),
        ])
        #expect(
            value.prettyPrinted() == """
                {
                  "a": [
                    1,
                    {
                      "b": null
                    }
                  ],
                  "c": {},
                  "d": []
                }
                """)
    }

    @Test func parsesWhatItWrites() throws {
        let value = JSON.object([("k", .array([.number(1.5), .string("é\u{1F600}"), .object([])]))])
        #expect(try JSON(parsing: value.serialized()) == value)
        #expect(try JSON(parsing: value.prettyPrinted()) == value)
    }

    // 2^64-1 and 2^53+1 are not Doubles: written and read back to the digit.
    @Test func unsignedIntegersStayExact() throws {
        let value = JSON.array([.unsigned(UInt64.max), .unsigned(9_007_199_254_740_993), .unsigned(0)])
        #expect(value.serialized() == "[18446744073709551615,9007199254740993,0]")
        #expect(value.canonicalized() == "[18446744073709551615,9007199254740993,0]")
        #expect(try JSON(parsing: "[18446744073709551615, 9007199254740993, 0]") == value)
        #expect(
            try JSON(parsing: "[-1, 1.5, 1e3, 18446744073709551616]")
                == .array([.number(-1), .number(1.5), .number(1000), .number(18446744073709551616)]))
    }

    @Test func parsesEscapesAndSurrogates() throws {
        let value = try JSON(parsing: #" {"a": "\u00e9\ud83d\ude00\/\t"} "#)
        #expect(value["a"]?.string == "é😀/\t")
    }

    // Unpaired surrogates and signed \u digits: once an arithmetic overflow (issue 9).
    @Test(arguments: [#""\ud800\u0041""#, #""\ud800""#, #""\ud800x""#, #""\udc00""#, #""\u+abc""#, #""\ud800\n""#])
    func rejectsBrokenUnicodeEscapes(_ text: String) {
        #expect(throws: JSONError.self) { try JSON(parsing: text) }
    }

    @Test(arguments: [
        "", "{", "[1,]x", "{\"a\" 1}", "tru", "\"\u{01}\"", "[1] 2",
        String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONError.self) { try JSON(parsing: text) }
    }
}

@Suite struct CanonicalJSONTests {
    // RFC 8785 section 3.2.2 sorting and escaping, and the shape of the KBS runtime data.
    @Test func sortsByUTF16AndEscapesMinimally() {
        let value = JSON.object([
            ("\u{20ac}", .string("Euro Sign")), ("\r", .string("Carriage Return")), ("\u{fb33}", .string("Hebrew")),
            ("1", .string("One")), ("\u{1f600}", .string("Emoji")), ("\u{80}", .string("Control")),
            ("\u{f6}", .string("Latin")),
        ])
        #expect(
            value.canonicalized()
                == "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"\u{f6}\":\"Latin\",\"\u{20ac}\":\"Euro Sign\",\"\u{1f600}\":\"Emoji\",\"\u{fb33}\":\"Hebrew\"}"
        )
        #expect(JSON.string("\u{08}\u{0C}\u{01}\"\\/").canonicalized() == "\"\\b\\f\\u0001\\\"\\\\/\"")
        #expect(
            JSON.object([("b", .array([.number(1), .null, .bool(false)])), ("a", .object([]))]).canonicalized()
                == #"{"a":{},"b":[1,null,false]}"#)
    }

    @Test func base64URL() {
        #expect(Base64.urlEncode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(Base64.urlEncode([0x66]) == "Zg")
        #expect(Base64.urlEncode([0x66], padded: true) == "Zg==", "serde_with's form")
        #expect(Base64.urlDecode("-_-_") == [0xFB, 0xFF, 0xBF])
        #expect(Base64.urlDecode("Zg") == [0x66])
    }
}
