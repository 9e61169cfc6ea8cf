import AttestationAgentAPI
import Configuration
import Crypto
import DataEncoding
import PlatformInterface
import RPCStatus
import Testing

@testable import AgentCore

/// Every (state, call) pair of the state table of docs/design.md, for each kind of anchor.
@Suite struct AgentStateMachineTests {
    static let field = [UInt8](repeating: 0xAB, count: 48)
    static let tdx = InitDataAnchor.hardwareField(size: 48)

    /// A machine brought to `state` on a TDX-like field.
    static func machine(in state: AgentState, anchor: InitDataAnchor = tdx) -> AgentStateMachine {
        var machine = AgentStateMachine(anchor: anchor)
        switch state {
        case .booting: break
        case .initDataVerified: _ = machine.bind(digest: field, field: field)
        case .configured:
            _ = machine.bind(digest: field, field: field)
            _ = machine.update()
        case .rejected: _ = machine.bind(digest: [1], field: field)
        }
        #expect(machine.state == state)
        return machine
    }

    /// The state table of docs/design.md, row by row, by wire method: what the
    /// gate answers for each call in each state (nil: admitted).
    static let table: [AttestationAgentMethod: [AgentState: StatusCode?]] = {
        let always: [AgentState: StatusCode?] = [
            .booting: nil, .initDataVerified: nil, .configured: nil, .rejected: nil,
        ]
        return [
            .getTeeType: always, .getAdditionalTees: always, .getStatus: always,
            .getEvidence: always, .getAdditionalEvidence: always, .extendRuntimeMeasurement: always,
            .bindInitData: [.booting: nil, .initDataVerified: nil, .configured: nil, .rejected: .failedPrecondition],
            .checkInitData: [.booting: nil, .initDataVerified: nil, .configured: nil, .rejected: .failedPrecondition],
            .updateConfiguration: [
                .booting: .failedPrecondition, .initDataVerified: nil, .configured: .failedPrecondition,
                .rejected: .failedPrecondition,
            ],
            .getToken: [
                .booting: .failedPrecondition, .initDataVerified: .failedPrecondition, .configured: nil,
                .rejected: .permissionDenied,
            ],
        ]
    }()

    @Test(arguments: AgentState.allCases)
    func gateFollowsTheTable(_ state: AgentState) {
        let machine = Self.machine(in: state)
        for call in AttestationAgentMethod.allCases {
            guard let row = Self.table[call] else {
                Issue.record("the state table has no row for \(call.rawValue)")
                continue
            }
            let expected = row[state] ?? nil
            switch machine.admit(call) {
            case .success: #expect(expected == nil, "\(call) admitted in \(state)")
            case .failure(let error): #expect(error.code == expected, "\(call) in \(state): \(error)")
            }
        }
    }

    @Test(
        arguments: [
            (AgentState.booting, StatusCode.failedPrecondition), (.initDataVerified, .failedPrecondition),
            (.configured, nil), (.rejected, .permissionDenied),
        ] as [(AgentState, StatusCode?)])
    func getToken(_ state: AgentState, _ refusal: StatusCode?) {
        switch Self.machine(in: state).admit(.getToken) {
        case .success: #expect(refusal == nil)
        case .failure(let error): #expect(error.code == refusal)
        }
    }

    @Test(
        arguments: [
            (AgentState.booting, StatusCode.failedPrecondition), (.initDataVerified, nil),
            (.configured, .failedPrecondition), (.rejected, .failedPrecondition),
        ] as [(AgentState, StatusCode?)])
    func updateConfiguration(_ state: AgentState, _ refusal: StatusCode?) {
        var machine = Self.machine(in: state)
        switch machine.update() {
        case .success:
            #expect(refusal == nil)
            #expect(machine.state == .configured)
            #expect(machine.configSource == .update)
        case .failure(let error):
            #expect(error.code == refusal)
            #expect(machine.state == state, "a refused update changes nothing")
        }
    }

    // MARK: Binding on a hardware field

    @Test func bootingBindMatchingFieldVerifies() {
        var machine = Self.machine(in: .booting)
        #expect(machine.bind(digest: Self.field, field: Self.field) == .accepted(warning: nil))
        #expect(machine.state == .initDataVerified)
        #expect(machine.binding == .matched)
        #expect(machine.boundDigest == Self.field)
    }

