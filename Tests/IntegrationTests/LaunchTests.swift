import AttestationAgentAPI
import Foundation
import Glibc
import TTRPC
import TestSupport
import Testing

/// Launch-time binding, configuration sources, bad flags and files.
@Suite struct LaunchTests {
    static let initdata = PackagePaths.fixtures + "/initdata/initdata.toml"
    // sha384 of the fixture (Python hashlib), zero-padded to the sample's 64-byte field.
    static let fieldOfFixture =
        "dd231ad281fc696205353702aee9453d59249da6bb8ef154e8ad6030da8b947bb55b44889eb8e965df46a682513060dc"
        + String(repeating: "00", count: 16)

    @Test func matchingInitDataDocumentIsBoundAndItsConfigApplied() async throws {
        let agent = try AgentProcess(
            ["--initdata_toml", Self.initdata], environment: ["AA_SAMPLE_INITDATA": Self.fieldOfFixture])
        let client = try await agent.waitUntilListening()
        let status = try await client.status()
        #expect(status.state == "Configured")
        #expect(status.binding == "matched")
        #expect(status.configSource == "initdata")
        #expect(status.initDataDigest == String(Self.fieldOfFixture.prefix(96)))
        await client.close()
    }

    /// kata-agent's launch line, flag for flag (src/agent/src/main.rs: the
    /// socket URI, `--initdata-toml` when initdata came, `-c aa.toml` when
    /// kata wrote one), in kata's layout under the test's folder; the socket
    /// must be there within kata's 6 s.
    @Test func kataLaunchLineListensWithinSixSeconds() async throws {
        let agent = try AgentProcess(
            environment: ["AA_SAMPLE_INITDATA": Self.fieldOfFixture],
            setUp: { directory in
                let initdata = directory + "/run/confidential-containers/initdata"
                try FileManager.default.createDirectory(atPath: initdata, withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: Self.initdata, toPath: initdata + "/initdata.toml")
                try "[token_configs.kbs]\nurl = \"http://127.0.0.1:8080\"\n".write(
                    toFile: initdata + "/aa.toml", atomically: true, encoding: .utf8)
            },
            listeners: { directory in
                [
                    "--attestation_sock",
                    "unix://\(directory)/run/confidential-containers/attestation-agent/attestation-agent.sock",
                    "--initdata-toml", "\(directory)/run/confidential-containers/initdata/initdata.toml",
                    "-c", "\(directory)/run/confidential-containers/initdata/aa.toml",
                ]
            })
        let socket = agent.directory + "/run/confidential-containers/attestation-agent/attestation-agent.sock"
        let client = try await agent.waitUntilListeningAt(socket)
        // The kernel's clocks, not the test's: the agent's exec time and the
        // moment its socket was made, so that a test process slowed by other
        // suites cannot count its own delay against the agent. Kata's budget
        // is the plain build's; a sanitized agent is several times slower.
        let seconds = try Self.execToSocket(pid: agent.process.processIdentifier, socket: socket)
        if TestBudget.sanitizer == nil { #expect(seconds < 6, "\(seconds) s from exec to the socket") }
        let status = try await client.status()
        #expect(status.state == "Configured")
        #expect(status.binding == "matched")
        #expect(status.configSource == "config-file", "-c wins over the document's aa.toml, as upstream")
        await client.close()
    }

    /// Seconds from a process's exec to a file's last status change (a
    /// socket's: its bind and chmod), both as the kernel recorded them.
    static func execToSocket(pid: Int32, socket: String) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Field 22, starttime, in clock ticks since boot; fields count from 3 after the command's ")".
        let fields = stat[stat.range(of: ")", options: .backwards)!.upperBound...].split(separator: " ")
        let startTicks = try #require(Double(fields[19]))
        var boot = timespec()
        var real = timespec()
        clock_gettime(CLOCK_BOOTTIME, &boot)
        clock_gettime(CLOCK_REALTIME, &real)
        let bootedAt = Double(real.tv_sec - boot.tv_sec) + Double(real.tv_nsec - boot.tv_nsec) / 1e9
        var info = Glibc.stat()
        guard lstat(socket, &info) == 0 else { throw CocoaError(.fileNoSuchFile) }
        let changed = Double(info.st_ctim.tv_sec) + Double(info.st_ctim.tv_nsec) / 1e9
        return changed - (bootedAt + startTicks / Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// Most guests have no TPM: tpm2-tss and the libcrypto it brings are
    /// loaded when a TPM is opened, not at exec, and HTTP needs no zlib.
    @Test func aListeningAgentHasNoLibraryItDoesNotUse() async throws {
        let agent = try AgentProcess([])
        let client = try await agent.waitUntilListening()
        let _: GetTeeTypeResponse = try await client.call(.getTeeType, EmptyMessage())
        let maps = try String(contentsOfFile: "/proc/\(agent.process.processIdentifier)/maps", encoding: .utf8)
        for library in ["libtss2", "libcrypto", "libssl", "libz.so"] {
            #expect(!maps.contains(library), "\(library) is loaded by an agent on the sample TEE")
        }
        await client.close()
    }

    @Test func versionFlags() throws {
        for flag in ["--version", "-V"] {
            let result = try CommandResult.run("attestation-agent", [flag])
            #expect(result.status == 0)
            #expect(result.stdout.hasPrefix("attestation-agent "), "\(result.stdout)")
        }
    }

    @Test func helpNamesEveryOptionUnderBothSpellings() throws {
        let result = try CommandResult.run("attestation-agent", ["--help"])
        #expect(result.status == 0)
        for name in [
            "--attestation_sock", "--attestation-sock", "--config-file", "--config_file", "--initdata_toml",
            "--initdata-digest", "--log-level", "--await-initdata", "--initdata-rtmr", "--vsock-allow",
            "--restricted_sock",
        ] {
            #expect(result.stdout.contains(name), "\(name) is not in the help")
        }
    }

    /// upstream's configuration takes tracing filters in `[log] level` and
    /// RUST_LOG overrides it; nothing there may stop the agent.
    @Test func logFilterStringsAreAcceptedAndRustLogOverrides() async throws {
        let agent = try AgentProcess(
            environment: ["RUST_LOG": "attestation_agent=debug,warn"],
            setUp: { directory in
                try "[log]\nlevel = \"info,kbs_protocol=debug\"\n".write(
                    toFile: directory + "/aa.toml", atomically: true, encoding: .utf8)
            },
            listeners: { directory in
                ["--attestation_sock", "unix://\(directory)/aa.sock", "-c", directory + "/aa.toml"]
            })
        let client = try await agent.waitUntilListening()
        _ = try await client.status()
        await client.close()
        #expect(agent.stderr.contains("log_level=debug"), "RUST_LOG's first level word is in force: \(agent.stderr)")

        let unreadable = try AgentProcess(
            setUp: { directory in
                try "[log]\nlevel = \"loud\"\n".write(toFile: directory + "/aa.toml", atomically: true, encoding: .utf8)
            },
            listeners: { directory in
                ["--attestation_sock", "unix://\(directory)/aa.sock", "-c", directory + "/aa.toml"]
            })
        let other = try await unreadable.waitUntilListening()
        await other.close()
        #expect(unreadable.stderr.contains("[log] level 'loud' holds no level word"), "\(unreadable.stderr)")
    }

    @Test func mismatchingInitDataExitsBeforeListening() async throws {
        let agent = try AgentProcess(["--initdata-toml", Self.initdata], environment: ["AA_SAMPLE_INITDATA": "01"])
        let status = await agent.waitForExit()
        #expect(status != 0)
        #expect(agent.stderr.contains("does not match the hardware field"), "\(agent.stderr)")
        #expect(!FileManager.default.fileExists(atPath: agent.socketPath), "no socket is left behind")
    }

    @Test func digestFlagIsBase64AndChecked() async throws {
        let digest = Data([UInt8](repeating: 0x11, count: 32)).base64EncodedString()
        let good = try AgentProcess(
            ["--initdata_digest", digest], environment: ["AA_SAMPLE_INITDATA": String(repeating: "11", count: 32)])
        let client = try await good.waitUntilListening()
        #expect(try await client.status().binding == "matched")
        await client.close()

        let bad = try AgentProcess(["--initdata_digest", "not base64!"])
        #expect(await bad.waitForExit() != 0)
        #expect(bad.stderr.contains("not standard base64"))
    }

    @Test func zeroFieldWithoutInitDataStartsVerifiedAsAbsent() async throws {
        let agent = try AgentProcess(environment: ["AA_SAMPLE_INITDATA": "00"])
        let client = try await agent.waitUntilListening()
        let status = try await client.status()
        #expect(status.state == "InitDataVerified")
        #expect(status.binding == "absent")
        await client.close()
    }

    @Test func configurationFromKbcParamsAfterBinding() async throws {
        let agent = try AgentProcess(environment: [
            "AA_SAMPLE_INITDATA": "aa", "AA_KBC_PARAMS": "cc_kbc::http://127.0.0.1:1",
        ])
        let client = try await agent.waitUntilListening()
        #expect(try await client.status().state == "Booting")
        try await client.bind([0xAA])
        let status = try await client.status()
        #expect(status.state == "Configured")
        #expect(status.configSource == "aa_kbc_params")
        await client.close()
    }

    @Test func kbcParamsFromTheKernelCommandLineUnderThePlatformRoot() async throws {
        let agent = try AgentProcess { directory in
            try FileManager.default.createDirectory(atPath: directory + "/root/proc", withIntermediateDirectories: true)
            try "console=hvc0 agent.aa_kbc_params=cc_kbc::http://10.0.0.1:8080\n"
                .write(toFile: directory + "/root/proc/cmdline", atomically: true, encoding: .utf8)
        }
        let client = try await agent.waitUntilListening()
        #expect(try await client.status().configSource == "aa_kbc_params")
        await client.close()
    }

    @Test(arguments: [
        ("[token_configs.kbs]\nurl = \"ftp://x\"\n", "http:// or https://"),
        ("[log]\nlevel = 3\n", "log.level must be a string"),
        ("[[[", "not valid TOML"),
    ])
    func brokenConfigFileExitsWithTheReason(_ text: String, _ mention: String) async throws {
        let path = NSTemporaryDirectory() + "aa-bad-\(UUID().uuidString.prefix(6)).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let agent = try AgentProcess(["--config-file", path])
        #expect(await agent.waitForExit() != 0)
        #expect(agent.stderr.contains(path) && agent.stderr.contains(mention), "\(agent.stderr)")
    }

    @Test func missingFilesAndBadFlagsAreRefused() async throws {
        let missing = try AgentProcess(["--config-file", "/nonexistent/aa.toml"])
        #expect(await missing.waitForExit() != 0)
        #expect(missing.stderr.contains("/nonexistent/aa.toml: No such file or directory"))

        for (arguments, mention) in [
            (["--attestation_sock", "tcp://1.2.3.4:1"], "unix:///PATH or vsock://CID:PORT"),
            (["--vsock-allow", "Nope"], "unknown method 'Nope'"),
            (["--log-level", "loud"], "--log-level"),
            (["--log-level=loud"], "'loud'"),
            (["--config-file"], "--config-file needs a value (PATH)"),
            (["--await-initdata=yes"], "--await-initdata takes no value"),
            (["--no-such-flag"], "unknown option '--no-such-flag'"),
        ] {
            let result = try CommandResult.run("attestation-agent", arguments)
            #expect(result.status == 64, "usage errors exit 64 (EX_USAGE)")
            #expect(result.stderr.contains(mention), "\(result.stderr)")
        }
    }

    @Test func notifiesSystemdWhenListening() async throws {
        let folder = try TemporaryFolder("aa-notify")
        let systemd = try ReadinessNotification(path: folder.file("notify.sock"))
        let agent = try AgentProcess(environment: ["NOTIFY_SOCKET": systemd.path])
        #expect(await systemd.message(seconds: 20) == "READY=1")
        // READY comes once the socket answers.
        let client = try await TTRPCClient.connect(to: .unix(path: agent.socketPath))
        await client.close()
    }
}
