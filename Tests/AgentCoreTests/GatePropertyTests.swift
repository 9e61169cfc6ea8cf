import AttestationAgentAPI
import AttestationFormats
import Configuration
import Crypto
import Foundation
import Logging
import PlatformInterface
import PropertyBased
import RPCStatus
import Synchronization
import Testing

@testable import AgentCore

/// Random call sequences against the real `AttestationAgent`, checked
/// against a model of the state table of docs/design.md written here from the table,
/// not from the agent's code. The platform is a stand-in for the hardware
/// (a field, a PCR that really extends, or nothing); everything above it is
/// the product.
@Suite struct GatePropertyTests {
    /// 100,000 sequences; 20,000 under a sanitizer (Scripts/sanitize.sh),
    /// which runs them ten times slower and is there for the concurrent ones.
    static let count = ProcessInfo.processInfo.environment["AA_SANITIZER"] == nil ? 100_000 : 20_000

    @Test func randomCallSequencesFollowTheTable() async {
        await propertyCheck(count: Self.count, input: Scenario.generator) { scenario in
            await scenario.run()
        }
    }
}

// MARK: The scenario

/// One launch of the agent and the calls made to it.
struct Scenario: Sendable, CustomStringConvertible {
    enum Anchor: Sendable, CaseIterable { case field32, field48, field64, none, pcr }
    enum Start: Sendable, CaseIterable { case zero, matchingA, other }
    enum Digest: Sendable, CaseIterable { case a, aLonger, b, empty }
    enum Call: Sendable {
        case bind(Digest)
        case update(valid: Bool)
        case token, evidence, additionalEvidence, measure, status, teeType, additionalTees
    }
    enum Step: Sendable {
        case one(Call)
        /// Calls started together; the agent may run them in any order.
        case together([Call])
    }

    var anchor: Anchor
    /// The field (or PCR) as the host left it.
    var start: Start
    var awaitsInitData: Bool
    var configAtLaunch: Bool
    var steps: [Step]

    var description: String {
        "\(anchor) start=\(start) await=\(awaitsInitData) launchConfig=\(configAtLaunch) steps=\(steps)"
    }

    static let calls: [Call] =
        Digest.allCases.map { .bind($0) } + [
            .update(valid: true), .update(valid: false), .token, .evidence, .additionalEvidence, .measure, .status,
            .teeType, .additionalTees,
        ]

    static var generator: Generator<Scenario, some Sequence & SendableMetatype> {
        let call = Generator<Call, _> { rng in
            // Binds and tokens are what the table is about: draw them more often.
            let weighted: [Call] = calls + Digest.allCases.map { .bind($0) } + [.token, .token, .update(valid: true)]
            return weighted.randomElement(using: &rng)!
        }
        let step = Generator<Step, _> { rng in
            if Int.random(in: 0..<5, using: &rng) == 0 {
                return .together((0..<Int.random(in: 2...3, using: &rng)).map { _ in call.run(using: &rng) })
            }
            return .one(call.run(using: &rng))
        }
        return zip(Gen<Anchor>.case, Gen<Start>.case, Gen.bool, Gen.bool(0.3), step.array(of: 1...12))
            .map { Scenario(anchor: $0, start: $1, awaitsInitData: $2, configAtLaunch: $3, steps: $4) }
    }

    static let digestA = (0..<48).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
    static let digestB = (0..<48).map { UInt8(truncatingIfNeeded: $0 &* 5 &+ 200) }
    static let token: [UInt8] = Array("a-token".utf8)
    static let validConfig = "[token_configs.kbs]\nurl = \"http://127.0.0.1:1\"\n"

    static func bytes(_ digest: Digest) -> [UInt8] {
        switch digest {
        case .a: digestA
        case .aLonger: digestA + [9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]
        case .b: digestB
        case .empty: []
        }
    }

    // MARK: Running it