    @Test func digestIsPaddedOrTruncatedToTheField() {
        let short = [UInt8](repeating: 0xAB, count: 32)
        var padded = AgentStateMachine(anchor: Self.tdx)
        #expect(padded.bind(digest: short, field: short + [UInt8](repeating: 0, count: 16)) == .accepted(warning: nil))
        var truncated = AgentStateMachine(anchor: Self.tdx)
        #expect(truncated.bind(digest: Self.field + [1, 2, 3], field: Self.field) == .accepted(warning: nil))
    }

    @Test(arguments: [AgentState.booting, .initDataVerified, .configured])
    func mismatchRejectsForGoodWithBothValues(_ state: AgentState) {
        var machine = Self.machine(in: state)
        guard case .refused(let error) = machine.bind(digest: [0x01], field: Self.field) else {
            Issue.record("mismatch accepted")
            return
        }
        #expect(error.code == .permissionDenied)
        #expect(error.message.contains("01" + String(repeating: "00", count: 47)))
        #expect(error.message.contains(String(repeating: "ab", count: 48)))
        #expect(machine.state == .rejected)
        #expect(machine.binding == .mismatch)
        // Rejected is final: the right digest no longer helps.
        guard case .refused(let again) = machine.bind(digest: Self.field, field: Self.field) else {
            Issue.record("rejected machine accepted a bind")
            return
        }
        #expect(again.code == .failedPrecondition)
        #expect(machine.state == .rejected)
    }

    @Test(arguments: [AgentState.initDataVerified, .configured])
    func sameDigestAgainIsOK(_ state: AgentState) {
        var machine = Self.machine(in: state)
        #expect(machine.bind(digest: Self.field, field: Self.field) == .accepted(warning: nil))
        #expect(machine.state == state)
    }

    @Test func zeroFieldAtLaunchIsAbsent() {
        var machine = AgentStateMachine(anchor: Self.tdx)
        machine.startWithoutInitData(field: [UInt8](repeating: 0, count: 48))
        #expect(machine.state == .initDataVerified)
        #expect(machine.binding == .absent)
        // An empty digest later asks for the same check and passes.
        #expect(machine.bind(digest: [], field: [UInt8](repeating: 0, count: 48)) == .accepted(warning: nil))
        #expect(machine.state == .initDataVerified)
    }

    @Test func setFieldAtLaunchWaitsForABind() {
        var machine = AgentStateMachine(anchor: Self.tdx)
        machine.startWithoutInitData(field: Self.field)
        #expect(machine.state == .booting)
        guard case .refused(let error) = machine.bind(digest: [], field: Self.field) else {
            Issue.record("empty digest accepted against a set field")
            return
        }
        #expect(error.code == .permissionDenied)
    }

    // MARK: Field-less platforms

    @Test func fieldlessPlatformRecordsTheFirstDigestOnly() {
        var machine = AgentStateMachine(anchor: .none)
        machine.startWithoutInitData(field: nil)
        #expect(machine.state == .initDataVerified)
        #expect(machine.binding == .unsupported)
        guard case .accepted(let warning?) = machine.bind(digest: [1, 2], field: nil) else {
            Issue.record("no warning for an unchecked digest")
            return
        }
        #expect(warning.contains("0102"))
        #expect(machine.binding == .recorded)
        #expect(machine.bind(digest: [1, 2], field: nil) == .accepted(warning: nil))
        guard case .refused(let error) = machine.bind(digest: [3], field: nil) else {
            Issue.record("a different digest was accepted")
            return
        }
        #expect(error.code == .failedPrecondition)
        #expect(machine.state == .initDataVerified)
    }

    // MARK: (v)TPM

    static let zeroPCR = [UInt8](repeating: 0, count: 32)

