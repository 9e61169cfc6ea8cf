import AgentCore
import Doctor
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
        let log = EventLog(directory: PlatformRoot().eventLogDirectory, algorithm: .sha384)
        #expect(EventLogDiagnosis.logFile == log.path)
        #expect(EventLogDiagnosis.writeAheadRecord == log.walPath)
    }
}
