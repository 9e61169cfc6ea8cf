import AttestationFormats
import CKernelShims
import DataEncoding
import LocalFiles

#if canImport(Glibc)
import Glibc
import PlatformInterface
#endif

/// Intel TDX: quotes through configfs-tsm, MRCONFIGID from sysfs (Linux
/// 6.16+) or from a TDREPORT, RTMRs through sysfs.
public struct TDXPlatform: TEEPlatform {
    static let device = "/dev/tdx_guest"
    static let miscDevice = "/sys/devices/virtual/misc/tdx_guest"
    static let measurements = miscDevice + "/measurements"
    static let ccEventLog = EvidenceEventLog.ccelTable
    static let provider = "tdx_guest"

    public let tee = TEEType.tdx
    public let initDataAnchor = InitDataAnchor.hardwareField(size: TEEType.tdx.initDataFieldSize!)
    let files: any KernelFiles
    /// The agent's AAEL file, sent in the evidence after the CCEL table.
    let eventLogFile: String?

    public init(files: any KernelFiles, eventLogFile: String? = nil) {
        self.files = files
        self.eventLogFile = eventLogFile
    }

    /// A TDX guest: its device node, its misc device in sysfs, or a configfs-tsm provider `tdx_guest`.
    /// `tsmProvider`: what configfs-tsm answers, read once by detection.
    public static func detect(files: any KernelFiles, tsmProvider: String?) -> Bool {
        files.exists(device) || files.exists(miscDevice)
            || tsmProvider == provider
    }

    public func readInitDataField() async throws(PlatformError) -> [UInt8] {
        try await DeviceThreads.run { () throws(PlatformError) in
            let sysfs = Self.measurements + "/mrconfigid"
            if files.exists(sysfs) {
                let raw: [UInt8]
                do { raw = try files.read(sysfs) } catch {
                    throw PlatformError(.deviceFailure, "\(error)", cause: error)
                }
                return try Self.measurementValue(raw, size: 48, name: sysfs)
            }
            let report = try getReport(reportData: [UInt8](repeating: 0, count: 64))
            do {
                return try TDReport(parsing: report).measurements.mrConfigID
            } catch {
                throw PlatformError(
                    .deviceFailure, "the TDREPORT from \(Self.device) does not parse: \(error)", cause: error)
            }
        }
    }

    public func measureInitData(_ digest: [UInt8]) async throws(PlatformError) {
        throw PlatformError(.unsupported, "TDX binds initdata to MRCONFIGID, not to a PCR")
    }

