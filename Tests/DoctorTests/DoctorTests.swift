import AttestationAgentAPI
import DataEncoding
import Doctor
import Testing

/// Each check made to pass, warn and fail from observations, and the report's forms.
@Suite struct DoctorTests {
    static let socket = "unix:///run/aa.sock"

    static func status(
        _ state: String, binding: String = "matched", tee: String = "tdx", config: String = "initdata",
        digest: String = ""
    ) -> GetStatusResponse {
        GetStatusResponse(state: state, binding: binding, tee: tee, configSource: config, initDataDigest: digest)
    }

    static func outcomes(_ checks: [DoctorCheck]) -> [String] { checks.map { "\($0.name) \($0.outcome.rawValue)" } }

    @Test func agentStates() {
        #expect(
            Self.outcomes(AgentDiagnosis.check(socket: Self.socket, status: .success(Self.status("Configured")))) == [
                "agent pass"
            ])
        let unconfigured = AgentDiagnosis.check(
            socket: Self.socket, status: .success(Self.status("InitDataVerified", config: "none")))
        #expect(Self.outcomes(unconfigured) == ["agent warn"])
        #expect(unconfigured[0].fix?.contains("[token_configs.kbs]") == true)
        let booting = AgentDiagnosis.check(
            socket: Self.socket, status: .success(Self.status("Booting", binding: "pending")))
        #expect(Self.outcomes(booting) == ["agent fail"])
        #expect(booting[0].fix?.contains("bind-init-data") == true)
        let rejected = AgentDiagnosis.check(
            socket: Self.socket, status: .success(Self.status("Rejected", binding: "mismatch", digest: "abcd")))
        #expect(Self.outcomes(rejected) == ["agent fail"])
        #expect(rejected[0].observed.contains("abcd"))
        #expect(rejected[0].fix?.contains("aactl initdata digest FILE --tee tdx") == true)
        let down = AgentDiagnosis.check(socket: Self.socket, status: .failure(DoctorFailure("connection refused")))
        #expect(Self.outcomes(down) == ["agent fail"])
        #expect(down[0].observed.contains("unix:///run/aa.sock") && down[0].observed.contains("connection refused"))
    }

    @Test func teeAndBindingWarnings() {
        let sample = AgentDiagnosis.check(
            socket: Self.socket, status: .success(Self.status("Configured", tee: "sample")))
        #expect(Self.outcomes(sample) == ["agent pass", "TEE warn"])
        let fieldless = AgentDiagnosis.check(
            socket: Self.socket, status: .success(Self.status("Configured", binding: "unsupported", tee: "se")))
        #expect(Self.outcomes(fieldless) == ["agent pass", "initdata binding warn"])
        let unbound = AgentDiagnosis.check(
            socket: Self.socket, status: .success(Self.status("Configured", binding: "unbound", tee: "tpm")))
        #expect(Self.outcomes(unbound) == ["agent pass", "initdata binding warn"])
        #expect(unbound[1].fix?.contains("GRUB") == true)
    }

    /// A Rejected agent's line carries both the digest and the field it was compared with.
    @Test func rejectedShowsTheFieldBesideTheDigest() {
        var status = Self.status("Rejected", binding: "mismatch", tee: "tpm", digest: "abcd")
        status.initDataField = "ef01"
        let checks = AgentDiagnosis.check(socket: Self.socket, status: .success(status))
        #expect(checks[0].observed.contains("abcd") && checks[0].observed.contains("(ef01)"), "\(checks[0].observed)")
        #expect(checks[0].fix?.contains("GRUB") == true, "on a TPM the fix names the boot chain")
    }

    /// On a (v)TPM: the key the agent quotes with, or the provisioning that is missing.
    @Test func attestationKey() {
        #expect(EvidenceDiagnosis.attestationKeyCheck(tee: "tdx", refusal: nil, notProvisioned: false) == nil)
        #expect(
            EvidenceDiagnosis.attestationKeyCheck(tee: "tpm", refusal: nil, notProvisioned: false)?.outcome == .pass)
        let missing = EvidenceDiagnosis.attestationKeyCheck(
            tee: "tpm", refusal: "no attestation key at persistent handle 0x81010002", notProvisioned: true)
        #expect(missing?.outcome == .fail)
        #expect(missing?.fix?.contains("tpm2_evictcontrol") == true)
        #expect(
            EvidenceDiagnosis.attestationKeyCheck(tee: "az-snp-vtpm", refusal: "x", notProvisioned: true)?.fix?
                .contains("paravisor") == true)
        #expect(
            EvidenceDiagnosis.attestationKeyCheck(tee: "tpm", refusal: "TPM quote failed", notProvisioned: false)
                == nil, "another failure is the evidence check's")
    }

    static let document = "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n"
    /// SHA-384 of `document`, computed outside (Python's hashlib).
    static let documentDigest =
        "c2d9f12884812d609fffc5ae527195adce05b66d8c8d7d333366d5fbf01637aaf16237578dd7b7f7b7f0e0971d23bc6a"

    @Test func initDataAgainstTheAgent() {
        let path = "/run/initdata.toml"
        let digest = Self.documentDigest
        let matching = InitDataDiagnosis.check(
            path: path, text: .success(Self.document), status: Self.status("Configured", digest: digest))
        #expect(Self.outcomes(matching) == ["initdata pass", "initdata algorithm pass"])
        #expect(matching[0].observed.contains(digest))
        let other = InitDataDiagnosis.check(
            path: path, text: .success(Self.document), status: Self.status("Configured", digest: "00ff"))
        #expect(Self.outcomes(other) == ["initdata fail", "initdata algorithm pass"])
        #expect(other[0].fix?.contains("--initdata-toml /run/initdata.toml") == true)
        let broken = InitDataDiagnosis.check(path: path, text: .success("version = 1"), status: nil)
        #expect(Self.outcomes(broken) == ["initdata fail"])
        let unreadable = InitDataDiagnosis.check(
            path: path, text: .failure(DoctorFailure("permission denied")), status: nil)
        #expect(Self.outcomes(unreadable) == ["initdata fail"])
        let none = InitDataDiagnosis.check(
            path: path, text: .success(nil), status: Self.status("InitDataVerified", binding: "absent"))
        #expect(Self.outcomes(none) == ["initdata pass"])
        let elsewhere = InitDataDiagnosis.check(
            path: path, text: .success(nil), status: Self.status("Configured", digest: "ab"))
        #expect(Self.outcomes(elsewhere) == ["initdata warn"])
    }

    /// docs/platforms.md's "initdata algorithms" column: what trustee can verify per TEE.
    @Test(arguments: [
        ("tpm", "sha256", "pass"), ("tpm", "sha384", "fail"), ("az-snp-vtpm", "sha512", "fail"),
        ("cca", "sha512", "pass"), ("cca", "sha384", "fail"), ("tdx", "sha512", "pass"), ("snp", "sha256", "pass"),
        ("se", "sha256", "warn"),
    ])
    func algorithmPerTEE(_ tee: String, _ algorithm: String, _ outcome: String) throws {
        let document = "version = \"0.1.0\"\nalgorithm = \"\(algorithm)\"\n[data]\n"
        let checks = InitDataDiagnosis.check(
            path: "/i.toml", text: .success(document), status: Self.status("Configured", tee: tee))
        #expect(checks.last?.name == "initdata algorithm")
        #expect(checks.last?.outcome.rawValue == outcome)
        if outcome == "fail" { #expect(checks.last?.fix?.contains("set algorithm = ") == true) }
    }

    @Test func reportForms() throws {
        let report = DoctorReport([
            .pass("agent", "Configured"), .warn("TEE", "sample", fix: "run in a TEE"),
        ])
        #expect(!report.failed)
        #expect(report.text == "PASS agent: Configured\nWARN TEE: sample\n     fix: run in a TEE")
        let failing = DoctorReport([.fail("agent", "down", fix: "start it")])
        #expect(failing.failed)
        let json = try JSON(parsing: failing.json.serialized())
        #expect(json["ok"] == .bool(false))
        #expect(
            json["checks"]
                == .array([
                    .object([
                        ("name", .string("agent")), ("outcome", .string("fail")), ("observed", .string("down")),
                        ("fix", .string("start it")),
                    ])
                ]))
    }
}

