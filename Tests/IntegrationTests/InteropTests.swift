import Foundation
import TestSupport
import Testing

/// The peers of Tests/Interop: containerd's Go ttrpc and the Rust ttrpc crate
/// kata-agent uses, built by Scripts/build-peers.sh. Scripts/test.sh builds
/// them and sets AA_REQUIRE_PEERS, so that there a missing peer fails.
enum Peers {
    static let directory: String = {
        if let dir = ProcessInfo.processInfo.environment["AA_INTEROP_DIR"] { return dir }
        return PackagePaths.root + "/.build/interop"
    }()

    static let all = ["go", "rust"]

    static func path(_ peer: String) -> String { directory + "/aa-peer-" + peer }

    static var present: Bool {
        all.allSatisfy { FileManager.default.isExecutableFile(atPath: path($0)) }
            || ProcessInfo.processInfo.environment["AA_REQUIRE_PEERS"] != nil
    }

    /// Runs a peer client over one connection: one command per line in, one result per line out.
    static func client(_ peer: String, socket: String, commands: [String]) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path(peer))
        process.arguments = ["client", socket]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(commands.joined(separator: "\n").utf8 + [0x0A]))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}

@Suite(.enabled(if: Peers.present, "the interop peers are not built (Scripts/build-peers.sh)"), .tags(.interop))
struct InteropTests {
    static let field = String(repeating: "c3", count: 48)
    static let config = Data("[token_configs.kbs]\nurl = \"http://127.0.0.1:1\"\n".utf8).base64EncodedString()
    static let sampleEvidence = Data(#"{"svn":"1","report_data":"AQID"}"#.utf8).map { String(format: "%02x", $0) }
        .joined()

    /// Every method and the accepting path of the state machine, and what each answers.
    static let acceptingScenario: [(String, String)] = [
        ("GetTeeType", "OK GetTeeType tee=sample"),
        ("GetAdditionalTees", "OK GetAdditionalTees additional_tees="),
        ("GetStatus", "OK GetStatus state=Booting binding=pending tee=sample config_source=none init_data_digest="),
        (
            "GetToken kbs",
            "ERR GetToken 9 initdata is not verified yet: call BindInitData with the initdata digest first"
        ),
        (
            "UpdateConfiguration \(config)",
            "ERR UpdateConfiguration 9 initdata is not verified yet: call BindInitData before UpdateConfiguration"
        ),
        ("BindInitData \(field)", "OK BindInitData"),
        (
            "GetStatus",
            "OK GetStatus state=InitDataVerified binding=matched tee=sample config_source=none init_data_digest=\(field)"
        ),
        (
            "GetToken kbs",
            "ERR GetToken 9 the agent is not configured yet: call UpdateConfiguration with the aa.toml of initdata"
        ),
        ("CheckInitData \(field)", "OK CheckInitData"),
        ("UpdateConfiguration \(config)", "OK UpdateConfiguration"),
        (
            "GetStatus",
            "OK GetStatus state=Configured binding=matched tee=sample config_source=update init_data_digest=\(field)"
        ),
        (
            "UpdateConfiguration \(config)",
            "ERR UpdateConfiguration 9 the configuration was already set (from update); it is set once"
        ),
        // Configured for a KBS on a port nobody listens on: the provider runs and says where it failed.
        ("GetToken kbs", "ERR GetToken 14 cannot reach the KBS at http://127.0.0.1:1/kbs/v0/auth: *"),
        ("GetToken nope", "ERR GetToken 3 unknown token type 'nope': expected one of kbs, coco_as"),
        ("GetEvidence 010203", "OK GetEvidence evidence=\(sampleEvidence)"),
        ("GetAdditionalEvidence 010203", "OK GetAdditionalEvidence evidence="),
        ("ExtendRuntimeMeasurement domain op content 17", "OK ExtendRuntimeMeasurement result=NOT_ENABLED"),
        ("ExtendRuntimeMeasurement domain op content", "OK ExtendRuntimeMeasurement result=NOT_ENABLED"),
    ]

    /// A wrong digest: rejected for good, local calls still answered.
    static let rejectingScenario: [(String, String)] = [
        (
            "BindInitData 0102",
            "ERR BindInitData 7 initdata digest 0102\(String(repeating: "00", count: 62)) does not match the hardware field \(field)\(String(repeating: "00", count: 16)); initdata is rejected for good"
        ),
        // In Rejected the digest is the one that did not match.
        (
            "GetStatus",
            "OK GetStatus state=Rejected binding=mismatch tee=sample config_source=none init_data_digest=0102"
        ),
        (
            "BindInitData \(field)",
            "ERR BindInitData 9 initdata was already rejected (digest did not match the hardware field); restart the guest with matching initdata"
        ),
        (
            "UpdateConfiguration \(config)",
            "ERR UpdateConfiguration 9 initdata was rejected; the agent takes no configuration"
        ),
        (
            "GetToken kbs",
            "ERR GetToken 7 initdata did not match the hardware field; this agent will never fetch a token"
        ),
        ("GetEvidence 010203", "OK GetEvidence evidence=\(sampleEvidence)"),
    ]

    @Test(arguments: Peers.all)
    func peerClientDrivesTheAgentThroughEveryMethod(_ peer: String) async throws {
        for scenario in [Self.acceptingScenario, Self.rejectingScenario] {
            let agent = try AgentProcess(environment: ["AA_SAMPLE_INITDATA": Self.field])
            await (try agent.waitUntilListening()).close()
            let lines = try Peers.client(peer, socket: agent.socketPath, commands: scenario.map(\.0))
            #expect(lines.count == scenario.count, "\(peer): \(lines)")
            for (line, (command, expected)) in zip(lines, scenario) {
                // A trailing "*" leaves the rest to the system's error text.
                if expected.hasSuffix("*") {
                    #expect(line.hasPrefix(expected.dropLast()), "\(peer) \(command): \(line)")
                } else {
                    #expect(line == expected, "\(peer) \(command)")
                }
            }
        }
    }

    @Test(arguments: Peers.all)
    func aactlDrivesThePeerServer(_ peer: String) async throws {
        let folder = try TemporaryFolder("aa-peer-\(peer)")
        let socket = folder.file("peer.sock")
        // SIGKILL when done (ChildProcess's default): a child of the test
        // runner may start with SIGTERM blocked, and tokio's handler would
        // never see it.
        let server = try ChildProcess(
            [Peers.path(peer), "serve", socket], inheriting: true, stderrPath: folder.file("peer.log"))
        defer { server.stop() }
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: socket) {
            try await Task.sleep(nanoseconds: 10_000_000)
        }

        let calls: [([String], Int32, String)] = [
            (["get-tee-type"], 0, #""tee": "sample""#),
            (["get-additional-tees"], 0, #""\#(peer)-peer""#),
            (["status"], 0, #""state": "Configured""#),
            (["get-evidence", "--runtime-data", "010203"], 0, #""report_data": "AQID""#),
            (["get-additional-evidence", "--runtime-data", "01"], 0, #""evidence": null"#),
            (["get-token", "--type", "kbs"], 0, #""token": "\#(peer)-peer-token""#),
            (["get-token", "--type", "other"], 1, "INVALID_ARGUMENT (3): unknown token type other"),
            (["bind-init-data", "--digest", "01"], 0, "{}"),
            (["bind-init-data", "--digest", ""], 1, "PERMISSION_DENIED (7): empty digest"),
            (["check-init-data", "--digest", "01"], 0, "{}"),
            (["update-configuration", "--config", "[log]"], 0, "{}"),
            (
                [
                    "extend-runtime-measurement", "--domain", "d", "--operation", "o", "--content", "c",
                    "--register-index", "0",
                ], 0,
                #""result": "NOT_ENABLED""#
            ),
            (
                ["extend-runtime-measurement", "--domain", "d", "--operation", "o", "--content", "c"], 0,
                #""result": "NOT_SUPPORTED""#
            ),
        ]
        for (arguments, status, mention) in calls {
            let result = try CommandResult.run("aactl", arguments + ["--socket", "unix://" + socket])
            #expect(result.status == status, "\(peer) \(arguments): \(result.stderr)")
            #expect(
                (status == 0 ? result.stdout : result.stderr).contains(mention),
                "\(peer) \(arguments): \(result.stdout)\(result.stderr)")
        }
    }
}
