/// Request metadata: ordered key/value pairs, a key may repeat (as gRPC metadata).
public struct TTRPCMetadata: Sendable, Equatable, Sequence, ExpressibleByArrayLiteral {
    public struct Pair: Sendable, Equatable {
        public var key: String
        public var value: String
    }

    private var pairs: [Pair] = []

    public init() {}

    public init(arrayLiteral elements: (String, String)...) {
        pairs = elements.map { Pair(key: $0.0, value: $0.1) }
    }

    public mutating func append(key: String, value: String) {
        pairs.append(Pair(key: key, value: value))
    }

    /// Every value given for `key`, keys compared case-insensitively.
    public func values(for key: String) -> [String] {
        let wanted = key.lowercased()
        return pairs.filter { $0.key.lowercased() == wanted }.map(\.value)
    }

    public var count: Int { pairs.count }

    public func makeIterator() -> IndexingIterator<[Pair]> { pairs.makeIterator() }
}
