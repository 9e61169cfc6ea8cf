import DataEncoding

/// The `cc_eventlog` of TDX and az-snp-vtpm evidence, as trustee's event log
/// parser reads it (TCG PC Client "crypto agile" format): the firmware's CCEL
/// table with its unused tail cut off, then the agent's AAEL entries, then
/// eight 0xFF bytes. Without a CCEL table a TCG_EfiSpecIdEvent comes first,
/// declaring the entries' algorithm, so that a parser learns the digest size
/// before the AAEL entries. Trustee replays the registers the log names
/// (RTMR0-3 on TDX, the PCRs on Azure); an AAEL entry missing here fails
/// every token after the first runtime measurement.
public enum CCEventLog {
    static let noAction: UInt32 = 0x3
    static let endMarker = [UInt8](repeating: 0xFF, count: 8)

    /// A TCG_EfiSpecIdEvent (TCG PC Client PFP, "Specification ID Version
    /// Event") announcing one algorithm, the registers' own: SHA-384 for TDX's
    /// RTMRs, SHA-256 for a vTPM's PCRs.
    static func specIDHeader(declaring algorithm: EventLogAlgorithm) -> [UInt8] {
        let signature = Array("Spec ID Event03".utf8) + [0]
        let platformClass = le(UInt32(0))
        let versionAndUintnSize: [UInt8] = [0, 2, 0, 2]  // minor, major, errata, uintnSize
        let digestSizes = le(UInt32(1)) + le(algorithm.tcgID) + le(UInt16(algorithm.size))
        let vendorInfoSize: [UInt8] = [0]
        let event = signature + platformClass + versionAndUintnSize + digestSizes + vendorInfoSize
        return le(UInt32(0)) + le(noAction) + [UInt8](repeating: 0, count: 20) + le(UInt32(event.count)) + event
    }

    /// The log for the evidence; nil with neither a CCEL table nor an AAEL
    /// file, as upstream. `algorithm` is what the AAEL entries use.
    public static func assemble(
        ccel: [UInt8]?, aael: [UInt8]?, algorithm: EventLogAlgorithm
    ) throws(ReportParseError) -> [UInt8]? {
        guard ccel != nil || aael != nil else { return nil }
        let head = try ccel.map(trimmed) ?? specIDHeader(declaring: algorithm)
        return head + (aael ?? []) + endMarker
    }

    /// The CCEL table up to its last event: the ACPI table reserves more room
    /// than the firmware uses, and the rest (0xFF or zero bytes) would end
    /// the log before the AAEL entries.
    public static func trimmed(_ table: [UInt8]) throws(ReportParseError) -> [UInt8] {
        Array(table[..<(try walk(table, what: "CCEL") { _ in })])
    }

    /// RTMR 0-3 as a verifier replays them from a `cc_eventlog`: from zero,
    /// each event's SHA-384 digest extends RTMR (MR index - 1), as trustee's
    /// event log parser does. Events without a SHA-384 digest are skipped.
    public static func replayedRTMRs(_ log: [UInt8]) throws(ReportParseError) -> [[UInt8]] {
        var rtmrs = [[UInt8]](repeating: [UInt8](repeating: 0, count: 48), count: 4)
        var outOfRange: UInt32?
        _ = try walk(log, what: "the event log") { event in
            guard let digest = event.digests[sha384] else { return }
            guard (1...4).contains(event.register) else {
                outOfRange = event.register
                return
            }
            rtmrs[Int(event.register) - 1] = SHA2.sha384(rtmrs[Int(event.register) - 1] + digest)
        }
        if let outOfRange { throw ReportParseError("the event log names MR index \(outOfRange); TDX has 1 to 4") }
        return rtmrs
    }

    /// The AAEL events of a `cc_eventlog`, in order: each one's measurement
    /// register and text (`domain operation content`).
    public static func aaelEvents(_ log: [UInt8]) throws(ReportParseError) -> [(register: UInt32, text: String)] {
        var events: [(register: UInt32, text: String)] = []
        _ = try walk(log, what: "the event log") { event in
            let data = Array(event.data)
            guard event.type == eventTag, data.count >= 8, data.prefix(4).elementsEqual(AAEventLog.tagged("").prefix(4))
            else { return }
            let size = Int(data[4]) | Int(data[5]) << 8 | Int(data[6]) << 16 | Int(data[7]) << 24
            events.append((event.register, String(decoding: data.dropFirst(8).prefix(size), as: UTF8.self)))
        }
        return events
    }

    static let sha384: UInt16 = 0x000C
    static let eventTag: UInt32 = 0x6

    /// One event after the spec ID event.
    struct Event {
        let register: UInt32
        let type: UInt32
        let digests: [UInt16: [UInt8]]
        let data: ArraySlice<UInt8>
    }

    /// Visits each event after the spec ID event up to the end marker (eight
    /// 0xFF or zero bytes) or the end; returns where the events end.
    static func walk(
        _ table: [UInt8], what: String, _ visit: (Event) -> Void
    ) throws(ReportParseError) -> Int {
        let r = ReportBytes(table, what: what)
        // The first event has a SHA-1 digest slot; as EV_NO_ACTION it is the spec ID event.
        let type = try r.uint32("first event type", at: 4)
        let dataSize = Int(try r.uint32("first event size", at: 28))
        var sizes: [UInt16: Int] = [0x0004: 20, 0x000B: 32, 0x000C: 48, 0x000D: 64, 0x0012: 32]
        if type == noAction {
            let count = Int(try r.uint32("algorithm count", at: 32 + 24))
            guard count <= 16 else { throw ReportParseError("\(what): the spec ID event lists \(count) algorithms") }
            for index in 0..<count {
                let id = try r.uint16("algorithm id", at: 32 + 28 + index * 4)
                sizes[id] = Int(try r.uint16("digest size", at: 32 + 30 + index * 4))
            }
        }
        var offset = 32 + dataSize
        while offset + 8 <= table.count {
            let next = table[offset..<offset + 8]
            if next.allSatisfy({ $0 == 0xFF }) || next.allSatisfy({ $0 == 0 }) { return offset }
            let index = try r.uint32("MR index", at: offset)
            let eventType = try r.uint32("event type", at: offset + 4)
            let count = Int(try r.uint32("digest count", at: offset + 8))
            guard count <= 16 else {
                throw ReportParseError("\(what): an event at byte \(offset) has \(count) digests")
            }
            var cursor = offset + 12
            var digests: [UInt16: [UInt8]] = [:]
            for _ in 0..<count {
                let algorithm = try r.uint16("digest algorithm", at: cursor)
                guard let size = sizes[algorithm] else {
                    throw ReportParseError(
                        "\(what): digest algorithm 0x\(String(algorithm, radix: 16)) at byte \(cursor) has no known size"
                    )
                }
                digests[algorithm] = try r.field("digest", at: cursor + 2, length: size)
                cursor += 2 + size
            }
            let eventSize = Int(try r.uint32("event size", at: cursor))
            offset = cursor + 4 + eventSize
            guard offset <= table.count else {
                throw ReportParseError("\(what): the event at byte \(cursor) runs past the end")
            }
            if eventType != noAction {
                visit(Event(register: index, type: eventType, digests: digests, data: table[(cursor + 4)..<offset]))
            }
        }
        return min(offset, table.count)
    }

    static func le(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    static func le(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
}