/// The interfaces each TEE needs, on machines made of path sets.
@Suite struct MachineDiagnosisTests {
    static func outcomes(_ tee: String, _ paths: Set<String>) -> [String] {
        MachineDiagnosis.check(tee: tee, kernel: "6.1.0") { paths.contains($0) }.map {
            "\($0.name) \($0.outcome.rawValue)"
        }
    }

    static let measurements = "/sys/devices/virtual/misc/tdx_guest/measurements"

    @Test func tdx() {
        let full: Set = [
            "/sys/kernel/config/tsm/report", Self.measurements + "/mrconfigid", Self.measurements + "/rtmr2:sha384",
            "/sys/firmware/acpi/tables/data/CCEL",
        ]
        #expect(
            Self.outcomes("tdx", full) == [
                "TDX quotes pass", "TDX MRCONFIGID pass", "TDX RTMRs pass", "TDX event log pass",
            ])
        #expect(
            Self.outcomes("tdx", ["/dev/tdx_guest"])
                == ["TDX quotes fail", "TDX MRCONFIGID pass", "TDX RTMRs warn", "TDX event log warn"])
        let bare = MachineDiagnosis.check(tee: "tdx", kernel: "6.1.0") { _ in false }
        #expect(bare[0].observed.contains("this kernel: 6.1.0"))
        #expect(bare[0].fix?.contains("6.7") == true)
        #expect(bare[2].fix?.contains("6.16") == true)
    }

    @Test func snpCCAAndTPM() {
        #expect(Self.outcomes("snp", ["/sys/kernel/config/tsm/report"]) == ["SNP reports pass"])
        #expect(Self.outcomes("snp", ["/dev/sev-guest"]) == ["SNP reports pass"])
        #expect(Self.outcomes("snp", []) == ["SNP reports fail"])
        #expect(Self.outcomes("cca", ["/sys/kernel/config/tsm/report"]) == ["CCA tokens pass"])
        #expect(Self.outcomes("cca", []) == ["CCA tokens fail"])
        #expect(Self.outcomes("az-snp-vtpm", ["/dev/tpmrm0"]) == ["TPM pass"])
        #expect(Self.outcomes("tpm", ["/dev/tpm0"]) == ["TPM warn"])
        #expect(Self.outcomes("tpm", []) == ["TPM fail"])
        #expect(Self.outcomes("sample", []) == [])
    }
}

