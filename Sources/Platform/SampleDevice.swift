import AttestationFormats
import DataEncoding
import PlatformInterface

/// upstream's sample confidential device (`sampledevice`): an additional
/// attester whose evidence proves nothing, as trustee's end-to-end tests
/// use it to exercise additional evidence in the KBS handshake.
public struct SampleDevice: Attester {
    public let tee = TEEType.sampleDevice

    public init() {}

    /// `{"svn":"2","report_data":"<base64>"}`: the report data as given, as upstream's.
    public func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        JSON.object([("svn", .string("2")), ("report_data", .string(Base64.encode(reportData)))]).serializedBytes()
    }
}
