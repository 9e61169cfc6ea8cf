import CSignalShims
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// SIGTERM or SIGINT, the signals that stop the agent gracefully. They are
/// caught from before `main` (CSignalShims), so none is lost between start
/// and `wait()`: one that came during launch is collected here at once.
enum ShutdownSignal {
    /// Whether the signals are caught; without that, one could kill the agent
    /// before it drains (the caller logs it).
    static var armed: Bool { aa_shutdown_signals_caught() == 1 }

    static func wait() async -> String {
        await withCheckedContinuation { continuation in
            // One thread waits on the signal pipe for the life of the process.
            DispatchQueue.global().async {
                let number = aa_wait_shutdown_signal()
                continuation.resume(returning: number == SIGINT ? "SIGINT" : "SIGTERM")
            }
        }
    }
}
