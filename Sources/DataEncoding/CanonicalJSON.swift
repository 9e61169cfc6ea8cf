extension JSON {
    /// RFC 8785 (JSON Canonicalization Scheme): object members sorted by their
    /// keys' UTF-16 code units, no white space, strings with the minimal
    /// escapes. Numbers are written as integers when integral (the only kind
    /// the attestation messages carry), else in Swift's shortest form.
    public func canonicalized() -> String {
        var out: [UInt8] = []
        writeCanonical(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private func writeCanonical(to out: inout [UInt8]) {
        switch self {
        case .null: Self.write("null", to: &out)
        case .bool(let value): Self.write(value ? "true" : "false", to: &out)
        case .number(let value): Self.writeNumber(value, to: &out)
        case .unsigned(let value): Self.write(String(value), to: &out)
        case .string(let value): Self.writeString(value, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.writeCanonical(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let sorted = members.sorted { Array($0.0.utf16).lexicographicallyPrecedes(Array($1.0.utf16)) }
            for (index, (key, value)) in sorted.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.writeCanonical(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}
