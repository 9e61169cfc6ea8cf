/// The agent's own event log file (upstream's AAEL): TCG_PCR_EVENT2 entries
/// with no spec ID event before them, each naming its register, one digest
/// (SHA-256 on a TPM, SHA-384 on TDX) and, as an EV_EVENT_TAG, the tag
/// `AAEL` and the event's text `domain operation content`.
public enum AAEventLog {
    static let tag: UInt32 = 0x4141_454C

    /// The event data of an entry, and what its digest is over: the tag
    /// `AAEL`, the text's length, the text (`domain operation content`).
    public static func tagged(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        return le(tag) + le(UInt32(bytes.count)) + bytes
    }

    static func le(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }

    public struct Entry: Sendable, Equatable {
        public let register: UInt32
        public let digest: [UInt8]
        public let text: String
    }

    static let digestSizes: [UInt16: Int] = [0x000B: 32, 0x000C: 48]

    public static func entries(_ bytes: [UInt8]) throws(ReportParseError) -> [Entry] {
        let r = ReportBytes(bytes, what: "the event log")
        var entries: [Entry] = []
        var at = 0
        while at < bytes.count {
            let register = try r.uint32("register", at: at)
            let count = try r.uint32("digest count", at: at + 8)
            let algorithm = try r.uint16("digest algorithm", at: at + 12)
            guard count == 1, let size = digestSizes[algorithm] else {
                throw ReportParseError(
                    "the event log's entry at byte \(at) has \(count) digests of algorithm 0x\(String(algorithm, radix: 16)), not one SHA-256 or SHA-384 digest"
                )
            }
            let digest = try r.field("digest", at: at + 14, length: size)
            let eventSize = Int(try r.uint32("event size", at: at + 14 + size))
            let event = try r.field("event", at: at + 18 + size, length: eventSize)
            guard eventSize >= 8, try r.uint32("tag", at: at + 18 + size) == tag else {
                throw ReportParseError("the event log's entry at byte \(at) is not an AAEL event")
            }
            entries.append(
                Entry(register: register, digest: digest, text: String(decoding: event[8...], as: UTF8.self)))
            at += 18 + size + eventSize
        }
        return entries
    }
}
