/// A CBOR data item (RFC 8949), as much of it as attestation tokens use:
/// definite lengths only, floats kept as their raw bits.
public indirect enum CBOR: Sendable, Equatable {
    case unsigned(UInt64)
    case negative(UInt64)  // the value is -1 - n
    case bytes([UInt8])
    case text(String)
    case array([CBOR])
    case map([(CBOR, CBOR)])
    case tagged(UInt64, CBOR)
    case simple(UInt8)  // false 20, true 21, null 22, undefined 23
    case float(UInt64)

    public static func == (lhs: CBOR, rhs: CBOR) -> Bool {
        switch (lhs, rhs) {
        case (.unsigned(let a), .unsigned(let b)), (.negative(let a), .negative(let b)), (.float(let a), .float(let b)):
            a == b
        case (.bytes(let a), .bytes(let b)): a == b
        case (.text(let a), .text(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.map(let a), .map(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.tagged(let t, let a), .tagged(let u, let b)): t == u && a == b
        case (.simple(let a), .simple(let b)): a == b
        default: false
        }
    }

    /// The value under integer key `key` of a map.
    public subscript(key: Int) -> CBOR? {
        guard case .map(let pairs) = self else { return nil }
        let wanted: CBOR = key >= 0 ? .unsigned(UInt64(key)) : .negative(UInt64(-1 - key))
        return pairs.first { $0.0 == wanted }?.1
    }

    public var bytes: [UInt8]? { if case .bytes(let b) = self { b } else { nil } }
    public var text: String? { if case .text(let t) = self { t } else { nil } }

    /// Decodes exactly one item filling `data`.
    public init(decoding data: [UInt8]) throws(ReportParseError) {
        var decoder = CBORDecoder(bytes: data)
        self = try decoder.item(depth: 0)
        guard decoder.offset == data.count else {
            throw ReportParseError("CBOR: \(data.count - decoder.offset) bytes left after the item")
        }
    }
}

private struct CBORDecoder {
    static let maxDepth = 32
    let bytes: [UInt8]
    var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func take(_ count: Int) throws(ReportParseError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - offset else {
            throw ReportParseError("CBOR: truncated at byte \(offset), \(count) more bytes needed")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func argument(_ info: UInt8) throws(ReportParseError) -> UInt64 {
        switch info {
        case 0..<24: return UInt64(info)
        case 24...27:
            let count = 1 << Int(info - 24)
            return try take(count).reduce(0) { $0 << 8 | UInt64($1) }
        default:
            throw ReportParseError(
                "CBOR: indefinite or reserved length (additional info \(info)) at byte \(offset - 1)")
        }
    }

    mutating func length(_ info: UInt8) throws(ReportParseError) -> Int {
        let value = try argument(info)
        guard value <= UInt64(bytes.count - offset) else {
            throw ReportParseError(
                "CBOR: length \(value) at byte \(offset) exceeds the \(bytes.count - offset) bytes left")
        }
        return Int(value)
    }

    mutating func item(depth: Int) throws(ReportParseError) -> CBOR {
        guard depth < Self.maxDepth else { throw ReportParseError("CBOR: nested deeper than \(Self.maxDepth)") }
        let initial = try take(1).first!
        let major = initial >> 5
        let info = initial & 0x1F
        switch major {
        case 0: return .unsigned(try argument(info))
        case 1: return .negative(try argument(info))
        case 2: return .bytes(Array(try take(try length(info))))
        case 3:
            let raw = try take(try length(info))
            guard let text = String(validating: raw, as: UTF8.self) else {
                throw ReportParseError("CBOR: text string is not UTF-8")
            }
            return .text(text)
        case 4:
            let count = try length(info)
            var items: [CBOR] = []
            for _ in 0..<count { items.append(try item(depth: depth + 1)) }
            return .array(items)
        case 5:
            let count = try length(info)
            var pairs: [(CBOR, CBOR)] = []
            for _ in 0..<count { pairs.append((try item(depth: depth + 1), try item(depth: depth + 1))) }
            return .map(pairs)
        case 6: return .tagged(try argument(info), try item(depth: depth + 1))
        default:
            switch info {
            case 0..<24: return .simple(info)
            case 24: return .simple(try take(1).first!)
            case 25...27: return .float(try argument(info))
            default: throw ReportParseError("CBOR: unsupported simple value \(info) at byte \(offset - 1)")
            }
        }
    }
}
