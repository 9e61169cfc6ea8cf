/// Why bytes are not the report or token they claim to be.
public struct ReportParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Bounds-checked reads at fixed offsets of a report.
struct ReportBytes {
    let bytes: [UInt8]
    let what: String

    init(_ bytes: some Collection<UInt8>, what: String) {
        self.bytes = Array(bytes)
        self.what = what
    }

    func field(_ name: String, at offset: Int, length: Int) throws(ReportParseError) -> [UInt8] {
        guard offset >= 0, length >= 0, offset + length <= bytes.count else {
            throw ReportParseError(
                "\(what) is truncated: \(name) needs bytes \(offset)..<\(offset + length), only \(bytes.count) present")
        }
        return Array(bytes[offset..<offset + length])
    }

    func uint16(_ name: String, at offset: Int) throws(ReportParseError) -> UInt16 {
        let b = try field(name, at: offset, length: 2)
        return UInt16(b[0]) | UInt16(b[1]) << 8
    }

    func uint32(_ name: String, at offset: Int) throws(ReportParseError) -> UInt32 {
        let b = try field(name, at: offset, length: 4)
        return b.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    }

    func uint64(_ name: String, at offset: Int) throws(ReportParseError) -> UInt64 {
        let b = try field(name, at: offset, length: 8)
        return b.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }
}
