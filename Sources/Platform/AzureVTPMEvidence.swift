import AttestationFormats
import DataEncoding
import PlatformInterface

/// The evidence of an Azure confidential VM, version 2 of the layout trustee's
/// `az-snp-vtpm` and `az-tdx-vtpm` verifiers read:
///
///     {"version": 2,
///      "tpm_quote": {"signature": HEX, "message": HEX, "pcrs": [HEX x 24]},
///      "hcl_report": BASE64URL,
///      "vcek": BASE64URL (DER),         // az-snp-vtpm
///      "cc_eventlog": BASE64 or null,   // az-snp-vtpm
///      "td_quote": BASE64URL}           // az-tdx-vtpm
///
/// The report data goes twice into it: as the quote's qualifying data, and
/// through NV index 0x01400002 into the HCL report, whose `user-data` the
/// paravisor sets and whose variable data it hashes into the hardware
/// report. The quote is signed by the attestation key the paravisor
/// provisioned (persistent handle 0x81000003), whose public half the HCL
/// report carries; no other key will do. az-snp-vtpm adds the agent's event
/// log (after a spec ID event declaring SHA-256), which trustee replays
/// against the quoted PCRs, as upstream's attester does since 2026;
/// az-tdx-vtpm evidence carries none upstream, nor here.
extension TPMPlatform {
    /// Where the report data goes for the paravisor to copy into the HCL report.
    static let hclReportDataIndex: UInt32 = 0x0140_0002
    /// How long the paravisor may take to refresh the HCL report (upstream
    /// sleeps 3 s once; this reads until the report carries the data).
    static let hclRefreshLimit = Duration.seconds(5)
    static let hclRefreshInterval = Duration.milliseconds(50)

    func azureEvidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        guard (1...64).contains(reportData.count) else {
            throw PlatformError(
                .invalidInput,
                "\(tee.rawValue) report data is 1 to 64 bytes (the TPM quote's qualifying data), got \(reportData.count)"
            )
        }
        guard let azureMetadata else {
            throw PlatformError(
                .unsupported,
                "\(tee.rawValue) evidence needs Azure's instance metadata service, which this platform was made without"
            )
        }
        let (hclBytes, report) = try await hclReport(carrying: reportData)
        let quote = try await DeviceThreads.run { () throws(PlatformError) in try self.quote(qualifying: reportData) }
        var members: [(String, JSON)] = [
            ("version", .unsigned(2)),
            (
                "tpm_quote",
                .object([
                    ("signature", .string(Hex.encode(try Self.rsassaSignature(quote.signature)))),
                    ("message", .string(Hex.encode(quote.message))),
                    ("pcrs", .array(quote.pcrs.map { .string(Hex.encode($0)) })),
                ])
            ),
            ("hcl_report", .string(Base64.urlEncode(hclBytes, padded: true))),
        ]
        if tee == .azTdxVtpm {
            let tdQuote = try await azureMetadata.tdQuote(report: report.hardwareReport)
            members.append(("td_quote", .string(Base64.urlEncode(tdQuote, padded: true))))
        } else {
            let vcek = try await azureMetadata.vcekCertificate()
            members.append(("vcek", .string(Base64.urlEncode(vcek, padded: true))))
            members.append(
                ("cc_eventlog", try EvidenceEventLog.member(files: files, aaelFile: eventLogFile, algorithm: .sha256)))
        }
        return JSON.object(members).serializedBytes()
    }

    /// Hands `reportData` to the paravisor and reads the HCL report until its
    /// user-data carries it and its hardware report binds its variable data.
    /// A malformed or unbound read is read again: it may be torn, half of one
    /// refresh and half of the next, and only the last read's fault is told.
    func hclReport(carrying reportData: [UInt8]) async throws(PlatformError) -> ([UInt8], HCLReport) {
        try await DeviceThreads.run { () throws(PlatformError) in try nvWrite(Self.hclReportDataIndex, reportData) }
        let clock = ContinuousClock()
        let giveUp = clock.now + Self.hclRefreshLimit
        while true {
            guard
                let bytes = try await DeviceThreads.run({ () throws(PlatformError) in try nvRead(Self.hclReportIndex) })
            else {
                throw PlatformError(.deviceFailure, "the HCL report's NV index 0x01400001 is no longer defined")
            }
            switch Self.acceptedHCLReport(bytes, carrying: reportData, tee: tee) {
            case .success(let report): return (bytes, report)
            case .failure(let fault): guard clock.now < giveUp else { throw fault }
            }
            do { try await Task.sleep(for: Self.hclRefreshInterval) } catch {
                throw PlatformError(.timedOut, "the call ended while waiting for the paravisor's HCL report")
            }
        }
    }

    /// The report in `bytes` if it is whole, of this TEE, made for
    /// `reportData` and bound to its hardware report; otherwise why not.
    static func acceptedHCLReport(
        _ bytes: [UInt8], carrying reportData: [UInt8], tee: TEEType
    )
        -> Result<HCLReport, PlatformError>
    {
        let report: HCLReport
        let userData: [UInt8]
        let bound: Bool
        do {
            report = try HCLReport(parsing: bytes)
            userData = try report.userData()
            bound = try report.hardwareReportBindsVariableData()
        } catch {
            return .failure(
                PlatformError(
                    .deviceFailure, "the HCL report in NV index 0x01400001 is malformed: \(error)", cause: error))
        }
        guard report.tee == tee else {
            return .failure(
                PlatformError(
                    .deviceFailure, "the HCL report now holds a \(report.tee.rawValue) report, not \(tee.rawValue)"))
        }
        guard userData.starts(with: reportData) else {
            return .failure(
                PlatformError(
                    .deviceFailure,
                    "the paravisor did not copy the report data from NV index 0x01400002 into the HCL report within \(hclRefreshLimit): its user-data is still \(Hex.encode(userData.prefix(64)))"
                ))
        }
        guard bound else {
            return .failure(
                PlatformError(
                    .deviceFailure,
                    "the HCL report's hardware report data does not begin with SHA-256 of its variable data, so no verifier would tie the vTPM to the TEE"
                ))
        }
        return .success(report)
    }

    /// The signature bytes of a marshalled TPMT_SIGNATURE (big-endian sigAlg,
    /// hash, then a sized buffer), which must be RSASSA: trustee verifies
    /// them as PKCS #1 v1.5 with SHA-256.
    static func rsassaSignature(_ marshalled: [UInt8]) throws(PlatformError) -> [UInt8] {
        func uint16(_ at: Int) -> Int { Int(marshalled[at]) << 8 | Int(marshalled[at + 1]) }
        guard marshalled.count >= 6, uint16(0) == 0x0014, uint16(2) == 0x000B,
            marshalled.count == 6 + uint16(4)
        else {
            throw PlatformError(
                .deviceFailure, "the attestation key did not sign with RSASSA-SHA256, which trustee's verifier needs")
        }
        return Array(marshalled[6...])
    }
}
