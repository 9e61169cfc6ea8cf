/// A JSON value whose objects keep their keys in order, so that evidence and
/// command output come out in the order a reader (and upstream) expects.
public indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    /// An exact non-negative integer, such as a 64-bit report field: a
    /// Double would round it above 2^53, and verifiers compare it exactly.
    case unsigned(UInt64)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.unsigned(let a), .unsigned(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var string: String? { if case .string(let v) = self { v } else { nil } }
    public var bool: Bool? { if case .bool(let v) = self { v } else { nil } }
    /// Any number, as a Double (exact integers may round above 2^53).
    public var number: Double? {
        switch self {
        case .number(let v): v
        case .unsigned(let v): Double(v)
        default: nil
        }
    }
    public var unsigned: UInt64? { if case .unsigned(let v) = self { v } else { nil } }

    /// Compact serialisation, no spaces (as serde_json writes it).
    public func serialized() -> String {
        String(decoding: serializedBytes(), as: UTF8.self)
    }

    /// `serialized()` as UTF-8 bytes, what evidence is sent as.
    public func serializedBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out, indent: nil, level: 0)
        return out
    }

    /// Indented by two spaces, for people.
    public func prettyPrinted() -> String {
        var out: [UInt8] = []
        write(to: &out, indent: "  ", level: 0)
        return String(decoding: out, as: UTF8.self)
    }

    private func write(to out: inout [UInt8], indent: String?, level: Int) {
        // A new line and the indentation of `level`, when printing for people.
        func breakLine(_ level: Int) {
            guard let indent else { return }
            out.append(UInt8(ascii: "\n"))
            for _ in 0..<level { out.append(contentsOf: indent.utf8) }
        }
        switch self {
        case .null: JSON.write("null", to: &out)
        case .bool(let value): JSON.write(value ? "true" : "false", to: &out)
        case .number(let value): JSON.writeNumber(value, to: &out)
        case .unsigned(let value): JSON.write(String(value), to: &out)
        case .string(let value): JSON.writeString(value, to: &out)
        case .array(let items):
            guard !items.isEmpty else {
                JSON.write("[]", to: &out)
                return
            }
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                breakLine(level + 1)
                item.write(to: &out, indent: indent, level: level + 1)
            }
            breakLine(level)
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            guard !members.isEmpty else {
                JSON.write("{}", to: &out)
                return
            }
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                breakLine(level + 1)
                JSON.writeString(key, to: &out)
                JSON.write(indent == nil ? ":" : ": ", to: &out)
                value.write(to: &out, indent: indent, level: level + 1)
            }
            breakLine(level)
            out.append(UInt8(ascii: "}"))
        }
    }

    static func write(_ text: String, to out: inout [UInt8]) {
        out.append(contentsOf: text.utf8)
    }

    /// Integral values below 2^53 (exact in a Double) as integers, as RFC 8785
    /// and serde write them; others in Swift's shortest round-trip form.
    static func writeNumber(_ value: Double, to out: inout [UInt8]) {
        if value.rounded() == value, abs(value) < 9_007_199_254_740_992 {
            write(String(Int64(value)), to: &out)
        } else {
            write("\(value)", to: &out)
        }
    }

    /// Minimal escapes, as RFC 8785 prescribes them (so canonical output
    /// shares this). Bytes that need no escape are copied as they are: every
    /// byte of a multi-byte UTF-8 sequence is 0x80 or more.
    static func writeString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            guard bytes.contains(where: needsEscape) else {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                guard needsEscape(byte) else {
                    out.append(byte)
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""): write("\\\"", to: &out)
                case UInt8(ascii: "\\"): write("\\\\", to: &out)
                case 0x08: write("\\b", to: &out)
                case 0x0C: write("\\f", to: &out)
                case UInt8(ascii: "\n"): write("\\n", to: &out)
                case UInt8(ascii: "\r"): write("\\r", to: &out)
                case UInt8(ascii: "\t"): write("\\t", to: &out)
                default: write("\\u00" + Hex.encode([byte]), to: &out)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }
}
