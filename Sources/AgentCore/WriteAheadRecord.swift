/// What the event log writes before it extends a register: where the entry
/// goes in the log, what the register must hold once it is extended, and the
/// event. After a crash between the extension and the append, `EventLog`
/// reads it back to finish the append (`.wal_event_entry`, upstream's name).
///
/// Layout: the log offset (8 bytes, big-endian), the expected register value
/// (the algorithm's digest size), the event's text.
public struct WriteAheadRecord: Sendable, Equatable {
    public let offset: UInt64
    public let expected: [UInt8]
    public let event: RuntimeEvent

    public init(offset: UInt64, expected: [UInt8], event: RuntimeEvent) {
        self.offset = offset
        self.expected = expected
        self.event = event
    }

    /// Reads a record back; `path` names the file in the errors.
    public init(parsing bytes: [UInt8], digestSize: Int, path: String) throws(AgentError) {
        guard bytes.count >= 8 + digestSize else {
            throw AgentError(.internal, "\(path) is truncated; remove it and restart the agent")
        }
        offset = bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
        expected = Array(bytes[8..<8 + digestSize])
        let text = String(decoding: bytes[(8 + digestSize)...], as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else {
            throw AgentError(.internal, "\(path) holds no event; remove it and restart the agent")
        }
        do {
            event = try RuntimeEvent(domain: parts[0], operation: parts[1], content: parts[2])
        } catch {
            throw AgentError(
                .internal,
                "\(path) holds an event the agent would not have written (\(error.message)); remove it and restart the agent"
            )
        }
    }

    public var bytes: [UInt8] {
        withUnsafeBytes(of: offset.bigEndian, Array.init) + expected + Array(event.text.utf8)
    }

    /// Where the entry is appended, given the log's size now: the record was
    /// written when the log ended at `offset`, so the log cannot be shorter
    /// (a longer one holds a partial append, which is overwritten).
    public func appendOffset(logSize: Int, logPath: String) throws(AgentError) -> Int {
        guard offset <= UInt64(logSize) else {
            throw AgentError(
                .internal,
                "the write-ahead record points at byte \(offset) of \(logPath), which holds \(logSize) bytes: the log was cut short; it no longer matches the register"
            )
        }
        return Int(offset)
    }
}
