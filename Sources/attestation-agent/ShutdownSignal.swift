import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Waits for SIGTERM or SIGINT, the signals that stop the agent gracefully.
enum ShutdownSignal {
    static func wait() async -> String {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "shutdown-signal")
            let box = SignalSources()
            for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    // Runs on the serial queue: the first signal resumes, later ones are ignored.
                    guard !box.fired else { return }
                    box.fired = true
                    continuation.resume(returning: name)
                }
                source.resume()
                box.sources.append(source)
            }
            // Kept alive for the life of the process.
            SignalSources.retained = box
        }
    }
}

private final class SignalSources: @unchecked Sendable {
    nonisolated(unsafe) static var retained: SignalSources?
    var sources: [DispatchSourceSignal] = []
    var fired = false
}
