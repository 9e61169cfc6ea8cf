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
        var out = ""
        write(to: &out, indent: nil, level: 0)
        return out
    }

    /// Indented by two spaces, for people.
    public func prettyPrinted() -> String {
        var out = ""
        write(to: &out, indent: "  ", level: 0)
        return out
    }

    private func write(to out: inout String, indent: String?, level: Int) {
        // A new line and the indentation of `level`, when printing for people.
        func breakLine(_ level: Int) {
            guard let indent else { return }
            out += "\n"
            for _ in 0..<level { out += indent }
        }
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let value): JSON.writeNumber(value, to: &out)
        case .unsigned(let value): out += String(value)
        case .string(let value): JSON.writeString(value, to: &out)
        case .array(let items):
            guard !items.isEmpty else {
                out += "[]"
                return
            }
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                breakLine(level + 1)
                item.write(to: &out, indent: indent, level: level + 1)
            }
            breakLine(level)
            out += "]"
        case .object(let members):
            guard !members.isEmpty else {
                out += "{}"
                return
            }
            out += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out += "," }
                breakLine(level + 1)
                JSON.writeString(key, to: &out)
                out += indent == nil ? ":" : ": "
                value.write(to: &out, indent: indent, level: level + 1)
            }
            breakLine(level)
            out += "}"
        }
    }

    /// Integral values below 2^53 (exact in a Double) as integers, as RFC 8785
    /// and serde write them; others in Swift's shortest round-trip form.
    static func writeNumber(_ value: Double, to out: inout String) {
        if value.rounded() == value, abs(value) < 9_007_199_254_740_992 {
            out += String(Int64(value))
        } else {
            out += "\(value)"
        }
    }

    /// Minimal escapes, as RFC 8785 prescribes them (so canonical output shares this).
    /// Runs of bytes that need no escape are copied whole: every byte of a
    /// multi-byte UTF-8 sequence is 0x80 or more, so cutting at the ASCII
    /// bytes below keeps each run valid UTF-8.
    static func writeString(_ value: String, to out: inout String) {
        out += "\""
        var value = value
        value.withUTF8 { bytes in
            var runStart = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if runStart < index {
                    out += String(decoding: UnsafeBufferPointer(rebasing: bytes[runStart..<index]), as: UTF8.self)
                }
                switch byte {
                case UInt8(ascii: "\""): out += "\\\""
                case UInt8(ascii: "\\"): out += "\\\\"
                case 0x08: out += "\\b"
                case 0x0C: out += "\\f"
                case UInt8(ascii: "\n"): out += "\\n"
                case UInt8(ascii: "\r"): out += "\\r"
                case UInt8(ascii: "\t"): out += "\\t"
                default: out += "\\u00" + Hex.encode([byte])
                }
                runStart = index + 1
            }
            if runStart < bytes.count {
                out += String(decoding: UnsafeBufferPointer(rebasing: bytes[runStart...]), as: UTF8.self)
            }
        }
        out += "\""
    }
}
