import Configuration
import Logging
import Testing

@testable import AgentCore

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
