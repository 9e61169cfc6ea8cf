import RPCStatus
import Synchronization
import Testing

@testable import AgentCore

/// The gate between evidence and runtime measurements: a caller whose task
/// is cancelled while it waits (its deadline passed) leaves the queue at
/// once and never runs its body, and those behind it are not held up.
@Suite struct MeasurementGateTests {
    /// Holds the gate until `release`: a measurement in progress.
    final class Holder: Sendable {
        let entered: AsyncStream<Void>
        private let enteredSignal: AsyncStream<Void>.Continuation
        private let released: AsyncStream<Void>
        private let releaseSignal: AsyncStream<Void>.Continuation
        let task: Task<Void, any Error>

        init(_ gate: MeasurementGate, exclusive: Bool) {
            (entered, enteredSignal) = AsyncStream.makeStream()
            (released, releaseSignal) = AsyncStream.makeStream()
            let (entered, released) = (enteredSignal, released)
            task = Task {
                try await gate.run(exclusive: exclusive) { () throws(AgentError) in
                    entered.yield()
                    for await _ in released { break }
                }
            }
        }

        func waitUntilInside() async { for await _ in entered { break } }
        func release() { releaseSignal.yield() }
    }

    /// Waits (up to 60 s) until `count` callers queue at the gate.
    private func waitForQueue(_ gate: MeasurementGate, count: Int) async throws {
        let giveUp = ContinuousClock.now + .seconds(60)
        while gate.waitingCount < count {
            guard ContinuousClock.now < giveUp else { throw QueueTimeout() }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    struct QueueTimeout: Error {}

    /// `task`'s result, or nil if it has none within 60 s (the task is left
    /// waiting: a hung caller must fail the test, not hang it). The limit is
    /// wide because other suites may keep the cooperative pool busy.
    private func result<T: Sendable>(of task: Task<T, any Error>) async -> Result<T, any Error>? {
        let finished = Mutex<Result<T, any Error>?>(nil)
        Task { finished.withLock { [result = await task.result] in $0 = result } }
        let giveUp = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < giveUp {
            if let result = finished.withLock({ $0 }) { return result }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return nil
    }

    @Test func aCancelledWaiterLeavesAtOnceAndNeverRuns() async throws {
        let gate = MeasurementGate()
        let measurement = Holder(gate, exclusive: true)
        await measurement.waitUntilInside()
        let ran = Atomic(false)
        let evidence = Task {
            try await gate.run(exclusive: false) { () throws(AgentError) in ran.store(true, ordering: .relaxed) }
        }
        try await waitForQueue(gate, count: 1)
        evidence.cancel()
        // It ends while the measurement still holds the gate.
        let outcome = try #require(await result(of: evidence), "the cancelled caller still waits")
        #expect(throws: AgentError.self) { try outcome.get() }
        if case .failure(let error as AgentError) = outcome { #expect(error.code == .cancelled) }
        #expect(gate.waitingCount == 0)
        measurement.release()
        _ = try await measurement.task.value
        let bodyRan = ran.load(ordering: .relaxed)
        #expect(!bodyRan, "a cancelled caller ran its body")
        // The gate is free for the next caller.
        #expect(try await gate.run(exclusive: true) { () throws(AgentError) in 7 } == 7)
    }

    @Test func cancellingTheWaiterAtTheHeadLetsThoseBehindItIn() async throws {
        let gate = MeasurementGate()
        let evidenceInProgress = Holder(gate, exclusive: false)
        await evidenceInProgress.waitUntilInside()
        // A measurement waits for the evidence to finish; evidence behind it waits for the measurement.
        let measurement = Task { try await gate.run(exclusive: true) { () throws(AgentError) in 1 } }
        try await waitForQueue(gate, count: 1)
        let laterEvidence = Task { try await gate.run(exclusive: false) { () throws(AgentError) in 2 } }
        try await waitForQueue(gate, count: 2)
        measurement.cancel()
        // The later evidence goes in beside the first, which still holds the gate.
        let outcome = try #require(await result(of: laterEvidence), "evidence stuck behind a cancelled measurement")
        #expect(try outcome.get() == 2)
        evidenceInProgress.release()
        _ = try await evidenceInProgress.task.value
        if case .success = await measurement.result { Issue.record("the cancelled measurement ran") }
    }
}
