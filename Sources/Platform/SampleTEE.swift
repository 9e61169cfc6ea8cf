import AttestationFormats
import DataEncoding
import PlatformInterface

/// The TEE of a machine with none: evidence that proves nothing, for
/// development and tests. Its init-data field exists only when
/// `AA_SAMPLE_INITDATA` simulates one, so the binding flow can be tried.
public struct SampleTEE: TEEPlatform {
    public let tee = TEEType.sample
    static let fieldSize = TEEType.sample.initDataFieldSize!
    /// The simulated field, zero-padded to 64 bytes; nil when none is simulated.
    public let simulatedField: [UInt8]?
    /// How long producing evidence takes, as a real quote does (tens to
    /// hundreds of milliseconds); zero by default.
    public let evidenceDelayMilliseconds: UInt64

    public init(simulatedField: [UInt8]?, evidenceDelayMilliseconds: UInt64 = 0) {
        self.simulatedField = simulatedField.map { InitDataDigest.fitted($0, to: Self.fieldSize) }
        self.evidenceDelayMilliseconds = evidenceDelayMilliseconds
    }

    /// Reads `AA_SAMPLE_INITDATA` (hex, up to 64 bytes) and
    /// `AA_SAMPLE_EVIDENCE_DELAY_MS`.
    public init(environment: [String: String]) throws(PlatformError) {
        var field: [UInt8]?
        if let text = environment["AA_SAMPLE_INITDATA"] {
            guard let bytes = Hex.decode(text), bytes.count <= 64 else {
                throw PlatformError(.invalidInput, "AA_SAMPLE_INITDATA must be at most 64 bytes of hex, got '\(text)'")
            }
            field = bytes
        }
        var delay: UInt64 = 0
        if let text = environment["AA_SAMPLE_EVIDENCE_DELAY_MS"] {
            guard let value = UInt64(text), value <= 600_000 else {
                throw PlatformError(
                    .invalidInput, "AA_SAMPLE_EVIDENCE_DELAY_MS must be milliseconds from 0 to 600000, got '\(text)'")
            }
            delay = value
        }
        self.init(simulatedField: field, evidenceDelayMilliseconds: delay)
    }

    public var initDataAnchor: InitDataAnchor {
        simulatedField == nil ? .none : .hardwareField(size: Self.fieldSize)
    }

    public func readInitDataField() async throws(PlatformError) -> [UInt8] {
        guard let simulatedField else {
            throw PlatformError(.unsupported, "the sample TEE has no init-data field (set AA_SAMPLE_INITDATA)")
        }
        return simulatedField
    }

    public func measureInitData(_ digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "the sample TEE has no PCR")
    }

    /// `{"svn":"1","report_data":"<base64>"}`, echoing the report data as upstream does.
    public func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        if evidenceDelayMilliseconds > 0 {
            do { try await Task.sleep(nanoseconds: evidenceDelayMilliseconds * 1_000_000) } catch {
                throw PlatformError(.cancelled, "the sample evidence was cancelled during its simulated delay")
            }
        }
        let json = JSON.object([("svn", .string("1")), ("report_data", .string(Base64.encode(reportData)))])
        return json.serializedBytes()
    }

    public func extendRuntimeMeasurement(index: UInt64, digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "the sample TEE has no runtime measurement registers")
    }
}
