/// The `cc_eventlog` of TDX evidence, as trustee's event log parser reads it
/// (TCG PC Client "crypto agile" format): the firmware's CCEL table with its
/// unused tail cut off, then the agent's AAEL entries, then eight 0xFF bytes.
/// Without a CCEL table a TCG_EfiSpecIdEvent comes first, so that a parser
/// learns the digest sizes before the AAEL entries. Trustee replays RTMR0-3
/// from the whole log; an AAEL entry missing here fails every token after
/// the first runtime measurement.
public enum CCEventLog {
    static let noAction: UInt32 = 0x3
    static let endMarker = [UInt8](repeating: 0xFF, count: 8)

    /// A TCG_EfiSpecIdEvent (TCG PC Client PFP, "Specification ID Version
    /// Event") announcing one algorithm, SHA-384 (48 bytes), the RTMRs' own.
    static let specIDHeader: [UInt8] = {
        let signature = Array("Spec ID Event03".utf8) + [0]
        let platformClass = le(UInt32(0))
        let versionAndUintnSize: [UInt8] = [0, 2, 0, 2]  // minor, major, errata, uintnSize
        let sha384Digest = le(UInt32(1)) + le(UInt16(0x000C)) + le(UInt16(48))  // one algorithm: SHA-384, 48 bytes
        let vendorInfoSize: [UInt8] = [0]
        let event = signature + platformClass + versionAndUintnSize + sha384Digest + vendorInfoSize
        return le(UInt32(0)) + le(noAction) + [UInt8](repeating: 0, count: 20) + le(UInt32(event.count)) + event
    }()

    /// The log for the evidence; nil with neither a CCEL table nor an AAEL file, as upstream.
    public static func assemble(ccel: [UInt8]?, aael: [UInt8]?) throws(ReportParseError) -> [UInt8]? {
        guard ccel != nil || aael != nil else { return nil }
        let head = try ccel.map(trimmed) ?? specIDHeader
        return head + (aael ?? []) + endMarker
    }

    /// The CCEL table up to its last event: the ACPI table reserves more room
    /// than the firmware uses, and the rest (0xFF or zero bytes) would end
    /// the log before the AAEL entries.
    public static func trimmed(_ table: [UInt8]) throws(ReportParseError) -> [UInt8] {
        let r = ReportBytes(table, what: "CCEL")
        // The first event has a SHA-1 digest slot; as EV_NO_ACTION it is the spec ID event.
        let type = try r.uint32("first event type", at: 4)
        let dataSize = Int(try r.uint32("first event size", at: 28))
        var sizes: [UInt16: Int] = [0x0004: 20, 0x000B: 32, 0x000C: 48, 0x000D: 64, 0x0012: 32]
        if type == noAction {
            let count = Int(try r.uint32("algorithm count", at: 32 + 24))
            guard count <= 16 else { throw ReportParseError("CCEL: the spec ID event lists \(count) algorithms") }
            for index in 0..<count {
                let id = try r.uint16("algorithm id", at: 32 + 28 + index * 4)
                sizes[id] = Int(try r.uint16("digest size", at: 32 + 30 + index * 4))
            }
        }
        var offset = 32 + dataSize
        while offset + 8 <= table.count {
            let next = table[offset..<offset + 8]
            if next.allSatisfy({ $0 == 0xFF }) || next.allSatisfy({ $0 == 0 }) { return Array(table[..<offset]) }
            let digests = Int(try r.uint32("digest count", at: offset + 8))
            guard digests <= 16 else {
                throw ReportParseError("CCEL: an event at byte \(offset) has \(digests) digests")
            }
            var cursor = offset + 12
            for _ in 0..<digests {
                let algorithm = try r.uint16("digest algorithm", at: cursor)
                guard let size = sizes[algorithm] else {
                    throw ReportParseError(
                        "CCEL: digest algorithm 0x\(String(algorithm, radix: 16)) at byte \(cursor) has no known size")
                }
                cursor += 2 + size
            }
            let eventSize = Int(try r.uint32("event size", at: cursor))
            offset = cursor + 4 + eventSize
            guard offset <= table.count else {
                throw ReportParseError("CCEL: the event at byte \(cursor) runs past the table")
            }
        }
        return Array(table[..<min(offset, table.count)])
    }

    static func le(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    static func le(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
}
