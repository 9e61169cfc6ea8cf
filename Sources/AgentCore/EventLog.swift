import AttestationFormats
import LocalFiles
import PlatformInterface

/// One runtime event: `domain operation content`, as upstream's AAEL records it.
public struct RuntimeEvent: Sendable, Equatable {
    public let domain: String
    public let operation: String
    public let content: String

    /// Refuses what would make the log unreadable: a space in the domain or
    /// operation (fields are split at the first two spaces), a newline anywhere.
    public init(domain: String, operation: String, content: String) throws(AgentError) {
        guard !domain.isEmpty, !operation.isEmpty else {
            throw AgentError(.invalidArgument, "a runtime event needs a domain and an operation")
        }
        guard !domain.contains(" "), !operation.contains(" ") else {
            throw AgentError(.invalidArgument, "the domain and operation of a runtime event may not contain spaces")
        }
        guard !(domain + operation + content).contains("\n") else {
            throw AgentError(.invalidArgument, "a runtime event may not contain a newline")
        }
        self.domain = domain
        self.operation = operation
        self.content = content
    }

    public var text: String { "\(domain) \(operation) \(content)" }
}

/// The agent's event log (upstream's AAEL): TCG2 event entries of type
/// EV_EVENT_TAG holding a tagged event `AAEL` with the event's text. Each
/// entry's digest extends the register it names; a write-ahead record makes
/// a crash between the extension and the append recoverable.
public struct EventLog: Sendable {
    static let eventTagType: UInt32 = 0x6

    public let path: String
    public let walPath: String
    let algorithm: EventLogAlgorithm

    public init(location: EventLogLocation, algorithm: EventLogAlgorithm) {
        self.path = location.file
        self.walPath = location.writeAheadRecord
        self.algorithm = algorithm
    }

    /// The entry's bytes and the digest that extends the register.
    public static func entry(
        _ event: RuntimeEvent, register: UInt32, algorithm: EventLogAlgorithm
    ) -> (bytes: [UInt8], digest: [UInt8]) {
        let tagged = AAEventLog.tagged(event.text)
        let digest = algorithm.digest(tagged)
        let bytes =
            le(register) + le(eventTagType) + le(UInt32(1)) + le(algorithm.tcgID) + digest + le(UInt32(tagged.count))
            + tagged
        return (bytes, digest)
    }

    /// Records `event` and extends `pcr` with its digest.
    public func record(_ event: RuntimeEvent, pcr: UInt64, platform: any TEEPlatform) async throws(AgentError) {
        let (bytes, digest) = Self.entry(
            event, register: UInt32(platform.eventLogRegister(forPCR: pcr)), algorithm: algorithm)
        let current = try await read(pcr, platform)
        let expected = algorithm.digest(current + digest)
        let offset = try fileSize()
        let record = WriteAheadRecord(offset: UInt64(offset), expected: expected, event: event)
        try io { () throws(FileError) in
            // All at once: a crash leaves no record or a whole one.
            try LocalFile.replace(walPath, record.bytes)
        }
        do {
            try await platform.extendRuntimeMeasurement(index: pcr, digest: digest)
        } catch {
            LocalFile.remove(walPath)
            throw AgentError(error, context: "cannot extend the register for PCR \(pcr)")
        }
        try io { () throws(FileError) in try LocalFile.append(path, bytes, at: offset) }
        LocalFile.remove(walPath)
    }

    /// After a crash between extending and appending: finish the append if
    /// the register shows the extension, else refuse to go on.
    public func recover(platform: any TEEPlatform, pcr: UInt64) async throws(AgentError) {
        guard let wal = try? LocalFile.read(walPath) else { return }
        let record = try WriteAheadRecord(parsing: wal, digestSize: algorithm.size, path: walPath)
        let offset = try record.appendOffset(logSize: try fileSize(), logPath: path)
        let (bytes, digest) = Self.entry(
            record.event, register: UInt32(platform.eventLogRegister(forPCR: pcr)), algorithm: algorithm)
        let current = try await read(pcr, platform)
        if current != record.expected {
            guard algorithm.digest(current + digest) == record.expected else {
                throw AgentError(
                    .internal,
                    "\(path) does not match PCR \(pcr): the log is corrupt or someone else extended the register")
            }
            do { try await platform.extendRuntimeMeasurement(index: pcr, digest: digest) } catch {
                throw AgentError(
                    .unavailable, "cannot finish the interrupted extension of PCR \(pcr): \(error)", cause: error)
            }
        }
        try io { () throws(FileError) in try LocalFile.append(path, bytes, at: offset) }
        LocalFile.remove(walPath)
    }

    private func read(_ pcr: UInt64, _ platform: any TEEPlatform) async throws(AgentError) -> [UInt8] {
        do { return try await platform.readRuntimeMeasurement(index: pcr) } catch {
            throw AgentError(.unavailable, "cannot read the register for PCR \(pcr): \(error)", cause: error)
        }
    }

    /// Where the next entry goes: the end of the log (0 before the first).
    private func fileSize() throws(AgentError) -> Int {
        LocalFile.size(path) ?? 0
    }

    private func io(_ body: () throws(FileError) -> Void) throws(AgentError) {
        do { try body() } catch { throw AgentError(error, context: "event log") }
    }

    static func le(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    static func le(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
}
