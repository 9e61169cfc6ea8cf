import NIOConcurrencyHelpers
import PlatformInterface

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a blocking driver call that may never return (a GPU that hangs in
/// the middle of a report) on a thread of its own, so that the caller can
/// stop waiting: when its task is cancelled (the ttrpc deadline) or after
/// `limit`. The call itself cannot be stopped and goes on; the thread ends
/// when it returns, if ever.
enum BlockingCall {
    enum Outcome<Value: Sendable>: Sendable {
        case finished(Value)
        case timedOut
        case cancelled
    }

    static func run<Value: Sendable>(
        limit: Duration, _ work: @escaping @Sendable () -> Value
    ) async -> Outcome<Value> {
        let answer = OneAnswer<Outcome<Value>>()
        let timer = Task {
            try? await Task.sleep(for: limit)
            answer.give(.timedOut)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                answer.wait(continuation)
                startThread { answer.give(.finished(work())) }
            }
        } onCancel: {
            answer.give(.cancelled)
        }
    }

    /// A detached POSIX thread running `body`.
    private static func startThread(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(ThreadBody(body))
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, box.toOpaque())
        if created == 0 {
            pthread_detach(thread)
        } else {
            box.takeRetainedValue().body()  // no thread to be had: block here rather than lose the call
        }
    }

    private final class ThreadBody: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}

/// The first of several possible answers, handed to a continuation that may
/// be set before or after it arrives; later answers are dropped.
private final class OneAnswer<Value: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<Value, Never>)
        case early(Value)
        case given
    }
    private let state = NIOLockedValueBox<State>(.empty)

    func wait(_ continuation: CheckedContinuation<Value, Never>) {
        let early: Value? = state.withLockedValue { state in
            switch state {
            case .early(let value):
                state = .given
                return value
            default:
                state = .waiting(continuation)
                return nil
            }
        }
        if let early { continuation.resume(returning: early) }
    }

    func give(_ value: Value) {
        let continuation: CheckedContinuation<Value, Never>? = state.withLockedValue { state in
            switch state {
            case .empty:
                state = .early(value)
                return nil
            case .waiting(let continuation):
                state = .given
                return continuation
            case .early, .given:
                return nil
            }
        }
        continuation?.resume(returning: value)
    }
}
