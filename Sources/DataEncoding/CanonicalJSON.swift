extension JSON {
    /// RFC 8785 (JSON Canonicalization Scheme): object members sorted by their
    /// keys' UTF-16 code units, no white space, strings with the minimal
    /// escapes. Numbers are written as integers when integral (the only kind
    /// the attestation messages carry), else in Swift's shortest form.
    public func canonicalized() -> String {
        var out = ""
        writeCanonical(to: &out)
        return out
    }

    private func writeCanonical(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let value): Self.writeNumber(value, to: &out)
        case .unsigned(let value): out += String(value)
        case .string(let value): Self.writeString(value, to: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.writeCanonical(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            let sorted = members.sorted { Array($0.0.utf16).lexicographicallyPrecedes(Array($1.0.utf16)) }
            for (index, (key, value)) in sorted.enumerated() {
                if index > 0 { out += "," }
                Self.writeString(key, to: &out)
                out += ":"
                value.writeCanonical(to: &out)
            }
            out += "}"
        }
    }
}
