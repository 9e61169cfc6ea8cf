import AgentCore
import AttestationAgentAPI
import AttestationFormats
import Configuration
import DataEncoding
import Doctor
import HTTPClient
import NIOCore
import NIOEmbedded
import Platform
import PlatformInterface
import ProtobufCSupport
import TOML
import TTRPC

/// Every parser of bytes from outside the agent (the host, guest processes,
/// the network), one fuzz target each. A target may throw or refuse any
/// input; it must never crash, hang or trip a property (checked with
/// `precondition`, which the fuzzer reports as a crash).
public enum FuzzTargets {
    public typealias Target = @Sendable ([UInt8]) -> Void

    public static let all: [(name: String, run: Target)] = [
        ("json", json), ("toml", toml), ("base64", base64), ("hex", hex),
        ("initdata", initdata), ("config", config), ("service-url", serviceURL),
        ("inspect", inspect), ("snp-evidence", snpEvidence), ("snp-certs", snpCertificates),
        ("cca-token", ccaToken), ("hcl", hcl), ("ccel", ccel), ("wal", writeAheadRecord),
        ("frames", frames), ("connection", ConnectionTarget.run), ("envelope", envelope), ("messages", messages),
        ("tpm-attest", tpmAttest), ("doctor-evidence", doctorEvidence), ("nvidia-evidence", nvidiaEvidence),
    ]

