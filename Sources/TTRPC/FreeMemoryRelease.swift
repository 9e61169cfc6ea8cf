import CAllocatorShims

/// Gives the pages that freed allocations leave behind back to the system.
///
/// glibc keeps freed memory in its arenas for reuse, so a burst of buffering
/// for a client that has since gone (answers it never read, a flood of
/// pipelined requests) would stay in the agent's RSS for good. The server
/// calls this shortly after connections close, at most once a second.
enum FreeMemoryRelease {
    static func now() {
        aa_release_free_memory()
    }
}
