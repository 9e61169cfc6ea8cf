import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import TTRPC

/// When freed memory goes back to the system, on an embedded loop's virtual
/// clock: a second after the last close of a burst, once the calls in flight
/// have ended, and never later than 5 s after the first close.
@Suite struct FreeMemoryReleaseTests {
    final class Probe: Sendable {
        let inFlight = NIOLockedValueBox(0)
        let releases = NIOLockedValueBox(0)
        var released: Int { releases.withLockedValue { $0 } }

        func make() -> FreeMemoryRelease {
            FreeMemoryRelease(
                callsInFlight: { self.inFlight.withLockedValue { $0 } },
                release: { self.releases.withLockedValue { $0 += 1 } })
        }
    }

    @Test func aBurstOfClosesIsReleasedOnceASecondAfterTheLast() {
        let loop = EmbeddedEventLoop()
        // Cancels what is still scheduled: a pending check holds the release object.
        defer { try? loop.syncShutdownGracefully() }
        let probe = Probe()
        let release = probe.make()
        release.connectionClosed(on: loop)
        loop.advanceTime(by: .milliseconds(600))
        release.connectionClosed(on: loop)
        loop.advanceTime(by: .milliseconds(600))
        #expect(probe.released == 0, "the second close moved the release to a second after it")
        loop.advanceTime(by: .milliseconds(400))
        #expect(probe.released == 1)
        loop.advanceTime(by: .seconds(10))
        #expect(probe.released == 1, "one release for the burst")
    }

    @Test func callsStillRunningDelayTheRelease() {
        let loop = EmbeddedEventLoop()
        // Cancels what is still scheduled: a pending check holds the release object.
        defer { try? loop.syncShutdownGracefully() }
        let probe = Probe()
        let release = probe.make()
        probe.inFlight.withLockedValue { $0 = 3 }
        release.connectionClosed(on: loop)
        loop.advanceTime(by: .milliseconds(2500))
        #expect(probe.released == 0, "what the running calls free would stay in the arenas")
        probe.inFlight.withLockedValue { $0 = 0 }
        loop.advanceTime(by: .seconds(1))
        #expect(probe.released == 1)
    }

    @Test func aSteadyStreamOfClosesAndCallsDelaysItAtMostFiveSeconds() {
        let loop = EmbeddedEventLoop()
        // Cancels what is still scheduled: a pending check holds the release object.
        defer { try? loop.syncShutdownGracefully() }
        let probe = Probe()
        let release = probe.make()
        probe.inFlight.withLockedValue { $0 = 1 }
        for _ in 0..<10 {
            release.connectionClosed(on: loop)
            loop.advanceTime(by: .milliseconds(700))
        }
        #expect(probe.released == 1, "released once, 5 s after the first close, busy or not")
    }
}
