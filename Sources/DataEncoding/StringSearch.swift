/// Searching a string for another, compared as UTF-8 bytes. The standard
/// library's `contains(_: some StringProtocol)` and `split(separator:)` with
/// a string separator live in the regex runtime (_StringProcessing), which
/// would add a megabyte to the agent for two calls.
extension String {
    /// Whether `other` occurs in this string.
    public func containsBytes(of other: String) -> Bool {
        !occurrences(of: other, limit: 1).isEmpty
    }

    /// The pieces between occurrences of `separator` (taken left to right,
    /// not overlapping), empty ones kept.
    public func splitBytes(separator: String) -> [String] {
        let bytes = Array(utf8)
        var pieces: [String] = []
        var start = 0
        for match in occurrences(of: separator, limit: .max) {
            pieces.append(String(decoding: bytes[start..<match], as: UTF8.self))
            start = match + separator.utf8.count
        }
        pieces.append(String(decoding: bytes[start...], as: UTF8.self))
        return pieces
    }

    /// Where `needle` starts, at most `limit` times, not overlapping.
    private func occurrences(of needle: String, limit: Int) -> [Int] {
        let haystack = Array(utf8)
        let needle = Array(needle.utf8)
        guard !needle.isEmpty else { return [0] }
        var found: [Int] = []
        var start = 0
        while found.count < limit, start + needle.count <= haystack.count {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) {
                found.append(start)
                start += needle.count
            } else {
                start += 1
            }
        }
        return found
    }
}
