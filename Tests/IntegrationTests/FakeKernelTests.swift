import AttestationAgentAPI
import Crypto
import Foundation
import TTRPC
import TestSupport
import Testing

/// Tests/FakeKernel/fake_kernel.py mounted by FUSE at `root/sys` of an
/// agent's folder: configfs-tsm entries that answer, RTMRs that extend.
final class FuseKernel: @unchecked Sendable {
    private let child: ChildProcess
    let mountpoint: String
    let dump: String

    static var available: Bool {
        FileManager.default.fileExists(atPath: "/dev/fuse")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/fusermount3")
    }

    /// Mounts a kernel for `tee` under `agentDirectory` and waits until it answers.
    init(in agentDirectory: String, tee: String, field: [UInt8], ccel: Bool = false) throws {
        mountpoint = agentDirectory + "/root/sys"
        dump = agentDirectory + "/kernel-dump"
        try FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
        child = try ChildProcess(
            [
                "/usr/bin/env", "python3", PackagePaths.root + "/Tests/FakeKernel/fake_kernel.py", mountpoint,
                "--tee", tee, "--field", field.map { String(format: "%02x", $0) }.joined(), "--dump", dump,
            ] + (ccel ? ["--ccel"] : []),
            environment: ["PYTHONPATH": PackagePaths.root + "/.build/python"], inheriting: true,
            stderrPath: dump + "/../fake-kernel.log")
        for _ in 0..<500 {
            if FileManager.default.fileExists(atPath: mountpoint + "/kernel/config/tsm/report") { return }
            guard child.isRunning else { break }
            usleep(10_000)
        }
        throw CocoaError(
            .featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "the fake kernel did not mount at \(mountpoint)"]
        )
    }

    deinit {
        _ = try? CommandResult.run(path: "/usr/bin/fusermount3", ["-u", "-z", mountpoint])
        child.stop()
    }
}

/// GetEvidence end to end in the real binary on TDX, SNP and CCA, each a
/// fake kernel that behaves like the kernel; the answers are checked by the
/// independent oracles in Tests/Oracles.
@Suite(
    .enabled(
        if: FuseKernel.available || ProcessInfo.processInfo.environment["AA_REQUIRE_PEERS"] != nil,
        "FUSE is not available (Scripts/install-deps.sh --test)"), .serialized, .tags(.fuse))
struct FakeKernelTests {
    /// An initdata document with `algorithm` whose aa.toml turns the event log on.
    static func initdata(_ directory: String, algorithm: String) throws -> (path: String, digest: [UInt8]) {
        let text =
            "version = \"0.1.0\"\nalgorithm = \"\(algorithm)\"\n[data]\n\"aa.toml\" = '''\n[eventlog_config]\ninit_pcr = 17\nenable_eventlog = true\n'''\n"
        let path = directory + "/initdata.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let bytes = Data(text.utf8)
        let digest: [UInt8] =
            switch algorithm {
            case "sha256": Array(SHA256.hash(data: bytes))
            case "sha384": Array(SHA384.hash(data: bytes))
            default: Array(SHA512.hash(data: bytes))
            }
        return (path, digest)
    }

    /// Launches the agent with kata's initdata flag (and `flags`) on a fake kernel.
    static func launch(
        tee: String, algorithm: String, field: (([UInt8]) -> [UInt8])? = nil, ccel: Bool = false,
        flags: [String] = []
    )
        async throws -> (agent: AgentProcess, kernel: FuseKernel, client: TTRPCClient)
    {
        var kernel: FuseKernel?
        let agent = try AgentProcess(
            setUp: { directory in
                let document = try Self.initdata(directory, algorithm: algorithm)
                kernel = try FuseKernel(
                    in: directory, tee: tee, field: field?(document.digest) ?? document.digest, ccel: ccel)
            },
            listeners: { directory in
                ["--attestation_sock", "unix://\(directory)/aa.sock", "--initdata-toml", directory + "/initdata.toml"]
                    + flags
            })
        let client = try await agent.waitUntilListening()
        return (agent, kernel!, client)
    }

