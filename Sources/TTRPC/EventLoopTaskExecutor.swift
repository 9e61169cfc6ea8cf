import NIOCore

/// Runs a call's task on its connection's event loop (SE-0417 task executor
/// preference): the handler, the actors it awaits and the answer's write all
/// stay on one thread, with no hop to the global pool and back per call.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: EventLoop

    init(_ eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