@Suite struct KBSDiagnosisTests {
    @Test func outcomesAndTheirFixes() {
        let url = "http://kbs:8080"
        #expect(
            KBSDiagnosis.check(url: url, pinnedCertificate: false, outcome: .challenged(milliseconds: 12)).outcome
                == .pass)
        let refused = KBSDiagnosis.check(
            url: url, pinnedCertificate: false,
            outcome: .notAChallenge("the KBS at http://kbs:8080 refused the auth: no"))
        #expect(refused.outcome == .fail && refused.fix?.contains("protocol 0.4.0") == true)
        let pinned = KBSDiagnosis.check(url: url, pinnedCertificate: true, outcome: .tls("bad certificate"))
        #expect(pinned.outcome == .fail && pinned.fix?.contains("current certificate") == true)
        let slow = KBSDiagnosis.check(
            url: url, pinnedCertificate: false, outcome: .timedOut("no answer within 10000 ms"))
        #expect(slow.observed == "no answer within 10000 ms" && slow.fix?.contains("drops the connection") == true)
        let away = KBSDiagnosis.check(url: url, pinnedCertificate: false, outcome: .unreachable("connection refused"))
        #expect(away.fix?.contains("DNS and routes") == true)
    }
}

@Suite struct EvidenceDiagnosisTests {
    @Test func sampleReportData() {
        let sent: [UInt8] = [1, 2, 3]
        let good = Array(#"{"svn":"1","report_data":"AQID"}"#.utf8)
        #expect(
            EvidenceDiagnosis.check(tee: "sample", evidence: good, reportData: sent, digest: []).map(\.outcome) == [
                .pass
            ])
        let other = Array(#"{"svn":"1","report_data":"AQIE"}"#.utf8)
        let checks = EvidenceDiagnosis.check(tee: "sample", evidence: other, reportData: sent, digest: [])
        #expect(checks.map(\.outcome) == [.fail])
        #expect(checks[0].observed == "asked for 010203, the evidence carries 010204")
        let garbage = EvidenceDiagnosis.check(tee: "tdx", evidence: Array("{}".utf8), reportData: sent, digest: [])
        #expect(garbage.map(\.outcome) == [.fail])
    }

    @Test func tpmWithoutADeviceNodeWarnsOnlyWhenTheAgentFoundIt() {
        #expect(MachineDiagnosis.check(tee: "tpm", kernel: nil, agentFoundIt: true) { _ in false }[0].outcome == .warn)
        #expect(MachineDiagnosis.check(tee: "tpm", kernel: nil, agentFoundIt: false) { _ in false }[0].outcome == .fail)
    }
}

@Suite struct EventLogDiagnosisTests {
    static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// One AAEL entry as TCG_PCR_EVENT2: register, EV_EVENT_TAG, one SHA-384 digest, the tagged text.
    static func entry(register: Int, text: String) -> [UInt8] {
        let tagged = [0x4C, 0x45, 0x41, 0x41] + le32(text.utf8.count) + Array(text.utf8)
        return le32(register) + le32(6) + le32(1) + [0x0C, 0x00] + [UInt8](repeating: 7, count: 48) + le32(tagged.count)
            + tagged
    }

    static func outcomes(_ checks: [DoctorCheck]) -> [String] { checks.map { "\($0.name) \($0.outcome.rawValue)" } }