    static func evidence(_ client: TTRPCClient, _ reportData: [UInt8]) async throws -> [UInt8] {
        let response: GetEvidenceResponse = try await client.call(
            .getEvidence, GetEvidenceRequest(runtimeData: reportData))
        return response.evidence
    }

    /// The confidential-data-hub's request after an image pull, field for
    /// field (confidential-data-hub/hub/src/hub.rs).
    static func cdhContent(_ image: String) -> String {
        #"{"image":"\#(image)", "digest":"sha256:0123abcd"}"#
    }

    static func extend(_ client: TTRPCClient, _ image: String) async throws -> RuntimeMeasurementResult? {
        let response: ExtendRuntimeMeasurementResponse = try await client.call(
            .extendRuntimeMeasurement,
            ExtendRuntimeMeasurementRequest(
                domain: "github.com/confidential-containers", operation: "PullImage",
                content: cdhContent(image), registerIndex: nil))
        return response.result
    }

    static func doctor(_ agent: AgentProcess) throws -> CommandResult {
        try CommandResult.run(
            "aactl",
            [
                "doctor", "--socket", "unix://\(agent.directory)/aa.sock", "--root", agent.directory + "/root",
                "--initdata", agent.directory + "/initdata.toml",
            ])
    }

    @Test func tdxEvidenceReplaysAfterImagePulls() async throws {
        let (agent, kernel, client) = try await Self.launch(tee: "tdx", algorithm: "sha384", ccel: true)
        let status = try await client.status()
        #expect(status.tee == "tdx")
        #expect(status.state == "Configured")
        #expect(status.binding == "matched")
        var contents: [String] = []
        for round in 0..<3 {
            let path = agent.directory + "/evidence-\(round).json"
            try Data(try await Self.evidence(client, [UInt8(round)])).write(to: URL(fileURLWithPath: path))
            let replay = try Oracle.run(
                "tdx_eventlog.py",
                [path] + contents.map { "github.com/confidential-containers PullImage \(Self.cdhContent($0))" })
            #expect(replay.status == 0, "round \(round): \(replay.stdout)")
            contents.append("image-\(round)")
            #expect(try await Self.extend(client, "image-\(round)") == .ok)
        }
        // aactl doctor finds the kernel interfaces the agent uses, and the log replays.
        let doctor = try Self.doctor(agent)
        #expect(doctor.status == 0, "\(doctor.stdout)")
        for line in [
            "PASS TDX quotes", "PASS TDX MRCONFIGID", "PASS TDX RTMRs", "PASS TDX event log", "PASS initdata:",
            "PASS evidence report data", "PASS evidence init-data: MRCONFIGID", "PASS event log replay",
            "PASS event log file: \(agent.directory)/root/run/attestation-agent/eventlog: 3 entries",
            "PASS write-ahead record",
        ] {
            #expect(doctor.stdout.contains(line), "\(line): \(doctor.stdout)")
        }
        // An RTMR extended behind the agent's back: the log no longer replays, and doctor says so.
        let rtmr3 = agent.directory + "/root/sys/devices/virtual/misc/tdx_guest/measurements/rtmr3:sha384"
        try Data(repeating: 0xAB, count: 48).write(to: URL(fileURLWithPath: rtmr3))
        let drifted = try Self.doctor(agent)
        #expect(drifted.status == 1)
        #expect(drifted.stdout.contains("FAIL event log replay: RTMR 3 do not replay"), "\(drifted.stdout)")
        // A write-ahead record left behind: a measurement was interrupted.
        _ = FileManager.default.createFile(
            atPath: agent.directory + "/root/run/attestation-agent/.wal_event_entry", contents: Data([1]))
        #expect(try Self.doctor(agent).stdout.contains("WARN write-ahead record"))
        await client.close()
        withExtendedLifetime((agent, kernel)) {}
    }

