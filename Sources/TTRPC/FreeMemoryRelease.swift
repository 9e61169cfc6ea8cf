import CAllocatorShims
import NIOConcurrencyHelpers
import NIOCore

/// Gives the pages that freed allocations leave behind back to the system.
///
/// glibc keeps freed memory in its arenas for reuse, so a burst of buffering
/// for a client that has since gone (answers it never read, a flood of
/// pipelined requests) would stay in the agent's RSS for good. The server
/// tells this type of every closed connection; it releases once things are
/// quiet: a second after the last close of a burst, and after the calls
/// still in flight (a closed connection's included) have ended, since what
/// they free after a release would stay. A steady stream of closes or calls
/// delays a release by at most `longestDelay`.
final class FreeMemoryRelease: Sendable {
    static let quietPeriod = TimeAmount.seconds(1)
    static let longestDelay = TimeAmount.seconds(5)

    private struct Pending {
        /// Counts closes: a scheduled check that sees a later close leaves the
        /// release to that close's check.
        var generation = 0
        /// The first close not yet followed by a release.
        var since: NIODeadline?
    }

    private let pending = NIOLockedValueBox(Pending())
    private let callsInFlight: @Sendable () -> Int
    private let release: @Sendable () -> Void

    init(
        callsInFlight: @escaping @Sendable () -> Int,
        release: @escaping @Sendable () -> Void = { aa_release_free_memory() }
    ) {
        self.callsInFlight = callsInFlight
        self.release = release
    }

    func connectionClosed(on eventLoop: EventLoop) {
        let generation = pending.withLockedValue { pending in
            pending.generation += 1
            if pending.since == nil { pending.since = eventLoop.now }
            return pending.generation
        }
        check(generation, on: eventLoop)
    }

    private func check(_ generation: Int, on eventLoop: EventLoop) {
        eventLoop.scheduleTask(in: Self.quietPeriod) { [self] in
            let decision = pending.withLockedValue { pending -> Bool? in
                guard let since = pending.since else { return nil }
                let overdue = eventLoop.now - since >= Self.longestDelay
                if pending.generation != generation && !overdue { return nil }
                if callsInFlight() > 0 && !overdue { return false }
                pending.since = nil
                return true
            }
            switch decision {
            case true?: release()
            case false?: check(generation, on: eventLoop)
            case nil: break
            }
        }
    }
}
