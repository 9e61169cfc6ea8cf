import NIOCore

/// One ttrpc message frame: a 10-byte header (u32 BE length, u32 BE stream id,
/// u8 type, u8 flags) and its data, a slice of the bytes read (not a copy).
public struct TTRPCFrame: Sendable, Equatable {
    public enum MessageType: UInt8, Sendable {
        case request = 1
        case response = 2
        case data = 3
    }

    /// Flags of request and data frames (containerd's PROTOCOL.md).
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let remoteClosed = Flags(rawValue: 0x1)
        public static let remoteOpen = Flags(rawValue: 0x2)
        public static let noData = Flags(rawValue: 0x4)
    }

    public static let headerLength = 10
    /// The largest data a frame may carry: 4 MiB.
    public static let maxDataLength = 4 << 20

    public var streamID: UInt32
    /// The raw type byte; frames of unknown types are passed on, not dropped, so
    /// the server decides what to do with them.
    public var typeByte: UInt8
    public var flags: Flags
    public var data: ByteBuffer

    public init(streamID: UInt32, type: MessageType, flags: Flags = [], data: [UInt8]) {
        self.init(streamID: streamID, typeByte: type.rawValue, flags: flags, data: ByteBuffer(bytes: data))
    }

    public init(streamID: UInt32, typeByte: UInt8, flags: Flags = [], data: [UInt8]) {
        self.init(streamID: streamID, typeByte: typeByte, flags: flags, data: ByteBuffer(bytes: data))
    }

    public init(streamID: UInt32, typeByte: UInt8, flags: Flags = [], data: ByteBuffer) {
        self.streamID = streamID
        self.typeByte = typeByte
        self.flags = flags
        self.data = data
    }

    public var type: MessageType? { MessageType(rawValue: typeByte) }
}

/// What the frame decoder hands on: a whole frame, or the two ends of one
/// whose data is over the limit and is read past.
public enum TTRPCInboundFrame: Sendable, Equatable {
    case frame(TTRPCFrame)
    /// The header of an oversized frame: its data follows and is skipped.
    case oversizedStarted(streamID: UInt32, length: UInt32)
    /// The oversized frame's data has all been read past: answer it now.
    case oversized(streamID: UInt32, length: UInt32)
}
