import AttestationFormats
import PlatformInterface

/// TEEs with no init-data field this agent can read (IBM Secure Execution,
/// Hygon CSV). Binding succeeds as "unsupported", as the seed asks, so that
/// such guests are not blocked; evidence is refused with a plain reason
/// because this build cannot produce it.
public struct FieldlessTEE: TEEPlatform {
    public let tee: TEEType
    public let initDataAnchor = InitDataAnchor.none
    public init(tee: TEEType) {
        self.tee = tee
    }

    /// Hygon CSV: its guest device.
    static func isCSV(_ files: any KernelFiles) -> Bool { files.exists("/dev/csv-guest") }

    /// IBM Secure Execution: the ultravisor says this is a protected guest.
    static func isSE(_ files: any KernelFiles) -> Bool {
        (try? files.read("/sys/firmware/uv/prot_virt_guest")).map {
            String(decoding: $0, as: UTF8.self).trimmingWhitespace() == "1"
        } ?? false
    }

    public func readInitDataField() async throws(PlatformError) -> [UInt8] {
        throw PlatformError(.unsupported, "\(tee.rawValue) has no init-data field")
    }

    public func measureInitData(_ digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "\(tee.rawValue) has no init-data PCR")
    }

    public func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        throw PlatformError(.unsupported, "this build cannot produce \(tee.rawValue) evidence")
    }

    public func extendRuntimeMeasurement(index: UInt64, digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "\(tee.rawValue) has no runtime measurement registers")
    }
}
