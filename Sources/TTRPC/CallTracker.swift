import NIOConcurrencyHelpers

/// Counts calls in flight across all connections, so that a shutdown can let
/// them finish before it closes the connections.
final class CallTracker: Sendable {
    private let count = NIOLockedValueBox(0)

    func begin() { count.withLockedValue { $0 += 1 } }

    func end() { count.withLockedValue { $0 -= 1 } }

    var inFlight: Int { count.withLockedValue { $0 } }
}