    public static func named(_ name: String) -> Target? {
        all.first { $0.name == name }?.run
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: Encodings

    /// Serialising what was parsed gives JSON that parses again to the same text.
    static let json: Target = { bytes in
        guard let value = try? JSON(parsing: text(bytes)) else { return }
        let once = value.serialized()
        guard let again = try? JSON(parsing: once) else {
            preconditionFailure("serialized JSON does not parse: \(once)")
        }
        precondition(again.serialized() == once, "serialisation is not stable: \(once)")
        _ = try? JSON(parsing: value.canonicalized())
        _ = try? JSON(parsing: value.prettyPrinted())
    }

    static let toml: Target = { bytes in _ = try? TOMLParser.parse(text(bytes)) }

    /// What decodes re-encodes to text that decodes to the same bytes.
    static let base64: Target = { bytes in
        if let decoded = Base64.decode(text(bytes)) { precondition(Base64.decode(Base64.encode(decoded)) == decoded) }
        if let decoded = Base64.urlDecode(text(bytes)) {
            precondition(Base64.urlDecode(Base64.urlEncode(decoded)) == decoded)
        }
    }

    static let hex: Target = { bytes in
        if let decoded = Hex.decode(text(bytes)) { precondition(Hex.decode(Hex.encode(decoded)) == decoded) }
    }

    // MARK: Documents from the host

    static let initdata: Target = { bytes in _ = try? InitDataDocument(text: text(bytes)).digest }

    /// The first byte chooses TOML or JSON.
    static let config: Target = { bytes in
        guard let first = bytes.first else { return }
        _ = try? AgentConfig(
            text: text(Array(bytes.dropFirst())), format: first & 1 == 0 ? .toml : .json, origin: "fuzz")
    }

    /// A KBS or attestation-service URL from a configuration: what parses
    /// has a host and a port in range, and written back as scheme, Host
    /// header and path prefix, parses to the same value.
    static let serviceURL: Target = { bytes in
        guard let url = ServiceURL(text(bytes)) else { return }
        precondition(!url.host.isEmpty && (1...65535).contains(url.port), "parsed \(url)")
        let written = (url.secure ? "https://" : "http://") + url.hostHeader + url.pathPrefix
        precondition(ServiceURL(written) == url, "\(written) does not parse back to \(url)")
    }

    // MARK: Reports from the TEE's kernel interfaces

    static let inspect: Target = { bytes in _ = try? EvidenceInspector.inspect(bytes).json.serialized() }
    static let snpEvidence: Target = { bytes in _ = try? SNPEvidenceJSON.attestationReport(bytes).serialized() }
    static let snpCertificates: Target = { bytes in _ = try? SNPEvidenceJSON.certificateChain(bytes).serialized() }
    static let ccaToken: Target = { bytes in _ = try? CCAToken(parsing: bytes) }
    static let hcl: Target = { bytes in
        _ = try? HCLReport.teeType(bytes)
        guard let report = try? HCLReport(parsing: bytes) else { return }
        _ = try? report.hardwareReportData()
        _ = try? report.userData()
        _ = try? report.hardwareReportBindsVariableData()
    }

    static let tpmAttest: Target = { bytes in _ = try? TPMQuoteAttest(parsing: bytes) }

    /// GPU evidence as aactl doctor reads it (the device list, each report's
    /// request nonce, the GPU check): devices written back read back the
    /// same, unless the base64 written happens to read as hex (the older
    /// encoding trustee tries first, and so does this reader).
    static let nvidiaEvidence: Target = { bytes in
        _ = try? NvidiaEvidence.requestNonce(report: bytes)
        _ = GPUDiagnosis.check(listed: true, answer: .evidence(bytes), reportData: [1, 2, 3], deviceNodePresent: false)
        guard let json = try? JSON(parsing: text(bytes)), let devices = try? NvidiaEvidence.devices(json) else {
            return
        }
        guard devices.allSatisfy({ Hex.decode(Base64.encode($0.report)) == nil }) else { return }
        precondition((try? NvidiaEvidence.devices(NvidiaEvidence.json(devices))) == devices, "devices do not read back")
    }

    /// aactl doctor's reading of evidence, as each TEE, and of the event log
    /// file: what it reads is trusted little more than the network.
    static let doctorEvidence: Target = { bytes in
        for tee in ["sample", "tdx", "snp", "cca", "tpm", "az-snp-vtpm"] {
            _ = EvidenceDiagnosis.check(tee: tee, evidence: bytes, reportData: [1, 2, 3], digest: [4, 5, 6])
        }
        _ = EvidenceDiagnosis.check(
            tee: "tdx", evidence: bytes, reportData: [1, 2, 3], digest: [4, 5, 6], anchoredInRTMR3: true)
        _ = EventLogDiagnosis.check(
            logFile: "/run/attestation-agent/eventlog", log: .success(bytes), writeAheadRecordPresent: false)
    }

    /// A trimmed CCEL table is a prefix of the table, and trims to itself.
    static let ccel: Target = { bytes in
        if let rtmrs = try? CCEventLog.replayedRTMRs(bytes) {
            precondition(rtmrs.count == 4 && rtmrs.allSatisfy { $0.count == 48 }, "four SHA-384 RTMRs")
        }
        _ = try? CCEventLog.aaelEvents(bytes)
        guard let trimmed = try? CCEventLog.trimmed(bytes) else { return }
        precondition(bytes.starts(with: trimmed), "the trimmed table is not a prefix")
        _ = try? CCEventLog.assemble(ccel: bytes, aael: bytes, algorithm: .sha384)
    }

    // MARK: The agent's own files

    /// The event log's write-ahead record, read back after a crash (the
    /// first byte picks the digest size, the second the log's size): what
    /// parses writes back to the same record, and is never appended past the
    /// end of the log.
    static let writeAheadRecord: Target = { bytes in
        guard bytes.count >= 2 else { return }
        let digestSize = bytes[0] & 1 == 0 ? 32 : 48
        let logSize = Int(bytes[1]) * 61
        guard
            let record = try? WriteAheadRecord(parsing: Array(bytes.dropFirst(2)), digestSize: digestSize, path: "wal")
        else { return }
        precondition(
            (try? WriteAheadRecord(parsing: record.bytes, digestSize: digestSize, path: "wal")) == record,
            "the record does not round-trip")
        if let offset = try? record.appendOffset(logSize: logSize, logPath: "log") {
            precondition(offset >= 0 && offset <= logSize, "appends at \(offset) in a log of \(logSize) bytes")
        }
    }

    // MARK: The wire

    /// The byte stream of a connection, split where its first byte says, into
    /// the frame decoder; every frame's data into the request envelope.
    static let frames: Target = { bytes in
        let channel = EmbeddedChannel()
        try? channel.pipeline.syncOperations.addHandler(TTRPCFrameReader(frameTimeout: .seconds(10)))
        let split = Int(bytes.first ?? 0) % max(bytes.count, 1)
        for piece in [bytes[..<split], bytes[split...]] {
            _ = try? channel.writeInbound(ByteBuffer(bytes: piece))
            while let frame = try? channel.readInbound(as: TTRPCInboundFrame.self) {
                if case .frame(let frame) = frame { _ = try? TTRPCRequest(protobufBytes: frame.data) }
            }
        }
        _ = try? channel.finish()
    }

    /// Both envelopes; what decodes encodes and decodes to the same value.
    static let envelope: Target = { bytes in
        if let request = try? TTRPCRequest(protobufBytes: bytes) {
            precondition(
                (try? TTRPCRequest(protobufBytes: request.protobufBytes())) == request, "request does not round-trip")
        }
        if let response = try? TTRPCResponse(protobufBytes: bytes) {
            _ = response.protobufBytes()
        }
    }

    /// Every message of the service, through protobuf-c and the Swift wrappers.
    static let messages: Target = { bytes in
        func roundTrip<M: ProtobufCodable & Equatable>(_ type: M.Type) {
            guard let message = try? M(protobufBytes: bytes) else { return }
            precondition((try? M(protobufBytes: message.protobufBytes())) == message, "\(M.self) does not round-trip")
        }
        roundTrip(GetEvidenceRequest.self)
        roundTrip(GetEvidenceResponse.self)
        roundTrip(GetTokenRequest.self)
        roundTrip(GetTokenResponse.self)
        roundTrip(ExtendRuntimeMeasurementRequest.self)
        roundTrip(ExtendRuntimeMeasurementResponse.self)
        roundTrip(InitDataDigestRequest.self)
        roundTrip(UpdateConfigurationRequest.self)
        roundTrip(GetTeeTypeResponse.self)
        roundTrip(GetAdditionalTeesResponse.self)
        roundTrip(GetStatusResponse.self)
        roundTrip(EmptyMessage.self)
    }
}
