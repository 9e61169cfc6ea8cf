import TOML
import Testing

@Suite struct TOMLParserTests {
    @Test func initdataDocument() throws {
        let text = """
            version = "0.1.0"
            algorithm = "sha384" # trailing comment

            [data]
            "aa.toml" = '''
            [token_configs.kbs]
            url = "http://kbs"
            '''
            "policy.rego" = \"\"\"
            package agent_policy\\n\\
                default x := \\"y\\"\"\"\"

            """
        let table = try TOMLParser.parse(text)
        #expect(table["version"] == .string("0.1.0"))
        #expect(table["algorithm"] == .string("sha384"))
        let data = try #require(table["data"]?.table)
        #expect(data["aa.toml"] == .string("[token_configs.kbs]\nurl = \"http://kbs\"\n"))
        #expect(data["policy.rego"] == .string("package agent_policy\ndefault x := \"y\""))
    }

    @Test func tablesDottedKeysAndValues() throws {
        let table = try TOMLParser.parse(
            """
            a.b.c = 1
            [token_configs.kbs]
            url = 'http://x'   
            list = [1, 2,
              3, ] # comment
            inline = { x = true, y.z = 0x10 }
            big = 1_000
            pi = 3.5
            [[items]]
            n = 1
            [[items]]
            n = 2
            """)
        #expect(table["a"]?.table?["b"]?.table?["c"] == .integer(1))
        let kbs = try #require(table["token_configs"]?.table?["kbs"]?.table)
        #expect(kbs["url"] == .string("http://x"))
        #expect(kbs["list"] == .array([.integer(1), .integer(2), .integer(3)]))
        #expect(kbs["inline"] == .table(["x": .boolean(true), "y": .table(["z": .integer(16)])]))
        #expect(kbs["big"] == .integer(1000))
        #expect(kbs["pi"] == .float(3.5))
        #expect(table["items"] == .array([.table(["n": .integer(1)]), .table(["n": .integer(2)])]))
    }

    @Test func multilineStringsKeepQuotesBeforeTheEnd() throws {
        let table = try TOMLParser.parse("a = '''x''''' \nb = \"\"\"y\"\"\"\"\"\n")
        #expect(table["a"] == .string("x''"))
        #expect(table["b"] == .string("y\"\""))
    }

    @Test(arguments: [
        ("a = 1\na = 2", 2, "defined twice"),
        ("[t]\n[t]", 2, "defined twice"),
        ("a = \"open", 1, "unterminated"),
        ("a = 1 b = 2", 1, "end of the line"),
        ("a = bare", 1, "not a value"),
        ("a = 1\n[a]", 2, "not a table"),
        ("x = 'one\ntwo'", 1, "newline"),
        ("= 1", 1, "expected a key"),
        ("a = \"\\q\"", 1, "invalid escape"),
        ("d = 1979-05-27", 1, "dates are not supported"),
        // Nesting is bounded: the parser recurses (issue 9: 200,000 '[' overflowed the stack).
        (
            "a=" + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000), 1,
            "nested deeper than 64"
        ),
        (
            "a=" + String(repeating: "{b=", count: 65) + "1" + String(repeating: "}", count: 65), 1,
            "nested deeper than 64"
        ),
        (String(repeating: "k.", count: 100_000) + "k = 1", 1, "more than 64 parts"),
        ("[" + String(repeating: "k.", count: 100) + "k]", 1, "more than 64 parts"),
        ("a = \"\\u+abc\"", 1, "invalid unicode escape"),
    ])
    func errorsSayWhereAndWhy(_ text: String, _ line: Int, _ reason: String) {
        do {
            _ = try TOMLParser.parse(text)
            Issue.record("parsed \(text.debugDescription)")
        } catch {
            #expect(error.line == line)
            #expect(error.reason.contains(reason), "\(error)")
        }
    }

    @Test func nestingUpToTheLimitParses() throws {
        let text = "a=" + String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(try TOMLParser.parse(text)["a"] != nil)
    }
}
