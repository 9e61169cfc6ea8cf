import AttestationFormats
import DataEncoding
import LocalFiles
import Logging
import Platform
import Testing

@testable import AgentCore

enum Fixtures {
    static let root: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(2)
        return parts.joined(separator: "/") + "/Fixtures"
    }()

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

@Suite struct AgentConfigTests {
    @Test func upstreamSchemaInTOML() throws {
        let config = try AgentConfig(
            text: """
                [token_configs.kbs]
                url = "https://kbs.example:8080"
                cert = "-----BEGIN CERTIFICATE-----"
                [token_configs.coco_as]
                url = "http://as:8000"
                [eventlog_config]
                init_pcr = 16
                enable_eventlog = true
                [log]
                level = "debug"
                [unknown_section]
                ignored = 1
                """, format: .toml, origin: "test")
        #expect(config.kbs == .init(url: "https://kbs.example:8080", cert: "-----BEGIN CERTIFICATE-----"))
        #expect(config.cocoAS == .init(url: "http://as:8000"))
        #expect(config.eventLog == .init(initPCR: 16, enabled: true))
        #expect(config.logLevel == "debug")
    }

    @Test func jsonAndDefaults() throws {
        let config = try AgentConfig(
            text: #"{"token_configs":{"kbs":{"url":"http://k"}},"eventlog_config":{"enable_eventlog":"true"}}"#,
            format: .json, origin: "test")
        #expect(config.kbs?.url == "http://k")
        #expect(config.kbs?.cert == nil)
        #expect(config.eventLog == .init(initPCR: 17, enabled: true))
        #expect(config.logLevel == "info")
        #expect(try AgentConfig(text: "", format: .toml, origin: "t") == AgentConfig())
    }

    @Test(arguments: [
        ("[token_configs.kbs]\ncert = \"x\"\n", "token_configs.kbs.url is missing"),
        ("[token_configs.kbs]\nurl = \"kbs:8080\"\n", "http:// or https://"),
        // URLs the token client could not use are refused here, not at GetToken.
        ("[token_configs.kbs]\nurl = \"http://kbs:8a\"\n", "port 1-65535"),
        ("[token_configs.kbs]\nurl = \"https://kbs:70000\"\n", "port 1-65535"),
        ("[token_configs.kbs]\nurl = \"http://user:pw@kbs\"\n", "no user name"),
        ("[token_configs.coco_as]\nurl = \"http://[fd00::1\"\n", "token_configs.coco_as.url must be"),
        ("[token_configs.kbs]\nurl = \"https:///path\"\n", "with a host"),
        ("[token_configs.kbs]\nurl = 8080\n", "token_configs.kbs.url must be a string, found a integer"),
        ("token_configs = 1\n", "token_configs must be a table"),
        ("[eventlog_config]\ninit_pcr = 99\n", "0...23"),
        ("[eventlog_config]\nenable_eventlog = \"yes\"\n", "must be a boolean"),
        ("[log\n", "not valid TOML"),
    ])
    func brokenConfigsSayWhatToFix(_ text: String, _ mention: String) {
        do {
            _ = try AgentConfig(text: text, format: .toml, origin: "config file /etc/aa.toml")
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.hasPrefix("config file /etc/aa.toml"), "\(error)")
            #expect(error.message.contains(mention), "\(error)")
        }
    }
}

/// `[log] level` and RUST_LOG take tracing filter strings, as upstream.
@Suite struct LogLevelFilterTests {
    @Test(arguments: [
        ("info,kbs_protocol=debug", Logger.Level.info), ("kbs_protocol=debug,info", .debug), ("WARN", .warning),
        ("attestation_agent=trace", .trace), ("off", .critical), ("error ", .error),
    ])
    func firstLevelWordCounts(_ filter: String, _ level: Logger.Level) {
        #expect(LogLevelFilter.level(filter) == level)
    }

    @Test func precedenceAndUnreadableText() throws {
        #expect(LogLevelFilter.resolve(flag: nil, environment: [:], config: nil) == (.info, nil))
        #expect(LogLevelFilter.resolve(flag: nil, environment: ["RUST_LOG": "debug"], config: "error").level == .debug)
        #expect(
            LogLevelFilter.resolve(flag: "trace", environment: ["RUST_LOG": "debug"], config: "error").level == .trace)
        let loud = LogLevelFilter.resolve(flag: nil, environment: [:], config: "loud")
        #expect(loud.level == .info)
        #expect(loud.unreadable?.contains("[log] level 'loud'") == true)
        // Accepted by the configuration, never a reason to refuse it.
        #expect(try AgentConfig(text: "[log]\nlevel = \"loud\"\n", format: .toml, origin: "t").logLevel == "loud")
    }
}

@Suite struct KbcParamsTests {
    @Test func environmentWinsOverTheKernelCommandLine() {
        #expect(
            KbcParams.find(
                environment: ["AA_KBC_PARAMS": "cc_kbc::http://env"], cmdline: "agent.aa_kbc_params=cc_kbc::http://cmd")
                == "cc_kbc::http://env")
        #expect(
            KbcParams.find(environment: [:], cmdline: "quiet agent.aa_kbc_params=cc_kbc::http://cmd ro\n")
                == "cc_kbc::http://cmd")
        #expect(KbcParams.find(environment: [:], cmdline: "quiet") == nil)
    }

    @Test func onlyCcKbcGivesAConfiguration() {
        #expect(KbcParams("cc_kbc::http://kbs:8080")?.config?.kbs?.url == "http://kbs:8080")
        #expect(KbcParams("offline_fs_kbc::null")?.config == nil)
        #expect(KbcParams("no-separator") == nil)
        #expect(KbcParams("a::b::c") == nil)
    }
}
