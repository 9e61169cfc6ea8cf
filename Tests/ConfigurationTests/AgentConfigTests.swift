import Configuration
import RPCStatus
import Testing

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
