/// The deadline of the call being served (its ttrpc `timeout_nano`), for
/// platform work that may block for good, such as a GPU that hangs: such
/// work gives up a little before it, so that its own answer, which names
/// what hung, reaches the caller instead of the server's plain
/// DEADLINE_EXCEEDED. The service glue sets it for the calls that need it.
public enum CallerDeadline {
    @TaskLocal public static var instant: ContinuousClock.Instant?

    /// How long work may wait: `limit`, or less when the caller's deadline
    /// comes sooner (minus `margin` for the answer to get back); and whether
    /// the deadline set it.
    public static func bound(
        _ limit: Duration, margin: Duration = .milliseconds(250)
    ) -> (limit: Duration, byCaller: Bool) {
        guard let instant else { return (limit, false) }
        let left = ContinuousClock.now.duration(to: instant) - margin
        return left < limit ? (max(left, .zero), true) : (limit, false)
    }
}
