import NIOCore
import Synchronization

/// What one connection has been doing, for choosing which to close when a
/// listener is at its connection limit: the connection's handler updates it
/// on every frame and call, the server reads it when a new one arrives.
final class ConnectionActivity: Sendable {
    private let lastActive = Atomic<UInt64>(NIODeadline.now().uptimeNanoseconds)
    private let calls = Atomic<Int>(0)
    private let everCalled = Atomic<Bool>(false)

    func touched() { lastActive.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed) }

    func callStarted() {
        calls.add(1, ordering: .relaxed)
        everCalled.store(true, ordering: .relaxed)
        touched()
    }

    /// A call answered at once, with no time running.
    func answeredAtOnce() {
        everCalled.store(true, ordering: .relaxed)
    }

    func callEnded() {
        calls.subtract(1, ordering: .relaxed)
        touched()
    }

    /// Idle (no call running), how long, and whether it ever made a call.
    var idleness: (idle: Bool, since: UInt64, everCalled: Bool) {
        (
            calls.load(ordering: .relaxed) == 0, lastActive.load(ordering: .relaxed),
            everCalled.load(ordering: .relaxed)
        )
    }

    /// Of `candidates`, the one to close for a newcomer: an idle one,
    /// preferring one that never made a call (what a real client such as the
    /// confidential-data-hub, connected for the pod's life, never is), then
    /// the one idle longest. nil when every one is running a call.
    static func evictee<Key>(_ candidates: [(key: Key, activity: ConnectionActivity)]) -> Key? {
        candidates.lazy.map { (key: $0.key, state: $0.activity.idleness) }
            .filter { $0.state.idle }
            .min { ($0.state.everCalled ? 1 : 0, $0.state.since) < ($1.state.everCalled ? 1 : 0, $1.state.since) }?.key
    }
}