    /// `--initdata-rtmr` on a TD whose MRCONFIGID the host could not set: the
    /// InitData event opens the event log on RTMR3, once per boot; the
    /// independent replayer finds it first, then the image pulls, and RTMR3
    /// replays. A restart extends nothing, another document or an RTMR3
    /// extended outside the log is refused, and a set MRCONFIGID wins.
    @Test func initDataAnchoredInRTMR3WithoutMRCONFIGID() async throws {
        let zero: ([UInt8]) -> [UInt8] = { _ in [UInt8](repeating: 0, count: 48) }
        let (agent, kernel, client) = try await Self.launch(
            tee: "tdx", algorithm: "sha384", field: zero, ccel: true, flags: ["--initdata-rtmr"])
        let document = try String(contentsOfFile: agent.directory + "/initdata.toml", encoding: .utf8)
        let digest = Array(SHA384.hash(data: Data(document.utf8)))
        let initData = "github.com/confidential-containers InitData sha384:\(digest.hex)"
        let status = try await client.status()
        #expect(status.state == "Configured")
        #expect(status.binding == "rtmr3")
        #expect(status.initDataDigest == digest.hex)
        for image in ["image-a", "image-b", "image-c"] { #expect(try await Self.extend(client, image) == .ok) }
        let path = agent.directory + "/evidence.json"
        try Data(try await Self.evidence(client, [7])).write(to: URL(fileURLWithPath: path))
        let pulls = ["image-a", "image-b", "image-c"].map {
            "github.com/confidential-containers PullImage \(Self.cdhContent($0))"
        }
        let replay = try Oracle.run("tdx_eventlog.py", [path, initData] + pulls)
        #expect(replay.status == 0, "InitData first, then the pulls, and the RTMRs replay: \(replay.stdout)")
        let doctor = try Self.doctor(agent)
        #expect(doctor.stdout.contains("WARN initdata anchor: RTMR3"), "\(doctor.stdout)")
        #expect(
            doctor.stdout.contains("PASS evidence init-data: the first AAEL event on RTMR3 anchors the bound digest"),
            "\(doctor.stdout)")
        await client.close()

        // The same machine and its log, for the restarts below.
        let rtmr3Path = agent.directory + "/root/sys/devices/virtual/misc/tdx_guest/measurements/rtmr3:sha384"
        let rtmr3 = try Data(contentsOf: URL(fileURLWithPath: rtmr3Path))
        agent.signal(SIGKILL)
        _ = await agent.waitForExit()
        func restart(_ initdata: String) throws -> AgentProcess {
            try AgentProcess(
                ["--initdata-toml", initdata, "--initdata-rtmr"],
                environment: ["AA_PLATFORM_ROOT": agent.directory + "/root"])
        }
        let again = try restart(agent.directory + "/initdata.toml")
        let againClient = try await again.waitUntilListening()
        #expect(try await againClient.status().binding == "rtmr3")
        #expect(try Data(contentsOf: URL(fileURLWithPath: rtmr3Path)) == rtmr3, "a restart extends nothing")
        await againClient.close()
        again.signal(SIGTERM)
        _ = await again.waitForExit()

        let otherPath = agent.directory + "/other.toml"
        try (document + "# another\n").write(toFile: otherPath, atomically: true, encoding: .utf8)
        let other = try restart(otherPath)
        #expect(await other.waitForExit() == 1)
        #expect(other.stderr.contains(initData) && other.stderr.contains("InitData sha384:"), "\(other.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: rtmr3Path)) == rtmr3)

        try Data(repeating: 0x5A, count: 48).write(to: URL(fileURLWithPath: rtmr3Path))
        let tampered = try restart(agent.directory + "/initdata.toml")
        #expect(await tampered.waitForExit() == 1)
        #expect(tampered.stderr.contains("outside the agent's event log"), "\(tampered.stderr)")
        withExtendedLifetime(kernel) {}

        // A set MRCONFIGID binds: the flag is ignored, with a warning.
        let (set, setKernel, setClient) = try await Self.launch(
            tee: "tdx", algorithm: "sha384", ccel: true, flags: ["--initdata-rtmr"])
        #expect(try await setClient.status().binding == "matched")
        #expect(set.stderr.contains("--initdata-rtmr is ignored"), "\(set.stderr)")
        await setClient.close()
        withExtendedLifetime(setKernel) {}
    }

