import AgentCore
import Doctor
import PlatformInterface
import Testing

@testable import Platform

/// `aactl doctor` does not link the platforms: it looks for the same paths
/// under its own names, kept equal to the agent's here.
@Suite struct DoctorPathsTests {
    @Test func doctorLooksWhereTheAgentLooks() {
        #expect(MachineDiagnosis.configfsTSM == ConfigfsTSM.reportDirectory)
        #expect(MachineDiagnosis.tdxDevice == TDXPlatform.device)
        #expect(MachineDiagnosis.tdxMeasurements == TDXPlatform.measurements)
        #expect(MachineDiagnosis.ccel == TDXPlatform.ccEventLog)
        #expect(MachineDiagnosis.snpDevice == SNPPlatform.device)
        #expect(Array(MachineDiagnosis.tpmDevices) == ["/dev/tpmrm0", "/dev/tpm0"])
        #expect(EventLogDiagnosis.defaultLogFile == EventLogLocation.defaultFile)
        #expect(EventLogDiagnosis.overrideVariable == EventLogLocation.overrideVariable)
        for file in [EventLogLocation.defaultFile, "/var/log/aael", "/aael"] {
            let log = EventLog(location: EventLogLocation(file: file), algorithm: .sha384)
            #expect(log.path == file)
            #expect(EventLogDiagnosis.writeAheadRecord(beside: file) == log.walPath)
        }
    }
}

/// Where the event log goes: upstream's path under the platform root, or
/// `AAEL_PATH` as given; the write-ahead record beside it.
@Suite struct EventLogLocationTests {
    @Test func defaultUnderTheRootOrAAELPath() {
        let root = PlatformRoot("/tmp/machine")
        let plain = EventLogLocation(root: root, environment: [:])
        #expect(plain.file == "/tmp/machine/run/attestation-agent/eventlog")
        #expect(plain.writeAheadRecord == "/tmp/machine/run/attestation-agent/.wal_event_entry")
        #expect(EventLogLocation(root: root, environment: ["AAEL_PATH": ""]) == plain, "empty is unset")
        let moved = EventLogLocation(root: root, environment: ["AAEL_PATH": "/var/lib/aa/log"])
        #expect(moved.file == "/var/lib/aa/log", "taken as given, not under the root")
        #expect(moved.directory == "/var/lib/aa")
        #expect(moved.writeAheadRecord == "/var/lib/aa/.wal_event_entry")
        #expect(EventLogLocation(file: "/aael").writeAheadRecord == "/.wal_event_entry")
        #expect(EventLogLocation(file: "/aael").directory == "/")
    }
}
