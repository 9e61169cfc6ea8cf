import AgentCore
import DataEncoding
import Logging
import PlatformInterface
import Testing

@testable import Platform

/// Initdata binding on each hardware field, both ways, with reports whose
/// init-data field is non-zero (synthetic: the real captures' are all zero).
@Suite struct BindingOnPlatformsTests {
    static func platforms() throws -> [(any TEEPlatform, [UInt8])] {
        let snp = try Reports.bytes(Reports.synthetic + "/snp-report-v3.bin")
        let cca = try Reports.bytes(Reports.synthetic + "/cca-token.cbor")
        let tdx = PlatformTests.tdxKernel()
        let mrconfigid = [UInt8](repeating: 0x3C, count: 48)
        tdx.set(TDXPlatform.measurements + "/mrconfigid", mrconfigid)
        return [
            (TDXPlatform(files: tdx), mrconfigid),
            (
                SNPPlatform(files: FakeKernel(provider: "sev_guest") { _ in snp }),
                Hex.decode(Reports.expected["snp-report-v3.bin"]!["host_data"]!)!
            ),
            (
                CCAPlatform(files: FakeKernel(provider: "arm_cca_guest") { _ in cca }),
                Hex.decode(Reports.expected["cca-token.cbor"]!["personalization_value"]!)!
            ),
        ]
    }

    @Test func matchingDigestVerifies() async throws {
        for (platform, field) in try Self.platforms() {
            let agent = AttestationAgent(platform: platform, logger: Logger(label: "test"))
            await agent.startWithoutInitData()
            #expect(agent.status.state == .booting, "\(platform.tee): a set field expects initdata")
            do {
                try await agent.bindInitData(digest: field)
            } catch {
                Issue.record("\(platform.tee): \(error)")
            }
            #expect(agent.status.state == .initDataVerified, "\(platform.tee)")
            #expect(agent.status.binding == .matched)
        }
    }

    @Test func differentDigestIsRejected() async throws {
        for (platform, field) in try Self.platforms() {
            let agent = AttestationAgent(platform: platform, logger: Logger(label: "test"))
            var wrong = field
            wrong[0] ^= 0xFF
            do {
                try await agent.bindInitData(digest: wrong)
                Issue.record("\(platform.tee): a wrong digest was accepted")
            } catch {
                #expect(error.code == .permissionDenied)
                #expect(error.message.contains(Hex.encode(field)))
            }
            #expect(agent.status.state == .rejected)
        }
    }

    @Test func snpDigestIsTruncatedToHostData() async throws {
        let snp = try Reports.bytes(Reports.synthetic + "/snp-report-v3.bin")
        let field = Hex.decode(Reports.expected["snp-report-v3.bin"]!["host_data"]!)!
        let agent = AttestationAgent(
            platform: SNPPlatform(files: FakeKernel(provider: "sev_guest") { _ in snp }), logger: Logger(label: "test"))
        try await agent.bindInitData(digest: field + [UInt8](repeating: 0xEE, count: 16))
        #expect(agent.status.binding == .matched)
    }
}
