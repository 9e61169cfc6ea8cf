import AttestationFormats

/// The agent's event log file and its write-ahead record.
public enum EventLogDiagnosis {
    /// Where the agent keeps its log (under its platform root) unless `AAEL_PATH` names another file.
    public static let defaultLogFile = "/run/attestation-agent/eventlog"
    public static let overrideVariable = "AAEL_PATH"

    /// The agent's write-ahead record: `.wal_event_entry` beside the log.
    public static func writeAheadRecord(beside logFile: String) -> String {
        guard let slash = logFile.lastIndex(of: "/") else { return ".wal_event_entry" }
        return String(logFile[..<slash]) + "/.wal_event_entry"
    }

    /// `log` is the bytes of the file at `logFile`, nil when there is none.
    public static func check(
        logFile: String, log: Result<[UInt8]?, DoctorFailure>, writeAheadRecordPresent: Bool
    ) -> [DoctorCheck] {
        let writeAheadRecord = writeAheadRecord(beside: logFile)
        var checks: [DoctorCheck] = []
        switch log {
        case .failure(let failure):
            checks.append(
                .fail(
                    "event log file", "cannot read \(logFile): \(failure.description)", fix: "run aactl doctor as root")
            )
        case .success(nil):
            checks.append(.pass("event log file", "none at \(logFile): no runtime measurement recorded"))
        case .success(let bytes?):
            do {
                let entries = try AAEventLog.entries(bytes)
                let registers = Set(entries.map(\.register)).sorted().map(String.init).joined(separator: ", ")
                checks.append(
                    .pass(
                        "event log file",
                        "\(logFile): \(entries.count) entries" + (entries.isEmpty ? "" : ", registers \(registers)")))
            } catch {
                checks.append(
                    .fail(
                        "event log file", "\(logFile) does not parse: \(error)",
                        fix:
                            "the log is damaged and no verifier can replay it: start a new VM (the registers it extended cannot be reset)"
                    ))
            }
        }
        checks.append(
            writeAheadRecordPresent
                ? .warn(
                    "write-ahead record",
                    "\(writeAheadRecord) is present: a measurement was interrupted between extending and logging",
                    fix:
                        "restart the agent: it finishes the entry if the register shows the extension, else it refuses to start and the VM must be replaced"
                )
                : .pass("write-ahead record", "clean (no \(writeAheadRecord))"))
        return checks
    }
}
