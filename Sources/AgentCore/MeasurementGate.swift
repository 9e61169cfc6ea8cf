/// Evidence may be taken by many callers at once, but never while a runtime
/// measurement is between extending a register and appending its log entry:
/// the registers signed into a quote must replay from the log sent beside
/// it. Waiters enter in arrival order, so a stream of evidence calls cannot
/// starve a measurement. A platform whose evidence calls must not overlap
/// (Azure's shared NV index) takes it exclusively for evidence too.
actor MeasurementGate {
    private var readers = 0
    private var writing = false
    private var waiting: [(exclusive: Bool, resume: CheckedContinuation<Void, Never>)] = []

    /// Runs `body` alone (`exclusive`) or beside other shared holders.
    func run<T: Sendable>(
        exclusive: Bool, _ body: @Sendable () async throws(AgentError) -> T
    ) async throws(AgentError) -> T {
        await enter(exclusive: exclusive)
        let result: Result<T, AgentError>
        do throws(AgentError) { result = .success(try await body()) } catch { result = .failure(error) }
        leave(exclusive: exclusive)
        return try result.get()
    }

    private func enter(exclusive: Bool) async {
        if waiting.isEmpty && canEnter(exclusive) {
            take(exclusive)
            return
        }
        await withCheckedContinuation { waiting.append((exclusive, $0)) }
    }

    private func leave(exclusive: Bool) {
        if exclusive { writing = false } else { readers -= 1 }
        while let next = waiting.first, canEnter(next.exclusive) {
            waiting.removeFirst()
            take(next.exclusive)
            next.resume.resume()
        }
    }

    private func canEnter(_ exclusive: Bool) -> Bool { exclusive ? !writing && readers == 0 : !writing }

    private func take(_ exclusive: Bool) {
        if exclusive { writing = true } else { readers += 1 }
    }
}
