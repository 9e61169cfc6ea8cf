import AttestationFormats
import DataEncoding
import LocalFiles
import TestSupport
import Testing

enum Fixtures {
    static let root = PackagePaths.fixtures

    static func text(_ name: String) throws -> String { try LocalFile.readText(root + "/" + name) }
}

@Suite struct InitDataDocumentTests {
    // Digests of Tests/Fixtures/initdata/initdata.toml computed with Python's hashlib.
    static let sha384 =
        "dd231ad281fc696205353702aee9453d59249da6bb8ef154e8ad6030da8b947bb55b44889eb8e965df46a682513060dc"

    @Test func digestIsOverTheExactBytes() throws {
        let text = try Fixtures.text("initdata/initdata.toml")
        let document = try InitDataDocument(text: text)
        #expect(document.version == "0.1.0")
        #expect(document.algorithm == .sha384)
        #expect(Hex.encode(document.digest) == Self.sha384)
        #expect(document.agentConfig?.contains("[token_configs.kbs]") == true)
        #expect(document.data.keys.sorted() == ["aa.toml", "cdh.toml", "policy.rego"])
        // One more space changes the digest.
        #expect(try InitDataDocument(text: text + " ").digest != document.digest)
    }

    @Test(arguments: [
        ("sha256", "4481ce1bca82149a686c018c400afd6c10671660db3da263b048a63006b58785"),
        (
            "sha512",
            "46dad73f4bbf3ca908e58ab32c27f2cdee87678df00b2c57f2974ff2e8d76e792ffc32f6d703f5cf37670ea4b9ceaab3c9d2d0569c27163660061c4116e39c4c"
        ),
    ])
    func algorithms(_ name: String, _ expectedOfFixture: String) throws {
        let algorithm = try #require(InitDataDocument.Algorithm(rawValue: name))
        #expect(Hex.encode(algorithm.digest(try Fixtures.text("initdata/initdata.toml").utf8)) == expectedOfFixture)
    }

    @Test(arguments: [
        ("algorithm = \"sha384\"\n[data]\n", "version"),
        ("version = \"0.1.0\"\n", "algorithm"),
        ("version = \"0.1.0\"\nalgorithm = \"md5\"\n", "md5"),
        ("version = \"0.1.0\"\nalgorithm = \"sha256\"\ndata = 3\n", "data"),
        ("version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"aa.toml\" = 1\n", "aa.toml"),
        ("version = 0.1.0\n", "not valid TOML"),
    ])
    func malformedDocumentsSayWhy(_ text: String, _ mention: String) {
        do {
            _ = try InitDataDocument(text: text)
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.rpcCode == .invalidArgument)
            #expect(error.description.contains(mention), "\(error)")
        }
    }
}