    func run() async {
        var model = GateModel(
            anchor: anchor, start: start, awaitsInitData: awaitsInitData, configAtLaunch: configAtLaunch)
        let platform = ModelTEE(anchor: anchor, initial: model.field)
        let agent = AttestationAgent(
            platform: platform, additionalAttesters: [ModelTEE(anchor: .none, initial: [])],
            tokenProviders: TokenProviders(["kbs": FixedTokenProvider()]),
            awaitsInitData: awaitsInitData, logger: Logger(label: "gate-property") { _ in SwiftLogNoOpLogHandler() })
        if configAtLaunch {
            await agent.configureAtLaunch(
                try! AgentConfig(text: Self.validConfig, format: .toml, origin: "test"), source: .configFile)
        }
        await agent.startWithoutInitData()
        #expect(agent.status.state == model.state, "after launch: \(self)")

        for (index, step) in steps.enumerated() {
            // Described only when a check fails (messages are autoclosures).
            func context() -> String { "step \(index) of \(self)" }
            switch step {
            case .one(let call):
                let before = model
                let expected = model.apply(call)
                let observed = await Self.perform(call, on: agent)
                #expect(observed == expected, "\(call) in \(before.state): \(context())")
            case .together(let calls):
                let observed = await withTaskGroup(of: (Int, Outcome).self) { group in
                    for (slot, call) in calls.enumerated() {
                        group.addTask { (slot, await Self.perform(call, on: agent)) }
                    }
                    var results = [Outcome](repeating: .ok, count: calls.count)
                    for await (slot, outcome) in group { results[slot] = outcome }
                    return results
                }
                let state = agent.status.state
                guard
                    let next = model.orderings(of: calls).first(where: {
                        $0.outcomes == observed && $0.model.state == state
                    })
                else {
                    Issue.record(
                        "\(calls) together gave \(observed), ending \(state): no order of them does, \(context())")
                    return
                }
                model = next.model
            }
            // Calls go by the gate the actor publishes: it must say what the
            // actor's own machine says, for every method.
            for method in AttestationAgentMethod.allCases {
                let published = agent.admission(method).map { "admitted" }
                let isolated = await agent.isolatedAdmission(method).map { "admitted" }
                #expect(published == isolated, "\(method.rawValue): \(context())")
            }
            // The two promises, stated on their own.
            let status = agent.status
            #expect(status.state == model.state, "\(context())")
            if model.mismatched { #expect(status.state == .rejected, "a mismatch is final: \(context())") }
            if status.state == .configured { #expect(model.verifiedOnce, "configured without a binding: \(context())") }
        }
    }

    static func perform(_ call: Call, on agent: AttestationAgent) async -> Outcome {
        do throws(AgentError) {
            switch call {
            case .bind(let digest): try await agent.bindInitData(digest: bytes(digest))
            case .update(let valid): try await agent.updateConfiguration(valid ? validConfig : "[token_configs\nurl=")
            case .token:
                let token = try await agent.token(type: "kbs")
                return token == Self.token ? .ok : .wrongToken
            case .evidence: _ = try await agent.evidence(runtimeData: [1, 2, 3])
            case .additionalEvidence: _ = try await agent.additionalEvidence(runtimeData: [1, 2, 3])
            case .measure:
                _ = try await agent.extendRuntimeMeasurement(
                    domain: "github.com", operation: "pull", content: "x", registerIndex: nil)
            case .status: _ = try agent.statusReport()
            case .teeType: _ = try agent.teeType()
            case .additionalTees: _ = try agent.additionalTees()
            }
            return .ok
        } catch {
            return .refused(error.code)
        }
    }
}

enum Outcome: Sendable, Equatable, CustomStringConvertible {
    case ok
    case refused(StatusCode)
    /// A token came back, but not the provider's.
    case wrongToken

    var description: String {
        switch self {
        case .ok: "ok"
        case .refused(let code): code.name
        case .wrongToken: "wrong token"
        }
    }
}

// MARK: The model

/// The state table of docs/design.md ("The state machine") restated as a value.
struct GateModel: Sendable {
    let anchor: Scenario.Anchor
    var state: AgentState = .booting
    /// The hardware field, or the PCR's current value.
    var field: [UInt8]
    var bound: [UInt8]?
    /// Verified because the field was zero and no digest was given.
    var absent = false
    /// Verified with nothing bound: no digest was given and the PCR already
    /// held a value (the boot chain's), which blocks nothing.
    var unbound = false
    var launchConfig: Bool
    var verifiedOnce = false
    var mismatched = false

    var size: Int {
        switch anchor {
        case .field32, .pcr: 32
        case .field48: 48
        case .field64: 64
        case .none: 0
        }
    }

    init(anchor: Scenario.Anchor, start: Scenario.Start, awaitsInitData: Bool, configAtLaunch: Bool) {
        self.anchor = anchor
        self.launchConfig = configAtLaunch
        field = []
        let zero = [UInt8](repeating: 0, count: size)
        switch (anchor, start) {
        case (.none, _): field = []
        case (_, .zero): field = zero
        case (.pcr, .matchingA): field = Self.measured(Scenario.digestA, size: size)
        case (_, .matchingA): field = Self.fit(Scenario.digestA, size)
        case (_, .other): field = [UInt8](repeating: 0x5A, count: size)
        }
        guard !awaitsInitData else { return }
        if anchor == .none {
            verify(digest: nil)
        } else if field == zero {
            absent = true
            verify(digest: nil)
        } else if anchor == .pcr {
            unbound = true
            verify(digest: nil)
        }
    }

    /// Zero-padded or cut to the field's length, as the initdata spec says.
    static func fit(_ digest: [UInt8], _ size: Int) -> [UInt8] {
        digest.count >= size ? Array(digest.prefix(size)) : digest + [UInt8](repeating: 0, count: size - digest.count)
    }

    /// A PCR extended once from reset: SHA-256(0^32 || digest).
    static func measured(_ digest: [UInt8], size: Int) -> [UInt8] {
        Array(SHA256.hash(data: [UInt8](repeating: 0, count: size) + fit(digest, size)))
    }

    private mutating func verify(digest: [UInt8]?) {
        state = launchConfig ? .configured : .initDataVerified
        bound = digest
        verifiedOnce = true
    }

    private mutating func reject() -> Outcome {
        state = .rejected
        mismatched = true
        return .refused(.permissionDenied)
    }

    mutating func apply(_ call: Scenario.Call) -> Outcome {
        switch call {
        case .evidence, .additionalEvidence, .measure, .status, .teeType, .additionalTees:
            return .ok
        case .token:
            switch state {
            case .configured: return .ok
            case .rejected: return .refused(.permissionDenied)
            case .booting, .initDataVerified: return .refused(.failedPrecondition)
            }
        case .update(let valid):
            guard state == .initDataVerified else { return .refused(.failedPrecondition) }
            guard valid else { return .refused(.invalidArgument) }
            state = .configured
            return .ok
        case .bind(let which):
            return bind(Scenario.bytes(which))
        }
    }

    private mutating func bind(_ digest: [UInt8]) -> Outcome {
        guard state != .rejected else { return .refused(.failedPrecondition) }
        let booting = state == .booting
        switch anchor {
        case .none:
            if let bound, bound != digest { return .refused(.failedPrecondition) }
            if booting { verify(digest: digest) } else { bound = digest }
            return .ok
        case .field32, .field48, .field64:
            if !booting, bound == digest { return .ok }
            guard Self.fit(digest, size) == field else { return reject() }
            if booting { verify(digest: digest) } else { bound = digest }
            return .ok
        case .pcr:
            if !booting, bound == digest { return .ok }
            let value = Self.measured(digest, size: size)
            let zero = field.allSatisfy { $0 == 0 }
            if field == value {
                if booting { verify(digest: digest) } else { bound = digest }
                absent = false
                unbound = false
                return .ok
            }
            // An empty digest: no initdata given, as at a launch without it.
            if digest.isEmpty, !booting, unbound || (absent && zero) { return .ok }
            if digest.isEmpty, booting, !zero {
                unbound = true
                verify(digest: nil)
                return .ok
            }
            if booting, zero {
                field = value
                verify(digest: digest)
                return .ok
            }
            return reject()
        }
    }

    /// Every way `calls` started together may end: any order, and on a PCR a
    /// bind may be told to retry while another bind is being measured.
    func orderings(of calls: [Scenario.Call]) -> [(outcomes: [Outcome], model: GateModel)] {
        var results: [(outcomes: [Outcome], model: GateModel)] = []
        for order in Self.permutations(Array(calls.indices)) {
            let binds = order.filter { if case .bind = calls[$0] { true } else { false } }
            let retrySets = anchor == .pcr ? Self.subsets(binds) : [[]]
            for retried in retrySets {
                var model = self
                var outcomes = [Outcome](repeating: .ok, count: calls.count)
                for slot in order {
                    outcomes[slot] = retried.contains(slot) ? .refused(.failedPrecondition) : model.apply(calls[slot])
                }
                results.append((outcomes, model))
            }
        }
        return results
    }

    static func permutations(_ items: [Int]) -> [[Int]] {
        guard items.count > 1 else { return [items] }
        return items.indices.flatMap { i in
            var rest = items
            let first = rest.remove(at: i)
            return permutations(rest).map { [first] + $0 }
        }
    }

    static func subsets(_ items: [Int]) -> [[Int]] {
        items.reduce([[]]) { partial, item in partial + partial.map { $0 + [item] } }
    }
}

// MARK: Stand-ins for the hardware and the KBS

/// A platform whose field is fixed, or whose PCR really extends
/// (SHA-256(old || digest)), or that has neither.
final class ModelTEE: TEEPlatform, Sendable {
    let anchor: Scenario.Anchor
    private let register: Mutex<[UInt8]>

    init(anchor: Scenario.Anchor, initial: [UInt8]) {
        self.anchor = anchor
        register = Mutex(initial)
    }

    var tee: TEEType { anchor == .pcr ? .tpm : .sample }

    var initDataAnchor: InitDataAnchor {
        switch anchor {
        case .field32: .hardwareField(size: 32)
        case .field48: .hardwareField(size: 48)
        case .field64: .hardwareField(size: 64)
        case .none: .none
        case .pcr: .pcr(index: 8, size: 32)
        }
    }

    func readInitDataField() async throws(PlatformError) -> [UInt8] {
        await Task.yield()
        return register.withLock { $0 }
    }

    func measureInitData(_ digest: [UInt8]) async throws(PlatformError) {
        await Task.yield()
        register.withLock { $0 = Array(SHA256.hash(data: $0 + digest)) }
    }

    func extendRuntimeMeasurement(index: UInt64, digest: [UInt8]) async throws(PlatformError) {}

    func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        await Task.yield()
        return Array("{\"report_data\":\"\"}".utf8)
    }
}

struct FixedTokenProvider: TokenProvider {
    func token(_ request: TokenRequest) async throws(AgentError) -> [UInt8] {
        await Task.yield()
        return Scenario.token
    }
}
