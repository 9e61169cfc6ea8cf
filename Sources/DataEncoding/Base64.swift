/// Standard base64 (RFC 4648 section 4) with padding, as upstream's agent
/// encodes evidence and takes `--initdata_digest`.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        let count = (bytes.count + 2) / 3 * 4
        return String(unsafeUninitializedCapacity: count) { out in
            alphabet.withUnsafeBufferPointer { alphabet in
                var at = 0
                var index = 0
                while index < bytes.count {
                    let remaining = bytes.count - index
                    let b0 = bytes[index]
                    let b1 = remaining > 1 ? bytes[index + 1] : 0
                    let b2 = remaining > 2 ? bytes[index + 2] : 0
                    out[at] = alphabet[Int(b0 >> 2)]
                    out[at + 1] = alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)]
                    out[at + 2] = remaining > 1 ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "=")
                    out[at + 3] = remaining > 2 ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "=")
                    at += 4
                    index += 3
                }
            }
            return count
        }
    }

    /// base64url (RFC 4648 section 5), without padding as JOSE uses it,
    /// or `padded` as Rust's serde_with writes it.
    public static func urlEncode(_ bytes: [UInt8], padded: Bool = false) -> String {
        String(
            encode(bytes).compactMap { char -> Character? in
                switch char {
                case "+": "-"
                case "/": "_"
                case "=": padded ? "=" : nil
                default: char
                }
            })
    }

    /// Decodes base64url, padded or not.
    public static func urlDecode(_ text: String) -> [UInt8]? {
        decode(String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 }))
    }

    /// nil unless `text` is valid padded base64 (unpadded input is accepted too).
    public static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        var padding = 0
        for char in text.utf8 {
            if char == UInt8(ascii: "=") {
                padding += 1
                continue
            }
            guard padding == 0, let value = sextet(char) else { return nil }
            values.append(value)
        }
        guard values.count % 4 != 1, padding <= 2 else { return nil }
        if padding > 0 && (values.count + padding) % 4 != 0 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var index = 0
        while index < values.count {
            let chunk = values[index..<min(index + 4, values.count)].map { $0 } + [0, 0, 0]
            out.append(chunk[0] << 2 | chunk[1] >> 4)
            if values.count - index > 2 { out.append(chunk[1] << 4 | chunk[2] >> 2) }
            if values.count - index > 3 { out.append(chunk[2] << 6 | chunk[3]) }
            index += 4
        }
        return out
    }

    private static func sextet(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): char - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): char - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): char - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