    @Test func snpEvidenceIsWhatTheSevCrateReads() async throws {
        let (agent, kernel, client) = try await Self.launch(tee: "snp", algorithm: "sha256")
        #expect(try await client.status().binding == "matched")
        let reportData = (0..<64).map { UInt8($0) }
        let path = agent.directory + "/evidence.json"
        try Data(try await Self.evidence(client, reportData)).write(to: URL(fileURLWithPath: path))
        let check = try Oracle.run("snp_evidence.py", [kernel.dump + "/outblob", path, kernel.dump + "/auxblob"])
        #expect(check.status == 0, "\(check.stdout)")
        #expect(try await Self.extend(client, "image") == .notSupported, "SNP has no registers: a result, not an error")
        let doctor = try Self.doctor(agent).stdout
        for line in ["PASS SNP reports", "PASS evidence report data", "PASS evidence init-data: HOST_DATA"] {
            #expect(doctor.contains(line), "\(line): \(doctor)")
        }
        await client.close()
        withExtendedLifetime((agent, kernel)) {}
    }

    @Test func ccaTokenCarriesTheChallengeAndTheBinding() async throws {
        let (agent, kernel, client) = try await Self.launch(tee: "cca", algorithm: "sha512")
        #expect(try await client.status().binding == "matched", "trustee compares CCA's 64-byte value: sha512")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(try await Self.evidence(client, [9, 9]))) as? [String: Any])
        let token = try #require(json["token"] as? [Int]).map { UInt8($0) }
        // The realm claim 10 (challenge) as CBOR writes it: key 0x0a, then a 64-byte string 0x58 0x40.
        let at = try #require(token.indices.first { token[$0...].starts(with: [0x0A, 0x58, 0x40]) })
        #expect(Array(token[(at + 3)..<(at + 67)]) == [9, 9] + [UInt8](repeating: 0, count: 62))
        let doctor = try Self.doctor(agent).stdout
        for line in [
            "PASS CCA tokens", "PASS evidence report data", "PASS evidence init-data: the personalization value",
            "PASS initdata algorithm: sha512 on cca",
        ] {
            #expect(doctor.contains(line), "\(line): \(doctor)")
        }
        await client.close()
        withExtendedLifetime((agent, kernel)) {}
    }

    /// A bind that does not match the field the host set: Rejected, and
    /// doctor shows the field beside the digest and says what to do.
    @Test func doctorShowsBothValuesOfARejectedBinding() async throws {
        var kernel: FuseKernel?
        let agent = try AgentProcess(setUp: { directory in
            kernel = try FuseKernel(in: directory, tee: "tdx", field: [UInt8](repeating: 0xEE, count: 48))
        })
        let client = try await agent.waitUntilListening()
        #expect(try await client.status().state == "Booting")
        await #expect(throws: TTRPCError.self) { try await client.bind([UInt8](repeating: 0x11, count: 48)) }
        #expect(try await client.status().state == "Rejected")
        let doctor = try Self.doctor(agent)
        #expect(doctor.status == 1)
        #expect(doctor.stdout.contains("FAIL agent: Rejected"), "\(doctor.stdout)")
        #expect(doctor.stdout.contains("fix: the host launched the VM with another initdata"), "\(doctor.stdout)")
        #expect(
            doctor.stdout.contains(
                "FAIL evidence init-data: MRCONFIGID is \(String(repeating: "ee", count: 48)), the bound digest makes \(String(repeating: "11", count: 48))"
            ), "\(doctor.stdout)")
        await client.close()
        withExtendedLifetime((agent, kernel)) {}
    }

    @Test func aFieldTheHostSetOtherwiseStopsTheLaunch() async throws {
        var kernel: FuseKernel?
        let agent = try AgentProcess(
            setUp: { directory in
                _ = try Self.initdata(directory, algorithm: "sha384")
                kernel = try FuseKernel(in: directory, tee: "tdx", field: [UInt8](repeating: 0xEE, count: 48))
            },
            listeners: { directory in
                ["--attestation_sock", "unix://\(directory)/aa.sock", "--initdata-toml", directory + "/initdata.toml"]
            })
        #expect(await agent.waitForExit() == 1)
        #expect(agent.stderr.contains(String(repeating: "ee", count: 48)), "\(agent.stderr)")
        withExtendedLifetime(kernel) {}
    }
}
