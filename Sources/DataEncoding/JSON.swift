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
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
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
        let newline = indent == nil ? "" : "\n"
        let pad = { (level: Int) in String(repeating: indent ?? "", count: level) }
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let value): JSON.writeNumber(value, to: &out)
        case .unsigned(let value): out += String(value)
        case .string(let value): JSON.writeString(value, to: &out)
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            out += "[" + newline
            for (index, item) in items.enumerated() {
                out += pad(level + 1)
                item.write(to: &out, indent: indent, level: level + 1)
                out += (index < items.count - 1 ? "," : "") + newline
            }
            out += pad(level) + "]"
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{" + newline
            for (index, (key, value)) in members.enumerated() {
                out += pad(level + 1)
                JSON.writeString(key, to: &out)
                out += indent == nil ? ":" : ": "
                value.write(to: &out, indent: indent, level: level + 1)
                out += (index < members.count - 1 ? "," : "") + newline
            }
            out += pad(level) + "}"
        }
    }

    /// Integral values below 2^53 (exact in a Double) as integers, as RFC 8785
    /// and serde write them; others in Swift's shortest round-trip form.
    static func writeNumber(_ value: Double, to out: inout String) {
        if value.rounded() == value, abs(value) < 9_007_199_254_740_992 { out += String(Int64(value)) } else { out += "\(value)" }
    }

    /// Minimal escapes, as RFC 8785 prescribes them (so canonical output shares this).
    static func writeString(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20: out += "\\u00" + Hex.encode([UInt8(s.value)])
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
