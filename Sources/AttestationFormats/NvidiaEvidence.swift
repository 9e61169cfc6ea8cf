import DataEncoding

/// The `nvidia` additional evidence, in the layout trustee's nvidia verifier
/// reads (deps/verifier/src/nvidia) and upstream's attester writes:
///
///     {"device_evidence_list": [{"arch": "HOPPER"|"BLACKWELL", "uuid": "GPU-...",
///                                "evidence": BASE64 report, "certificate": BASE64 PEM chain}]}
///
/// The report is an SPDM 1.1 GET_MEASUREMENTS request (whose nonce the GPU
/// was asked for) followed by the GPU's signed response; the chain is the
/// GPU's attestation certificates in PEM, leaf first.
public enum NvidiaEvidence {
    public struct Device: Sendable, Equatable {
        public let architecture: String
        public let uuid: String
        public let report: [UInt8]
        public let certificateChain: [UInt8]

        public init(architecture: String, uuid: String, report: [UInt8], certificateChain: [UInt8]) {
            self.architecture = architecture
            self.uuid = uuid
            self.report = report
            self.certificateChain = certificateChain
        }
    }

    /// The GPU's nonce: the report data's first 32 bytes, zero-padded, as
    /// upstream's attester takes it and trustee's verifier expects it.
    public static func nonce(reportData: [UInt8]) -> [UInt8] { InitDataDigest.fitted(reportData, to: 32) }

    public static func json(_ devices: [Device]) -> JSON {
        .object([
            (
                "device_evidence_list",
                .array(
                    devices.map {
                        .object([
                            ("arch", .string($0.architecture)), ("uuid", .string($0.uuid)),
                            ("evidence", .string(Base64.encode($0.report))),
                            ("certificate", .string(Base64.encode($0.certificateChain))),
                        ])
                    })
            )
        ])
    }

    /// Reads the evidence as trustee does: the report in hex (the older
    /// encoding) or base64, the certificate chain in base64.
    public static func devices(_ evidence: JSON) throws(ReportParseError) -> [Device] {
        guard case .array(let list)? = evidence["device_evidence_list"] else {
            throw ReportParseError("the nvidia evidence has no device_evidence_list array")
        }
        var devices: [Device] = []
        for (index, item) in list.enumerated() {
            guard let architecture = item["arch"]?.string, let evidence = item["evidence"]?.string,
                let certificate = item["certificate"]?.string
            else {
                throw ReportParseError("device \(index) of the nvidia evidence lacks arch, evidence or certificate")
            }
            guard let report = Hex.decode(evidence) ?? Base64.decode(evidence) else {
                throw ReportParseError("device \(index)'s evidence is neither hex nor base64")
            }
            guard let chain = Base64.decode(certificate) else {
                throw ReportParseError("device \(index)'s certificate is not base64")
            }
            devices.append(
                Device(
                    architecture: architecture, uuid: item["uuid"]?.string ?? "unknown", report: report,
                    certificateChain: chain))
        }
        return devices
    }

    /// The nonce in the report's SPDM GET_MEASUREMENTS request (SPDM 1.1:
    /// version 0x11, code, two parameters, then 32 bytes of nonce).
    public static func requestNonce(report: [UInt8]) throws(ReportParseError) -> [UInt8] {
        let bytes = ReportBytes(report, what: "the GPU's attestation report")
        let version = try bytes.field("SPDM version", at: 0, length: 1)[0]
        guard version == 0x11 else {
            throw ReportParseError(
                "the GPU's attestation report speaks SPDM version 0x\(String(version, radix: 16)), not 1.1")
        }
        return try bytes.field("request nonce", at: 4, length: 32)
    }
}

/// Why a GPU could not attest, as the agent's `nvidia` errors say it: each
/// cause's phrase appears in the message, so that `aactl doctor` can tell
/// them apart and give the fix.
public enum NvidiaGPUCause: String, Sendable, CaseIterable {
    case noLibrary, noGPU, notCapable, confidentialComputingOff, hung, failed

    /// The phrase the agent's message carries for this cause.
    public var phrase: String {
        switch self {
        case .noLibrary: "libnvidia-ml.so.1"
        case .noGPU: "NVML finds no GPU"
        case .notCapable: "has confidential computing"
        case .confidentialComputingOff: "confidential computing is off"
        case .hung: "not answered"
        case .failed: ""
        }
    }

    /// The cause a message names; `failed` when it names none of the others.
    public init(message: String) {
        self = Self.allCases.first { $0 != .failed && message.containsBytes(of: $0.phrase) } ?? .failed
    }
}
