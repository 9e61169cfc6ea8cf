import AttestationAgentAPI
import Foundation
import TTRPC
import TestSupport
import Testing

/// The real binary on a fake machine laid out under AA_PLATFORM_ROOT.
@Suite struct PlatformIntegrationTests {
    /// A TDX guest as sysfs shows it on Linux 6.16+, MRCONFIGID set to `field`.
    static func tdxMachine(field: [UInt8]) -> (String) throws -> Void {
        { directory in
            let measurements = directory + "/root/sys/devices/virtual/misc/tdx_guest/measurements"
            try FileManager.default.createDirectory(atPath: measurements, withIntermediateDirectories: true)
            try Data(field).write(to: URL(fileURLWithPath: measurements + "/mrconfigid"))
        }
    }

    static let field = [UInt8](repeating: 0x5C, count: 48)

    @Test func detectsTDXAndBindsAgainstMRCONFIGID() async throws {
        let agent = try AgentProcess(setUp: Self.tdxMachine(field: Self.field))
        let client = try await agent.waitUntilListening()
        #expect(try await client.call(.getTeeType, EmptyMessage(), as: GetTeeTypeResponse.self).tee == "tdx")
        #expect(try await client.status().state == "Booting", "a set MRCONFIGID means initdata is expected")
        try await client.bind(Self.field)
        let status = try await client.status()
        #expect(status.state == "InitDataVerified")
        #expect(status.binding == "matched")
        // Without configfs-tsm there is no quote, and the agent says why.
        do {
            let _: GetEvidenceResponse = try await client.call(.getEvidence, GetEvidenceRequest(runtimeData: [1]))
            Issue.record("a quote without configfs-tsm")
        } catch let error as TTRPCError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("configfs-tsm"))
        }
        await client.close()
    }

    @Test func rejectsADifferentDigest() async throws {
        let agent = try AgentProcess(setUp: Self.tdxMachine(field: Self.field))
        let client = try await agent.waitUntilListening()
        do {
            try await client.bind([UInt8](repeating: 0x5D, count: 48))
            Issue.record("mismatch accepted")
        } catch let error as TTRPCError {
            #expect(error.code == .permissionDenied)
            #expect(error.message.contains(String(repeating: "5c", count: 48)))
        }
        #expect(try await client.status().state == "Rejected")
        await client.close()
    }

    @Test func zeroMRCONFIGIDWithoutInitDataIsAbsent() async throws {
        let agent = try AgentProcess(setUp: Self.tdxMachine(field: [UInt8](repeating: 0, count: 48)))
        let client = try await agent.waitUntilListening()
        let status = try await client.status()
        #expect(status.tee == "tdx")
        #expect(status.state == "InitDataVerified")
        #expect(status.binding == "absent")
        await client.close()
    }

    @Test func initDataDocumentDigestFromAactlMatchesAtLaunch() async throws {
        let document = PackagePaths.fixtures + "/initdata/initdata.toml"
        let digest = try CommandResult.run("aactl", ["initdata", "digest", document, "--tee", "tdx"])
        let field = try #require(digest.stdout.trimmingCharacters(in: .whitespacesAndNewlines).hexBytes)
        let agent = try AgentProcess(["--initdata_toml", document], setUp: Self.tdxMachine(field: field))
        let client = try await agent.waitUntilListening()
        let status = try await client.status()
        #expect(status.state == "Configured")
        #expect(status.configSource == "initdata")
        await client.close()
    }
}

extension String {
    var hexBytes: [UInt8]? {
        guard count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = startIndex
        while index < endIndex {
            let next = self.index(index, offsetBy: 2)
            guard let byte = UInt8(self[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

@Suite struct FieldlessPlatformTests {
    @Test(arguments: [
        ("se", "/sys/firmware/uv/prot_virt_guest", "1\n"),
        ("csv", "/dev/csv-guest", ""),
    ])
    func detectedBoundAsUnsupportedAndEvidenceRefused(_ tee: String, _ path: String, _ contents: String) async throws {
        let agent = try AgentProcess(setUp: { directory in
            let file = directory + "/root" + path
            try FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try contents.write(toFile: file, atomically: true, encoding: .utf8)
        })
        let client = try await agent.waitUntilListening()
        var status = try await client.status()
        #expect(status.tee == tee)
        #expect(status.state == "InitDataVerified")
        #expect(status.binding == "unsupported")
        try await client.bind([1, 2, 3])
        status = try await client.status()
        #expect(status.binding == "recorded")
        do {
            let _: GetEvidenceResponse = try await client.call(.getEvidence, GetEvidenceRequest(runtimeData: []))
            Issue.record("\(tee) evidence")
        } catch let error as TTRPCError {
            #expect(error.code == .unimplemented)
            #expect(error.message == "this build cannot produce \(tee) evidence")
        }
        #expect(agent.stderr.contains("\(tee) has no init-data field"))
        await client.close()
    }

    /// SEV and SEV-ES without SNP: upstream removed them and kbs-types has no
    /// `sev`, so a KBS cannot parse the name. Such a guest is what upstream
    /// finds it to be: the sample TEE, or `tpm` when it has a TPM.
    @Test(arguments: [
        ("flags\t\t: fpu vme sev sev_es\n", false, "sample"), ("flags\t\t: fpu sev sev_es sev_snp\n", false, "sample"),
        ("flags\t\t: fpu vme sev sev_es\n", true, "tpm"),
    ])
    func anSEVGuestIsNoTEEOfItsOwn(_ cpuinfo: String, _ tpm: Bool, _ tee: String) async throws {
        let agent = try AgentProcess(setUp: { directory in
            try FileManager.default.createDirectory(atPath: directory + "/root/proc", withIntermediateDirectories: true)
            try cpuinfo.write(toFile: directory + "/root/proc/cpuinfo", atomically: true, encoding: .utf8)
            if tpm {
                try FileManager.default.createDirectory(
                    atPath: directory + "/root/dev", withIntermediateDirectories: true)
                _ = FileManager.default.createFile(atPath: directory + "/root/dev/tpmrm0", contents: Data())
            }
        })
        let client = try await agent.waitUntilListening()
        let status = try await client.status()
        #expect(status.tee == tee)
        #expect(!agent.stderr.contains("sev has no init-data field"), "\(agent.stderr)")
        await client.close()
    }
}

/// The device-node paths, as far as this machine can reach them: a regular
/// file where the device node would be makes the ioctl fail, and the agent
/// must say which call failed and stay usable.
@Suite struct DeviceNodeTests {
    @Test(arguments: [
        ("tdx", "/dev/tdx_guest", "TDX_CMD_GET_REPORT0 failed"), ("snp", "/dev/sev-guest", "SNP_GET_REPORT failed"),
    ])
    func ioctlFailureIsAClearUnavailable(_ tee: String, _ device: String, _ mention: String) async throws {
        let agent = try AgentProcess(setUp: { directory in
            try FileManager.default.createDirectory(atPath: directory + "/root/dev", withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: directory + "/root" + device, contents: Data())
        })
        let client = try await agent.waitUntilListening()
        let status = try await client.status()
        #expect(status.tee == tee)
        #expect(status.state == "Booting", "the field could not be read at launch, so nothing is assumed")
        do {
            try await client.bind([1])
            Issue.record("bound without a device")
        } catch let error as TTRPCError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains(mention), "\(error.message)")
        }
        #expect(try await client.status().state == "Booting")
        await client.close()
    }
}
