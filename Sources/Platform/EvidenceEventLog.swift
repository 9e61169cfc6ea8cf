import AttestationFormats
import DataEncoding
import LocalFiles
import PlatformInterface

/// The `cc_eventlog` member of evidence, as upstream's attesters fill it: the
/// firmware's CCEL table if the kernel exposes one, then the agent's AAEL
/// file, base64; null with neither.
enum EvidenceEventLog {
    static let ccelTable = "/sys/firmware/acpi/tables/data/CCEL"

    /// `aaelFile` is a path as it is (not under the root), like the agent's writes.
    static func member(
        files: any KernelFiles, aaelFile: String?, algorithm: EventLogAlgorithm
    ) throws(PlatformError) -> JSON {
        let ccel = files.exists(ccelTable) ? try? files.read(ccelTable) : nil
        let aael = aaelFile.flatMap { try? LocalFile.read($0) }
        let log: [UInt8]?
        do { log = try CCEventLog.assemble(ccel: ccel, aael: aael, algorithm: algorithm) } catch {
            throw PlatformError(
                .deviceFailure, "the firmware's event log \(ccelTable) cannot be read: \(error)", cause: error)
        }
        return log.map { .string(Base64.encode($0)) } ?? .null
    }
}
