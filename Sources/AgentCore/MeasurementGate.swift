import NIOConcurrencyHelpers

/// Evidence may be taken by many callers at once, but never while a runtime
/// measurement is between extending a register and appending its log entry:
/// the registers signed into a quote must replay from the log sent beside
/// it. Waiters enter in arrival order, so a stream of evidence calls cannot
/// starve a measurement. A platform whose evidence calls must not overlap
/// (Azure's shared NV index) takes it exclusively for evidence too.
///
/// A lock, not an actor: a caller that finds the gate free goes through
/// without a hop. A waiter whose task is cancelled (its caller's deadline
/// passed) leaves the queue and never runs its body.
final class MeasurementGate: Sendable {
    private struct Waiter {
        let id: UInt64
        let exclusive: Bool
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var readers = 0
        var writing = false
        var waiting: [Waiter] = []
        var lastID: UInt64 = 0

        func canEnter(_ exclusive: Bool) -> Bool { exclusive ? !writing && readers == 0 : !writing }

        mutating func take(_ exclusive: Bool) {
            if exclusive { writing = true } else { readers += 1 }
        }

        /// The waiters at the head of the queue that may go in now, taken in.
        mutating func admitWaiting() -> [Waiter] {
            var admitted: [Waiter] = []
            while let next = waiting.first, canEnter(next.exclusive) {
                waiting.removeFirst()
                take(next.exclusive)
                admitted.append(next)
            }
            return admitted
        }
    }

    private let state = NIOLockedValueBox(State())

    /// Runs `body` alone (`exclusive`) or beside other shared holders.
    /// Throws CANCELLED, without running `body`, when the task is cancelled
    /// while it waits.
    func run<T: Sendable>(
        exclusive: Bool, _ body: @Sendable () async throws(AgentError) -> T
    ) async throws(AgentError) -> T {
        try await enter(exclusive: exclusive)
        defer { leave(exclusive: exclusive) }
        return try await body()
    }

    private func enter(exclusive: Bool) async throws(AgentError) {
        let id: UInt64? = state.withLockedValue { state in
            if state.waiting.isEmpty && state.canEnter(exclusive) {
                state.take(exclusive)
                return nil
            }
            state.lastID += 1
            return state.lastID
        }
        guard let id else { return }
        do {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    // Decided again under the lock: the gate may have come
                    // free since, and a cancellation either came before (and
                    // is seen here) or will find the waiter queued.
                    let outcome = state.withLockedValue { state -> Result<Bool, CancellationError> in
                        if Task.isCancelled { return .failure(CancellationError()) }
                        if state.waiting.isEmpty && state.canEnter(exclusive) {
                            state.take(exclusive)
                            return .success(true)
                        }
                        state.waiting.append(Waiter(id: id, exclusive: exclusive, continuation: continuation))
                        return .success(false)
                    }
                    switch outcome {
                    case .failure(let error): continuation.resume(throwing: error)
                    case .success(true): continuation.resume()
                    case .success(false): break
                    }
                }
            } onCancel: {
                let (removed, admitted) = state.withLockedValue { state in
                    let removed = state.waiting.firstIndex { $0.id == id }.map { state.waiting.remove(at: $0) }
                    return (removed, state.admitWaiting())
                }
                removed?.continuation.resume(throwing: CancellationError())
                for waiter in admitted { waiter.continuation.resume() }
            }
        } catch {
            throw AgentError(
                .cancelled,
                "the call was cancelled (its deadline passed or its caller left) while it waited for a runtime measurement to finish"
            )
        }
    }

    /// Callers queued now (for tests).
    var waitingCount: Int { state.withLockedValue { $0.waiting.count } }

    private func leave(exclusive: Bool) {
        let admitted = state.withLockedValue { state in
            if exclusive { state.writing = false } else { state.readers -= 1 }
            return state.admitWaiting()
        }
        for waiter in admitted { waiter.continuation.resume() }
    }
}
