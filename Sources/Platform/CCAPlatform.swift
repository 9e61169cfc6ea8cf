import AttestationFormats
import DataEncoding
import PlatformInterface

/// Arm CCA: realm tokens through configfs-tsm (provider `arm_cca_guest`);
/// initdata is bound to the realm personalization value (64 bytes).
public struct CCAPlatform: TEEPlatform {
    static let provider = "arm_cca_guest"

    public let tee = TEEType.cca
    public let initDataAnchor = InitDataAnchor.hardwareField(size: TEEType.cca.initDataFieldSize!)
    let files: any KernelFiles

    public init(files: any KernelFiles) {
        self.files = files
    }

    /// `tsmProvider`: what configfs-tsm answers, read once by detection.
    public static func detect(files: any KernelFiles, tsmProvider: String?) -> Bool {
        tsmProvider == provider
    }

    func token(challenge: [UInt8]) throws(PlatformError) -> (bytes: [UInt8], parsed: CCAToken) {
        guard challenge.count <= 64 else {
            throw PlatformError(.invalidInput, "the CCA challenge is at most 64 bytes, got \(challenge.count)")
        }
        let bytes = try ConfigfsTSM(files: files).report(
            inblob: InitDataDigest.fitted(challenge, to: 64), provider: Self.provider)
        do {
            return (bytes, try CCAToken(parsing: bytes))
        } catch {
            throw PlatformError(
                .deviceFailure, "the CCA token from configfs-tsm does not parse: \(error)", cause: error)
        }
    }

    public func readInitDataField() async throws(PlatformError) -> [UInt8] {
        try await DeviceThreads.run { () throws(PlatformError) in
            try token(challenge: [UInt8](repeating: 0, count: 64)).parsed.personalizationValue
        }
    }

    public func measureInitData(_ digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "CCA binds initdata to the realm personalization value, not to a PCR")
    }

    /// `{"token": [byte, ...]}`, as upstream's CCA attester serialises it.
    public func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        try await DeviceThreads.run { () throws(PlatformError) in
            let token = try token(challenge: reportData).bytes
            return JSON.object([("token", .array(token.map { .unsigned(UInt64($0)) }))]).serializedBytes()
        }
    }

    public func extendRuntimeMeasurement(index: UInt64, digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "runtime measurement on CCA (RIM/REM extension) is not built yet")
    }
}
