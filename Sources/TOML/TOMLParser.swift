/// A TOML 1.0 parser for the documents the agent reads (initdata, aa.toml):
/// tables, arrays of tables, dotted keys, all four string forms, integers,
/// floats, booleans, arrays and inline tables.
public struct TOMLParser {
    private let bytes: [UInt8]
    private var index = 0
    private var root: [String: TOMLValue] = [:]
    /// The path of the table that key/value lines currently go to.
    private var currentPath: [String] = []
    /// Tables defined by a [header] or by a value, which may not be defined again.
    private var definedTables: Set<[String]> = []
    /// How deep arrays and inline tables are nested here: the parser recurses
    /// into them, so a document from the host may not nest without bound.
    private var depth = 0
    /// The deepest nesting of values, and the most parts of a dotted key.
    public static let maximumDepth = 64

    public static func parse(_ text: String) throws(TOMLError) -> [String: TOMLValue] {
        var parser = TOMLParser(bytes: Array(text.utf8))
        try parser.parseDocument()
        return parser.root
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    // MARK: Document structure

    private mutating func parseDocument() throws(TOMLError) {
        while true {
            skipWhitespaceCommentsAndNewlines()
            guard let byte = peek() else { return }
            if byte == UInt8(ascii: "[") {
                try parseTableHeader()
            } else {
                let (key, value) = try parseKeyValue()
                try insert(value, at: currentPath + key.dropLast(), key: key.last!)
            }
            try expectEndOfLine()
        }
    }

    private mutating func parseTableHeader() throws(TOMLError) {
        advance()
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { advance() }
        skipSpaces()
        let path = try parseKey()
        skipSpaces()
        try expect("]")
        if isArray {
            try expect("]")
            try appendTable(at: path)
        } else {
            guard !definedTables.contains(path) else {
                throw error("table [\(path.joined(separator: "."))] is defined twice")
            }
            definedTables.insert(path)
            try ensureTable(at: path)
        }
        currentPath = path
    }

    private mutating func parseKeyValue() throws(TOMLError) -> ([String], TOMLValue) {
        let key = try parseKey()
        skipSpaces()
        try expect("=")
        skipSpaces()
        let value = try parseValue()
        return (key, value)
    }

    /// A possibly dotted key: bare, "basic" or 'literal' parts joined by dots.
    private mutating func parseKey() throws(TOMLError) -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard let byte = peek() else { throw error("expected a key, found the end of the document") }
            if byte == UInt8(ascii: "\"") {
                parts.append(try parseBasicString())
            } else if byte == UInt8(ascii: "'") {
                parts.append(try parseLiteralString())
            } else {
                let start = index
                while let b = peek(), isBareKeyByte(b) { advance() }
                guard index > start else { throw error("expected a key, found '\(Character(UnicodeScalar(byte)))'") }
                parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
            }
            skipSpaces()
            guard peek() == UInt8(ascii: ".") else { return parts }
            guard parts.count < Self.maximumDepth else {
                throw error("a dotted key has more than \(Self.maximumDepth) parts")
            }
            advance()
        }
    }

    // MARK: Building the tree

    private mutating func insert(_ value: TOMLValue, at path: [String], key: String) throws(TOMLError) {
        try ensureTable(at: path)
        let full = path + [key]
        try modifyTable(at: path) { table in
            guard table[key] == nil else { return "key '\(full.joined(separator: "."))' is defined twice" }
            table[key] = value
            return nil
        }
        if case .table = value { definedTables.insert(full) }
    }

    private mutating func ensureTable(at path: [String]) throws(TOMLError) {
        var prefix: [String] = []
        for part in path {
            let parent = prefix
            prefix.append(part)
            let name = prefix.joined(separator: ".")
            try modifyTable(at: parent) { table in
                switch table[part] {
                case nil: table[part] = .table([:])
                case .table, .array: break
                case let other?: return "'\(name)' is a \(other.typeName), not a table"
                }
                return nil
            }
        }
    }

    private mutating func appendTable(at path: [String]) throws(TOMLError) {
        try ensureTable(at: Array(path.dropLast()))
        let key = path.last!
        try modifyTable(at: Array(path.dropLast())) { table in
            switch table[key] {
            case nil: table[key] = .array([.table([:])])
            case .array(var items)?:
                items.append(.table([:]))
                table[key] = .array(items)
            case let other?: return "'\(path.joined(separator: "."))' is a \(other.typeName), not an array of tables"
            }
            return nil
        }
    }

    /// Runs `body` on the table at `path`, descending into the last element of
    /// arrays of tables as TOML's [[header]] semantics say. `body` returns why
    /// the change is refused, or nil.
    private mutating func modifyTable(
        at path: [String], _ body: (inout [String: TOMLValue]) -> String?
    ) throws(TOMLError) {
        if let reason = Self.modify(&root, path: path[...], body) { throw error(reason) }
    }

    private static func modify(
        _ table: inout [String: TOMLValue], path: ArraySlice<String>,
        _ body: (inout [String: TOMLValue]) -> String?
    ) -> String? {
        guard let first = path.first else { return body(&table) }
        switch table[first] {
        case .table(var child)?:
            table[first] = nil
            defer { table[first] = .table(child) }
            return modify(&child, path: path.dropFirst(), body)
        case .array(var items)? where items.last?.table != nil:
            var child = items.removeLast().table!
            defer {
                items.append(.table(child))
                table[first] = .array(items)
            }
            return modify(&child, path: path.dropFirst(), body)
        case let other?:
            return "'\(first)' is a \(other.typeName), not a table"
        case nil:
            return "'\(first)' is not a table"
        }
    }

    // MARK: Values

    private mutating func parseValue() throws(TOMLError) -> TOMLValue {
        guard let byte = peek() else { throw error("expected a value, found the end of the document") }
        switch byte {
        case UInt8(ascii: "\""):
            return .string(startsWith("\"\"\"") ? try parseMultilineBasicString() : try parseBasicString())
        case UInt8(ascii: "'"):
            return .string(startsWith("'''") ? try parseMultilineLiteralString() : try parseLiteralString())
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maximumDepth else {
                throw error("arrays and inline tables are nested deeper than \(Self.maximumDepth) levels")
            }
            return byte == UInt8(ascii: "[") ? try parseArray() : try parseInlineTable()
        default:
            if startsWith("true") {
                index += 4
                return .boolean(true)
            }
            if startsWith("false") {
                index += 5
                return .boolean(false)
            }
            return try parseNumber()
        }
    }

    private mutating func parseNumber() throws(TOMLError) -> TOMLValue {
        let start = index
        while let b = peek(), !isValueTerminator(b) { advance() }
        let raw = String(decoding: bytes[start..<index], as: UTF8.self)
        guard !raw.isEmpty else { throw error("expected a value") }
        let text = String(raw.filter { $0 != "_" })
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where text.hasPrefix(prefix) {
            if let value = Int64(text.dropFirst(2), radix: radix) { return .integer(value) }
            throw error("'\(raw)' is not a valid integer")
        }
        if let value = Int64(text) { return .integer(value) }
        switch text {
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if text.contains(where: { ".eE".contains($0) }), let value = Double(text) { return .float(value) }
        throw error("'\(raw)' is not a value (strings need quotes; dates are not supported)")
    }

    private mutating func parseArray() throws(TOMLError) -> TOMLValue {
        advance()
        var items: [TOMLValue] = []
        while true {
            skipWhitespaceCommentsAndNewlines()
            if peek() == UInt8(ascii: "]") {
                advance()
                return .array(items)
            }
            items.append(try parseValue())
            skipWhitespaceCommentsAndNewlines()
            if peek() == UInt8(ascii: ",") {
                advance()
                continue
            }
            try expect("]")
            return .array(items)
        }
    }

    private mutating func parseInlineTable() throws(TOMLError) -> TOMLValue {
        advance()
        var table: [String: TOMLValue] = [:]
        skipSpaces()
        if peek() == UInt8(ascii: "}") {
            advance()
            return .table(table)
        }
        while true {
            skipSpaces()
            let (key, value) = try parseKeyValue()
            try Self.insertInline(value, key: key[...], into: &table, parser: self)
            skipSpaces()
            if peek() == UInt8(ascii: ",") {
                advance()
                continue
            }
            try expect("}")
            return .table(table)
        }
    }

    private static func insertInline(
        _ value: TOMLValue, key: ArraySlice<String>, into table: inout [String: TOMLValue], parser: TOMLParser
    ) throws(TOMLError) {
        let first = key.first!
        if key.count == 1 {
            guard table[first] == nil else { throw parser.error("key '\(first)' is defined twice") }
            table[first] = value
            return
        }
        var child = table[first]?.table ?? [:]
        try insertInline(value, key: key.dropFirst(), into: &child, parser: parser)
        table[first] = .table(child)
    }

    // MARK: Strings

    private mutating func parseBasicString() throws(TOMLError) -> String {
        advance()
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated string") }
            if byte == UInt8(ascii: "\"") {
                advance()
                break
            }
            if byte == UInt8(ascii: "\n") {
                throw error("newline in a single-line string (use \"\"\" for several lines)")
            }
            if byte == UInt8(ascii: "\\") {
                scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
                run = []
                scalars.append(try parseEscape())
            } else {
                run.append(byte)
                advance()
            }
        }
        scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
        return String(scalars)
    }

    private mutating func parseMultilineBasicString() throws(TOMLError) -> String {
        index += 3
        skipNewline()
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
            run = []
        }
        while true {
            guard let byte = peek() else { throw error("unterminated \"\"\" string") }
            if startsWith("\"\"\"") {
                // Up to two quotes right before the closing three belong to the string.
                let quotes = countRun(of: UInt8(ascii: "\""))
                run.append(contentsOf: repeatElement(UInt8(ascii: "\""), count: min(quotes - 3, 2)))
                index += min(quotes, 5)
                break
            }
            if byte == UInt8(ascii: "\\") {
                flush()
                advance()
                if let next = peek(),
                    next == UInt8(ascii: " ") || next == UInt8(ascii: "\t") || next == UInt8(ascii: "\n")
                        || next == UInt8(ascii: "\r")
                {
                    // A line-ending backslash trims the newline and following whitespace.
                    skipWhitespaceAndNewlines()
                } else {
                    index -= 1
                    scalars.append(try parseEscape())
                }
            } else {
                run.append(byte)
                advance()
            }
        }
        flush()
        return String(scalars)
    }

    private mutating func parseLiteralString() throws(TOMLError) -> String {
        advance()
        let start = index
        while let byte = peek(), byte != UInt8(ascii: "'") {
            if byte == UInt8(ascii: "\n") { throw error("newline in a single-line string (use ''' for several lines)") }
            advance()
        }
        guard peek() != nil else { throw error("unterminated string") }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        advance()
        return text
    }

    private mutating func parseMultilineLiteralString() throws(TOMLError) -> String {
        index += 3
        skipNewline()
        let start = index
        while !startsWith("'''") {
            guard peek() != nil else { throw error("unterminated ''' string") }
            advance()
        }
        // Up to two quotes right before the closing three belong to the string.
        let end = index + min(countRun(of: UInt8(ascii: "'")) - 3, 2)
        let text = String(decoding: bytes[start..<end], as: UTF8.self)
        index = end + 3
        return text
    }

    private func countRun(of byte: UInt8) -> Int {
        var end = index
        while end < bytes.count, bytes[end] == byte { end += 1 }
        return end - index
    }

    private mutating func parseEscape() throws(TOMLError) -> Unicode.Scalar {
        advance()
        guard let byte = peek() else { throw error("unterminated escape") }
        advance()
        switch byte {
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "e"): return "\u{1B}"
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = byte == UInt8(ascii: "u") ? 4 : 8
            guard index + count <= bytes.count,
                bytes[index..<index + count].allSatisfy(Self.isHexDigit),
                let code = UInt32(String(decoding: bytes[index..<index + count], as: UTF8.self), radix: 16),
                let scalar = Unicode.Scalar(code)
            else { throw error("invalid unicode escape") }
            index += count
            return scalar
        default:
            throw error("invalid escape '\\\(Character(UnicodeScalar(byte)))'")
        }
    }

    // MARK: Lexing helpers

    /// 0-9, a-f, A-F: UInt32(_:radix:) alone would take a sign too.
    static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }
    private mutating func advance() { index += 1 }

    private func startsWith(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        return text.withUTF8Buffer { buffer in buffer.elementsEqual(bytes[index..<index + count]) }
    }

    private func isBareKeyByte(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x5F || b == 0x2D
    }

    private func isValueTerminator(_ b: UInt8) -> Bool {
        b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r")
            || b == UInt8(ascii: ",") || b == UInt8(ascii: "]") || b == UInt8(ascii: "}") || b == UInt8(ascii: "#")
    }

    private mutating func skipSpaces() {
        while let b = peek(), b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") { advance() }
    }

    private mutating func skipNewline() {
        if startsWith("\r\n") { index += 2 } else if peek() == UInt8(ascii: "\n") { advance() }
    }

    private mutating func skipWhitespaceAndNewlines() {
        while let b = peek(),
            b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r")
        { advance() }
    }

    private mutating func skipWhitespaceCommentsAndNewlines() {
        while true {
            skipWhitespaceAndNewlines()
            guard peek() == UInt8(ascii: "#") else { return }
            while let b = peek(), b != UInt8(ascii: "\n") { advance() }
        }
    }

    private mutating func expectEndOfLine() throws(TOMLError) {
        skipSpaces()
        if peek() == UInt8(ascii: "#") {
            while let b = peek(), b != UInt8(ascii: "\n") { advance() }
        }
        guard let byte = peek() else { return }
        if byte == UInt8(ascii: "\n") || startsWith("\r\n") {
            skipNewline()
            return
        }
        throw error("expected the end of the line, found '\(Character(UnicodeScalar(byte)))'")
    }

    private mutating func expect(_ character: Character) throws(TOMLError) {
        guard let byte = peek(), Character(UnicodeScalar(byte)) == character else {
            let found = peek().map { "'\(Character(UnicodeScalar($0)))'" } ?? "the end of the document"
            throw error("expected '\(character)', found \(found)")
        }
        advance()
    }

    private func error(_ reason: String) -> TOMLError {
        var line = 1
        var lineStart = 0
        for position in 0..<min(index, bytes.count) where bytes[position] == UInt8(ascii: "\n") {
            line += 1
            lineStart = position + 1
        }
        return TOMLError(line: line, column: index - lineStart + 1, reason: reason)
    }
}