    /// SHA-256(0^32 || digest fitted to 32), trustee's TPM verifier's rule, written out here.
    static func pcr8(_ digest: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: zeroPCR + (digest + zeroPCR).prefix(32)))
    }

    @Test func tpmWithoutInitDataAndAZeroPCRIsAbsent() {
        var machine = AgentStateMachine(anchor: .pcr(index: 8, size: 32))
        machine.startWithoutInitData(field: Self.zeroPCR)
        #expect(machine.state == .initDataVerified)
        #expect(machine.binding == .absent)
        #expect(machine.bind(digest: [], field: Self.zeroPCR) == .accepted(warning: nil), "an empty digest agrees")
        guard case .refused(let error) = machine.bind(digest: [7], field: Self.zeroPCR) else {
            Issue.record("a digest the PCR does not hold was accepted")
            return
        }
        #expect(error.code == .permissionDenied)
        #expect(machine.state == .rejected)
    }

    @Test func tpmMeasuresFromResetOnceThenChecks() {
        var machine = AgentStateMachine(anchor: .pcr(index: 8, size: 32))
        #expect(machine.bind(digest: [7], field: Self.zeroPCR) == .measure([7] + [UInt8](repeating: 0, count: 31)))
        #expect(machine.measuring)
        guard case .refused = machine.bind(digest: [8], field: Self.zeroPCR) else {
            Issue.record("a second bind during measurement was accepted")
            return
        }
        machine.measured(digest: [7])
        #expect(machine.state == .initDataVerified)
        #expect(machine.binding == .measured)
        #expect(machine.bind(digest: [7], field: Self.pcr8([7])) == .accepted(warning: nil))
        guard case .refused(let error) = machine.bind(digest: [8], field: Self.pcr8([7])) else {
            Issue.record("a second different bind was accepted")
            return
        }
        #expect(error.code == .permissionDenied)
        #expect(
            error.message.contains(Hex.encode(Self.pcr8([7]))) && error.message.contains(Hex.encode(Self.pcr8([8]))))
    }

    @Test func tpmRestartIsRecognisedNotExtendedAgain() {
        var machine = AgentStateMachine(anchor: .pcr(index: 8, size: 32))
        #expect(machine.bind(digest: [7], field: Self.pcr8([7])) == .accepted(warning: nil))
        #expect(machine.state == .initDataVerified)
        #expect(machine.binding == .measured)
        #expect(!machine.measuring)
    }

    /// PCR 8 is shared with the boot chain (GRUB measures its command line
    /// there): without initdata a non-zero PCR 8 blocks nothing.
    @Test func tpmNonZeroPCRWithoutInitDataIsVerifiedUnbound() {
        let grub = Array(SHA256.hash(data: Array("grub_cmd: linux /vmlinuz".utf8)))
        var machine = AgentStateMachine(anchor: .pcr(index: 8, size: 32))
        let warning = machine.startWithoutInitData(field: grub)
        #expect(machine.state == .initDataVerified)
        #expect(machine.binding == .unbound)
        #expect(machine.boundDigest == nil)
        #expect(warning?.contains(Hex.encode(grub)) == true && warning?.contains("GRUB") == true, "\(warning ?? "")")
        #expect(machine.bind(digest: [], field: grub) == .accepted(warning: nil), "still no initdata: agreed")
        guard case .refused(let error) = machine.bind(digest: [7], field: grub) else {
            Issue.record("initdata bound to a PCR the boot chain wrote")
            return
        }
        #expect(error.code == .permissionDenied)
        #expect(error.message.contains("GRUB") && error.message.contains(Hex.encode(grub)), "\(error.message)")
        #expect(machine.state == .rejected)
        #expect(machine.rejectedDigest == [7] && machine.rejectedField == grub)
    }

    @Test func tpmNonZeroPCRStillAcceptsTheDigestThatReproducesIt() {
        var machine = AgentStateMachine(anchor: .pcr(index: 8, size: 32))
        machine.startWithoutInitData(field: Self.pcr8([9]))
        #expect(machine.binding == .unbound)
        #expect(machine.bind(digest: [9], field: Self.pcr8([9])) == .accepted(warning: nil))
        #expect(machine.state == .initDataVerified)
        #expect(machine.binding == .measured)
    }

    /// `--await-initdata` with a PCR the boot chain wrote: an empty digest
    /// says there is no initdata (unbound, nothing extended); a digest is refused.
    @Test func awaitingOnANonZeroPCR() {
        let grub = Self.pcr8([3])
        var machine = AgentStateMachine(anchor: .pcr(index: 8, size: 32), awaitsInitData: true)
        #expect(machine.startWithoutInitData(field: grub) == nil)
        #expect(machine.state == .booting)
        guard case .accepted(let warning?) = machine.bind(digest: [], field: grub) else {
            Issue.record("an empty digest on a non-zero PCR was not accepted with a warning")
            return
        }
        #expect(warning.contains(Hex.encode(grub)))
        #expect(machine.binding == .unbound)
        var other = AgentStateMachine(anchor: .pcr(index: 8, size: 32), awaitsInitData: true)
        guard case .refused = other.bind(digest: [7], field: grub) else {
            Issue.record("a digest bound to a PCR the boot chain wrote")
            return
        }
        #expect(other.state == .rejected)
    }

    @Test func awaitingInitDataStaysBootingEverywhere() {
        for anchor in [Self.tdx, .pcr(index: 8, size: 32), .none] {
            var machine = AgentStateMachine(anchor: anchor, awaitsInitData: true)
            machine.startWithoutInitData(field: [UInt8](repeating: 0, count: 48))
            #expect(machine.state == .booting, "\(anchor)")
        }
        var machine = AgentStateMachine(anchor: .pcr(index: 8, size: 32), awaitsInitData: true)
        #expect(
            machine.bind(digest: [], field: Self.zeroPCR) == .measure(Self.zeroPCR), "an empty digest extends zeros")
    }

    @Test func failedMeasurementLeavesBootingForARetry() {
        var machine = AgentStateMachine(anchor: .pcr(index: 8, size: 32))
        _ = machine.bind(digest: [7], field: Self.zeroPCR)
        machine.measurementFailed()
        #expect(machine.state == .booting)
        #expect(machine.bind(digest: [7], field: Self.zeroPCR) == .measure([7] + [UInt8](repeating: 0, count: 31)))
    }

    // MARK: --initdata-rtmr

    /// A zero MRCONFIGID with the flag: the digest opens the event log; a set
    /// one is compared as always; measurements wait in Booting.
    @Test func initDataInEventLogWhereTheFieldIsZero() {
        let zero = [UInt8](repeating: 0, count: 48)
        var machine = AgentStateMachine(anchor: Self.tdx, awaitsInitData: true, initDataInEventLog: true)
        guard case .failure(let waiting) = machine.admitRuntimeMeasurement() else {
            Issue.record("a runtime measurement before the InitData event")
            return
        }
        #expect(waiting.code == .failedPrecondition)
        #expect(machine.bind(digest: [7, 7], field: zero) == .anchorInEventLog([7, 7]))
        #expect(machine.measuring)
        machine.anchoredInEventLog(digest: [7, 7])
        #expect(machine.binding == .rtmr3 && machine.state == .initDataVerified)
        #expect(machine.bind(digest: [7, 7], field: zero) == .accepted(warning: nil), "the same again")
        guard case .refused(let error) = machine.bind(digest: [8], field: zero) else {
            Issue.record("a second document anchored")
            return
        }
        #expect(error.code == .permissionDenied)
        if case .failure = machine.admitRuntimeMeasurement() { Issue.record("measurements still held after binding") }

        var set = AgentStateMachine(anchor: Self.tdx, initDataInEventLog: true)
        #expect(set.bind(digest: Self.field, field: Self.field) == .accepted(warning: nil))
        #expect(set.binding == .matched)
        var refused = AgentStateMachine(anchor: Self.tdx, awaitsInitData: true, initDataInEventLog: true)
        _ = refused.bind(digest: [7], field: zero)
        let reason = refused.anchorRefused(digest: [7], "another document's event is there")
        #expect(reason.code == .permissionDenied && refused.state == .rejected)
    }

    // MARK: Launch configuration

    @Test func launchConfigTakesEffectOnceVerified() {
        var machine = AgentStateMachine(anchor: Self.tdx)
        machine.configureAtLaunch(.kbcParams)
        #expect(machine.state == .booting)
        _ = machine.bind(digest: Self.field, field: Self.field)
        #expect(machine.state == .configured)
        #expect(machine.configSource == .kbcParams)
        guard case .failure(let error) = machine.update() else {
            Issue.record("a second configuration was accepted")
            return
        }
        #expect(error.message.contains("aa_kbc_params"))
    }
}
