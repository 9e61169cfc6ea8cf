/// Where and why a text is not valid JSON.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    public var description: String { "byte \(offset): \(reason)" }
}

extension JSON {
    /// Parses RFC 8259 JSON; nesting is limited to 64 levels.
    public init(parsing text: String) throws(JSONError) {
        var parser = JSONParser(bytes: Array(text.utf8))
        self = try parser.parseDocument()
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var index = 0
    var depth = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws(JSONError) -> JSON {
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw error("unexpected text after the value") }
        return value
    }

    mutating func parseValue() throws(JSONError) -> JSON {
        skipWhitespace()
        guard let byte = peek() else { throw error("expected a value, found the end") }
        switch byte {
        case UInt8(ascii: "{"):
            return try parseContainer(close: "}") { p throws(JSONError) in
                guard p.peek() == UInt8(ascii: "\"") else { throw p.error("expected a string key") }
                let key = try p.parseString()
                p.skipWhitespace()
                try p.expect(":")
                return (key, try p.parseValue())
            } wrap: {
                .object($0)
            }
        case UInt8(ascii: "["):
            return try parseContainer(close: "]") { p throws(JSONError) in
                ("", try p.parseValue())
            } wrap: {
                .array($0.map(\.1))
            }
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default: return try parseNumber()
        }
    }

    mutating func parseContainer(
        close: Character, member: (inout JSONParser) throws(JSONError) -> (String, JSON),
        wrap: ([(String, JSON)]) -> JSON
    ) throws(JSONError) -> JSON {
        depth += 1
        guard depth <= 64 else { throw error("nested more than 64 levels deep") }
        defer { depth -= 1 }
        index += 1
        var members: [(String, JSON)] = []
        skipWhitespace()
        if peek() == close.asciiValue {
            index += 1
            return wrap(members)
        }
        while true {
            skipWhitespace()
            members.append(try member(&self))
            skipWhitespace()
            if peek() == UInt8(ascii: ",") {
                index += 1
                continue
            }
            try expect(close)
            return wrap(members)
        }
    }

    mutating func parseString() throws(JSONError) -> String {
        index += 1
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated string") }
            index += 1
            if byte == UInt8(ascii: "\"") { break }
            guard byte >= 0x20 else { throw error("control character in a string") }
            guard byte == UInt8(ascii: "\\") else {
                run.append(byte)
                continue
            }
            scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
            run = []
            guard let escape = peek() else { throw error("unterminated escape") }
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                // UTF-16 surrogates come in pairs, a high one then \u and a low one;
                // anything else names no character.
                if (0xD800..<0xDC00).contains(code) {
                    guard peek() == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u")
                    else {
                        throw error("unpaired UTF-16 surrogate \\u\(String(code, radix: 16))")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else {
                        throw error(
                            "UTF-16 surrogate \\u\(String(code, radix: 16)) followed by \\u\(String(low, radix: 16)), not by a low surrogate"
                        )
                    }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else {
                    throw error("unpaired UTF-16 surrogate \\u\(String(code, radix: 16))")
                }
                scalars.append(scalar)
            default: throw error("invalid escape")
            }
        }
        scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
        return String(scalars)
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        guard index + 4 <= bytes.count, bytes[index..<index + 4].allSatisfy(Self.isHexDigit),
            let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
        else { throw error("invalid \\u escape") }
        index += 4
        return value
    }

    mutating func parseNumber() throws(JSONError) -> JSON {
        let start = index
        while let b = peek(), (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || "+-.eE".utf8.contains(b) {
            index += 1
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        // Plain digits stay exact; anything else (sign, fraction, exponent, beyond 64 bits) is a Double.
        if let exact = UInt64(text) { return .unsigned(exact) }
        guard index > start, let value = Double(text) else {
            throw error("expected a value")
        }
        // 1e999 reads as infinity, which JSON cannot write back.
        guard value.isFinite else { throw error("number \(text) is out of range") }
        return .number(value)
    }

    mutating func literal(_ word: String) throws(JSONError) {
        let utf8 = Array(word.utf8)
        guard index + utf8.count <= bytes.count, Array(bytes[index..<index + utf8.count]) == utf8 else {
            throw error("expected \(word)")
        }
        index += utf8.count
    }

    mutating func expect(_ char: Character) throws(JSONError) {
        guard peek() == char.asciiValue else { throw error("expected '\(char)'") }
        index += 1
    }

    /// 0-9, a-f, A-F: UInt32(_:radix:) alone would take a sign too.
    static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while let b = peek(), b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { index += 1 }
    }

    func error(_ reason: String) -> JSONError { JSONError(offset: index, reason: reason) }
}
