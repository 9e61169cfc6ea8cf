import AttestationFormats
import Crypto
import DataEncoding
import NIOPosix
import PlatformInterface
import Testing

@testable import Platform

/// The pieces of Azure evidence the agent reads: the HCL report, the TPM
/// signature, the metadata service's PEM. Reports are laid out here byte by
/// byte from the HCL layout, not with the parser's own offsets.
@Suite struct AzureFormatsTests {
    static func le(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    /// "HCLA", six more u32 of header, 1184 bytes of hardware report whose
    /// report data (SNP 0x50, TDREPORT 128) is `marker`, IGVM request data, `variable`.
    static func hcl(
        type: Int, variable: [UInt8], declaredSize: Int? = nil,
        marker: [UInt8] = [UInt8](repeating: 0xEE, count: 64)
    ) -> [UInt8] {
        var hardware = [UInt8](repeating: 0, count: 1184)
        let at = type == 2 ? 0x50 : 128
        hardware.replaceSubrange(at..<at + 64, with: marker)
        let header = Array("HCLA".utf8) + [2, 1800, 2, 0, 0, 0, 0].flatMap(le)
        let igvm = [20 + variable.count, 1, type, 1, declaredSize ?? variable.count].flatMap(le)
        return header + hardware + igvm + variable
    }

    static let variable = Array(#"{"keys":[{"kid":"HCLAkPub","kty":"RSA"}],"user-data":"0A0BFF00"}"#.utf8)

    @Test(arguments: [(2, TEEType.azSnpVtpm, 1184), (4, .azTdxVtpm, 1024)])
    func reportParts(_ type: Int, _ tee: TEEType, _ hardwareSize: Int) throws {
        let report = try HCLReport(parsing: Self.hcl(type: type, variable: Self.variable))
        #expect(report.tee == tee)
        #expect(report.hardwareReport.count == hardwareSize)
        #expect(try report.hardwareReportData() == [UInt8](repeating: 0xEE, count: 64))
        #expect(report.reportDataHashType == 1)
        #expect(report.variableData == Self.variable)
        #expect(try report.userData() == [0x0A, 0x0B, 0xFF, 0x00], "upper-case hex, as Azure writes it")
    }

    @Test func malformedReports() throws {
        #expect(throws: ReportParseError.self) {
            try HCLReport(parsing: Self.hcl(type: 2, variable: Self.variable, declaredSize: 5000))
        }
        #expect(throws: ReportParseError.self) {
            try HCLReport(parsing: Array("HCLB".utf8) + [UInt8](repeating: 0, count: 2000))
        }
        #expect(throws: ReportParseError.self) { try HCLReport(parsing: Self.hcl(type: 3, variable: Self.variable)) }
        let notJSON = try HCLReport(parsing: Self.hcl(type: 2, variable: Array("{not json".utf8)))
        #expect(throws: ReportParseError.self) { try notJSON.userData() }
        let notHex = try HCLReport(parsing: Self.hcl(type: 2, variable: Array(#"{"user-data":"xyz"}"#.utf8)))
        #expect(throws: ReportParseError.self) { try notHex.userData() }
        let none = try HCLReport(parsing: Self.hcl(type: 4, variable: Array(#"{"keys":[]}"#.utf8)))
        #expect(throws: ReportParseError.self) { try none.userData() }
    }

    /// A report is taken only when it was made for the report data and its
    /// hardware report carries SHA-256 (here swift-crypto's) of its variable
    /// data; a read torn between two refreshes pairs one's hardware report
    /// with the other's variable data, and is read again.
    @Test(arguments: [(2, TEEType.azSnpVtpm), (4, .azTdxVtpm)])
    func reportsAreTakenWhenWholeAndBound(_ type: Int, _ tee: TEEType) throws {
        func bound(_ variable: [UInt8]) -> [UInt8] {
            Array(SHA256.hash(data: variable)) + [UInt8](repeating: 0, count: 32)
        }
        let earlier = Array(#"{"keys":[],"user-data":"0102"}"#.utf8)
        let whole = Self.hcl(type: type, variable: Self.variable, marker: bound(Self.variable))
        let report = try TPMPlatform.acceptedHCLReport(whole, carrying: [0x0A, 0x0B], tee: tee).get()
        #expect(try report.hardwareReportBindsVariableData())

        let torn = Self.hcl(type: type, variable: Self.variable, marker: bound(earlier))
        #expect(throws: PlatformError.self) {
            try TPMPlatform.acceptedHCLReport(torn, carrying: [0x0A, 0x0B], tee: tee).get()
        }
        do {
            _ = try TPMPlatform.acceptedHCLReport(torn, carrying: [0x0A, 0x0B], tee: tee).get()
        } catch {
            #expect(error.description.contains("does not begin with SHA-256 of its variable data"), "\(error)")
        }
        let stale = Self.hcl(type: type, variable: earlier, marker: bound(earlier))
        #expect(throws: PlatformError.self) {
            try TPMPlatform.acceptedHCLReport(stale, carrying: [0x0A, 0x0B], tee: tee).get()
        }
        let otherTEE: TEEType = tee == .azSnpVtpm ? .azTdxVtpm : .azSnpVtpm
        #expect(throws: PlatformError.self) {
            try TPMPlatform.acceptedHCLReport(whole, carrying: [0x0A], tee: otherTEE).get()
        }
        let cut = Array(whole.dropLast())
        #expect(throws: PlatformError.self) { try TPMPlatform.acceptedHCLReport(cut, carrying: [0x0A], tee: tee).get() }
    }

    /// TPMT_SIGNATURE: sigAlg RSASSA (0x0014), hash SHA-256 (0x000B), size, bytes.
    @Test func signatureBytesOfRSASSA() throws {
        #expect(try TPMPlatform.rsassaSignature([0x00, 0x14, 0x00, 0x0B, 0x00, 0x03, 7, 8, 9]) == [7, 8, 9])
        for wrong: [UInt8] in [
            [0x00, 0x18, 0x00, 0x0B, 0x00, 0x01, 7],  // ECDSA
            [0x00, 0x14, 0x00, 0x0C, 0x00, 0x01, 7],  // SHA-384
            [0x00, 0x14, 0x00, 0x0B, 0x00, 0x05, 7],  // cut short
            [0x00, 0x14],
        ] {
            #expect(throws: PlatformError.self) { try TPMPlatform.rsassaSignature(wrong) }
        }
    }

    @Test func certificateFromPEM() {
        let der: [UInt8] = [0x30, 0x82, 0x01, 0x0A, 0xFF]
        let pem = "issuer text\r\n-----BEGIN CERTIFICATE-----\r\n\(Base64.encode(der))\r\n-----END CERTIFICATE-----\r\n"
        #expect(AzureMetadataService.firstCertificate(pem) == der)
        #expect(AzureMetadataService.firstCertificate("-----BEGIN CERTIFICATE-----\nMIIB") == nil)
        #expect(
            AzureMetadataService.firstCertificate("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----") == nil)
        #expect(AzureMetadataService.firstCertificate("") == nil)
    }

    @Test func metadataServiceURL() {
        #expect(
            AzureMetadataService(environment: [:], group: MultiThreadedEventLoopGroup.singleton).baseURL
                == "http://169.254.169.254")
        #expect(
            AzureMetadataService(environment: ["AA_AZURE_IMDS_URL": ""], group: MultiThreadedEventLoopGroup.singleton)
                .baseURL == "http://169.254.169.254")
        #expect(
            AzureMetadataService(
                environment: ["AA_AZURE_IMDS_URL": "http://127.0.0.1:9/"], group: MultiThreadedEventLoopGroup.singleton
            ).baseURL
                == "http://127.0.0.1:9")
    }
}