    @Test func logAndRecord() {
        let two = Self.entry(register: 3, text: "d PullImage a") + Self.entry(register: 3, text: "d PullImage b")
        let parsed = EventLogDiagnosis.check(
            logFile: "/run/attestation-agent/eventlog", log: .success(two), writeAheadRecordPresent: false)
        #expect(Self.outcomes(parsed) == ["event log file pass", "write-ahead record pass"])
        #expect(parsed[0].observed.hasSuffix("2 entries, registers 3"))
        #expect(
            Self.outcomes(
                EventLogDiagnosis.check(
                    logFile: "/run/attestation-agent/eventlog", log: .success(nil), writeAheadRecordPresent: true))
                == ["event log file pass", "write-ahead record warn"])
        let cut = EventLogDiagnosis.check(
            logFile: "/run/attestation-agent/eventlog", log: .success(Array(two.dropLast(3))),
            writeAheadRecordPresent: false)
        #expect(Self.outcomes(cut) == ["event log file fail", "write-ahead record pass"])
        #expect(cut[0].fix?.contains("start a new VM") == true)
        #expect(
            Self.outcomes(
                EventLogDiagnosis.check(
                    logFile: "/run/attestation-agent/eventlog", log: .failure(DoctorFailure("denied")),
                    writeAheadRecordPresent: false))
                == ["event log file fail", "write-ahead record pass"])
    }
}

/// The GPU check: which cause a refusal names, and reports for the nonce asked.
@Suite struct GPUDiagnosisTests {
    /// An SPDM 1.1 request for `nonce`, as the report begins.
    static func report(nonce: [UInt8]) -> [UInt8] {
        [0x11, 0xE0, 0x01, 0xFF] + nonce + [0] + [UInt8](repeating: 7, count: 40)
    }

    static func evidence(_ reports: [[UInt8]], hex: Bool = false) -> [UInt8] {
        let devices = reports.enumerated().map { index, report in
            "{\"arch\":\"HOPPER\",\"uuid\":\"GPU-\(index)\",\"evidence\":\"\(hex ? Hex.encode(report) : Base64.encode(report))\",\"certificate\":\"\(Base64.encode(Array("PEM".utf8)))\"}"
        }
        return Array("{\"nvidia\":{\"device_evidence_list\":[\(devices.joined(separator: ","))]}}".utf8)
    }

    @Test func reportsForTheNonceAskedPass() {
        let reportData = [UInt8](repeating: 0x42, count: 48)
        let nonce = Array(reportData.prefix(32))
        for hex in [false, true] {
            let check = GPUDiagnosis.check(
                listed: true, answer: .evidence(Self.evidence([Self.report(nonce: nonce)] * 2, hex: hex)),
                reportData: reportData, deviceNodePresent: true)
            #expect(check?.outcome == .pass, "\(check?.observed ?? "")")
            #expect(check?.observed.contains("2 GPU report(s)") == true)
        }
        let other = GPUDiagnosis.check(
            listed: true, answer: .evidence(Self.evidence([Self.report(nonce: [UInt8](repeating: 1, count: 32))])),
            reportData: reportData, deviceNodePresent: false)
        #expect(other?.outcome == .fail && other?.observed.contains("GPU-0") == true)
    }

    @Test func eachCauseHasItsFix() {
        let causes: [(String, String)] = [
            ("nvidia: NVIDIA's management library libnvidia-ml.so.1 cannot be loaded: x", "management library"),
            ("nvidia: NVML finds no GPU", "pass the GPU through"),
            ("nvidia: none of the 1 GPUs NVML finds has confidential computing (Hopper or later): GPU 0 (x)", "Hopper"),
            ("nvidia: confidential computing is off on GPU 0 (x)", "nvidia_gpu_tools"),
            ("nvidia: GPU 0 (x) has not answered the attestation report request", "does not answer"),
            ("nvidia: GPU 0 (x): nvmlDeviceGetConfComputeGpuCertificate failed: NVML error 999", "NVML error"),
        ]
        for (message, fix) in causes {
            let check = GPUDiagnosis.check(
                listed: true, answer: .refused(message: message), reportData: [], deviceNodePresent: true)
            #expect(check?.outcome == .fail)
            #expect(check?.fix?.contains(fix) == true, "\(message): \(check?.fix ?? "")")
        }
    }

    @Test func aGPUTheAgentDoesNotAttest() {
        #expect(GPUDiagnosis.check(listed: false, answer: nil, reportData: [], deviceNodePresent: false) == nil)
        let unseen = GPUDiagnosis.check(listed: false, answer: nil, reportData: [], deviceNodePresent: true)
        #expect(unseen?.outcome == .warn && unseen?.fix?.contains("KATA_ATTESTER_VARIANT=nvidia") == true)
    }
}

extension Array {
    static func * (items: [Element], times: Int) -> [Element] { (0..<times).flatMap { _ in items } }
}