    /// `{"cc_eventlog": base64 or null, "quote": base64}`, as trustee's TDX
    /// verifier reads it; the log is `CCEventLog.assemble`'s. The caller
    /// keeps runtime measurements out while this runs, so that the RTMRs in
    /// the quote and the log beside it agree.
    public func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        try await DeviceThreads.run { () throws(PlatformError) in
            guard reportData.count <= 64 else {
                throw PlatformError(.invalidInput, "TDX report data is at most 64 bytes, got \(reportData.count)")
            }
            let inblob = InitDataDigest.fitted(reportData, to: 64)
            let quote = try ConfigfsTSM(files: files).report(inblob: inblob, provider: Self.provider)
            do {
                _ = try TDXQuote(parsing: quote)
            } catch {
                throw PlatformError(
                    .deviceFailure, "the TDX quote from configfs-tsm does not parse: \(error)", cause: error)
            }
            let eventLog = try EvidenceEventLog.member(files: files, aaelFile: eventLogFile, algorithm: .sha384)
            return JSON.object([("cc_eventlog", eventLog), ("quote", .string(Base64.encode(quote)))]).serializedBytes()
        }
    }

    public let eventLogAlgorithm: EventLogAlgorithm? = .sha384

    /// The CC measurement register of a PCR (UEFI's TDX mapping, as td-shim
    /// and upstream use it): MRTD is 0, RTMR0-3 are 1-4.
    public func eventLogRegister(forPCR index: UInt64) -> UInt64 {
        switch index {
        case 1, 7: 1
        case 2...6: 2
        case 8...15: 3
        default: 4
        }
    }

    /// The RTMR as the firmware's CCEL table replays it (zero without one).
    public func firmwareRuntimeMeasurement(forPCR index: UInt64) throws(PlatformError) -> [UInt8] {
        let rtmr = Int(eventLogRegister(forPCR: index)) - 1
        guard files.exists(Self.ccEventLog) else { return [UInt8](repeating: 0, count: 48) }
        do {
            return try CCEventLog.replayedRTMRs(try CCEventLog.trimmed(try files.read(Self.ccEventLog)))[rtmr]
        } catch {
            throw PlatformError(
                .deviceFailure, "the firmware's event log \(Self.ccEventLog) does not replay: \(error)", cause: error)
        }
    }

    /// RTMRs are extended through sysfs, which Linux has from 6.16 on.
    public func runtimeRegisterUnavailable(forPCR index: UInt64) -> String? {
        let path = rtmrPath(forPCR: index)
        return files.exists(path)
            ? nil
            : "this kernel has no \(path) to extend RTMR\(eventLogRegister(forPCR: index) - 1) (TDX RTMRs through sysfs need Linux 6.16 or later)"
    }

    /// Extends the RTMR that PCR `index` maps to with a SHA-384 digest, through sysfs.
    public func extendRuntimeMeasurement(index: UInt64, digest: [UInt8]) async throws(PlatformError) {
        try await DeviceThreads.run { () throws(PlatformError) in
            guard digest.count == 48 else {
                throw PlatformError(.invalidInput, "an RTMR takes a 48-byte SHA-384 digest, got \(digest.count)")
            }
            let path = rtmrPath(forPCR: index)
            do { try files.write(path, digest) } catch {
                throw PlatformError(.deviceFailure, "cannot extend \(path): \(error)", cause: error)
            }
        }
    }

    public func readRuntimeMeasurement(index: UInt64) async throws(PlatformError) -> [UInt8] {
        try await DeviceThreads.run { () throws(PlatformError) in
            let path = rtmrPath(forPCR: index)
            do {
                return try Self.measurementValue(try files.read(path), size: 48, name: path)
            } catch let error as PlatformError {
                throw error
            } catch {
                throw PlatformError(.deviceFailure, "cannot read \(path): \(error)", cause: error)
            }
        }
    }

    private func rtmrPath(forPCR index: UInt64) -> String {
        Self.measurements + "/rtmr\(eventLogRegister(forPCR: index) - 1):sha384"
    }

    /// A sysfs measurement attribute: raw bytes, or hex text (with a newline).
    static func measurementValue(_ raw: [UInt8], size: Int, name: String) throws(PlatformError) -> [UInt8] {
        if raw.count == size { return raw }
        let text = String(decoding: raw, as: UTF8.self).trimmingWhitespace()
        if let bytes = Hex.decode(text), bytes.count == size { return bytes }
        throw PlatformError(
            .deviceFailure, "\(name) holds \(raw.count) bytes, neither \(size) raw bytes nor \(size * 2) hex digits")
    }

    /// TDX_CMD_GET_REPORT0 on /dev/tdx_guest: 64 bytes of report data in, a 1024-byte TDREPORT out.
    func getReport(reportData: [UInt8]) throws(PlatformError) -> [UInt8] {
        guard let root = files as? PlatformRoot else {
            throw PlatformError(.unsupported, "a TDREPORT needs the real /dev/tdx_guest")
        }
        let path = root.path(Self.device)
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw PlatformError(
                .deviceFailure,
                "cannot open \(path) for a TDREPORT (and the kernel has no measurements/mrconfigid): \(String(cString: strerror(errno)))"
            )
        }
        defer { close(fd) }
        // struct tdx_report_req { __u8 reportdata[64]; __u8 tdreport[1024]; }
        var request = InitDataDigest.fitted(reportData, to: 64) + [UInt8](repeating: 0, count: TDReport.size)
        // _IOWR('T', 1, struct tdx_report_req)
        let command: UInt = (3 << 30) | (UInt(request.count) << 16) | (UInt(UInt8(ascii: "T")) << 8) | 1
        let result = request.withUnsafeMutableBytes { aa_ioctl_pointer(fd, command, $0.baseAddress) }
        guard result == 0 else {
            throw PlatformError(.deviceFailure, "TDX_CMD_GET_REPORT0 failed: \(String(cString: strerror(errno)))")
        }
        return Array(request[64...])
    }
}
