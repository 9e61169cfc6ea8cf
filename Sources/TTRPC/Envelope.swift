import CProtobufC
import CTTRPCProtos
import NIOCore
import ProtobufCSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `ttrpc.Request`: which method to call, its encoded argument, a deadline and metadata.
public struct TTRPCRequest: Sendable, Equatable {
    public var service: String
    public var method: String
    public var payload: [UInt8]
    /// Nanoseconds the caller will wait; 0 means no deadline.
    public var timeoutNano: Int64
    public var metadata: TTRPCMetadata

    public init(service: String, method: String, payload: [UInt8], timeoutNano: Int64 = 0, metadata: TTRPCMetadata = [])
    {
        self.service = service
        self.method = method
        self.payload = payload
        self.timeoutNano = timeoutNano
        self.metadata = metadata
    }
}

/// `google.rpc.Status`, without `details`: nothing in this protocol sets them,
/// and received ones are ignored.
public struct TTRPCStatus: Sendable, Equatable {
    public var code: Int32
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }
}

/// `ttrpc.Response`: a status (absent on success, as containerd's server
/// sends it) and the encoded result.
public struct TTRPCResponse: Sendable, Equatable {
    public var status: TTRPCStatus?
    public var payload: [UInt8]

    public init(status: TTRPCStatus? = nil, payload: [UInt8] = []) {
        self.status = status
        self.payload = payload
    }

    public init(error: TTRPCError) {
        self.init(status: TTRPCStatus(code: error.rawCode, message: error.message))
    }
}

extension TTRPCRequest: ProtobufCodable {
    public static func initialize(_ message: UnsafeMutablePointer<Ttrpc__Request>) { ttrpc__request__init(message) }

    public init(unpacked m: UnsafePointer<Ttrpc__Request>) {
        self.init(
            unpacked: m, service: ProtobufCField.string(m.pointee.service),
            method: ProtobufCField.string(m.pointee.method))
    }

    private init(unpacked m: UnsafePointer<Ttrpc__Request>, service: String, method: String) {
        let c = m.pointee
        var metadata = TTRPCMetadata()
        for index in 0..<c.n_metadata {
            guard let pair = c.metadata[index]?.pointee else { continue }
            metadata.append(key: ProtobufCField.string(pair.key), value: ProtobufCField.string(pair.value))
        }
        self.init(
            service: service, method: method, payload: ProtobufCField.bytes(c.payload), timeoutNano: c.timeout_nano,
            metadata: metadata)
    }

    /// Decodes a request frame's data in place (into the connection's
    /// `scratch`) and finds the method it names
    /// in `services`, whose strings it takes for the names. Throws when the
    /// bytes do not decode; a method that is not there is the lookup's failure.
    static func decode(
        _ data: ByteBuffer, in services: TTRPCServiceSet, scratch: ProtobufCScratch
    ) throws -> Result<(request: TTRPCRequest, method: TTRPCMethodEntry), TTRPCError> {
        try data.withUnsafeReadableBytes { bytes in
            try withUnpacked(bytes, scratch: scratch) { m in
                let found = services.lookup(service: name(m.pointee.service), method: name(m.pointee.method))
                return found.map { (TTRPCRequest(unpacked: m, service: $0.service, method: $0.method), $0.entry) }
            }
        }
    }

    private static func name(_ pointer: UnsafePointer<CChar>?) -> UnsafeRawBufferPointer {
        guard let pointer else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))
    }

    public func fill(_ m: UnsafeMutablePointer<Ttrpc__Request>, arena: ProtobufCArena) {
        m.pointee.service = arena.cString(service)
        m.pointee.method = arena.cString(method)
        m.pointee.payload = arena.binary(payload)
        m.pointee.timeout_nano = timeoutNano
        let pairs = arena.allocate(UnsafeMutablePointer<Ttrpc__KeyValue>?.self, count: metadata.count)
        for (index, pair) in metadata.enumerated() {
            let kv = arena.allocate(Ttrpc__KeyValue.self, count: 1)
            ttrpc__key_value__init(kv)
            kv.pointee.key = arena.cString(pair.key)
            kv.pointee.value = arena.cString(pair.value)
            pairs[index] = kv
        }
        m.pointee.n_metadata = metadata.count
        m.pointee.metadata = pairs
    }
}

extension TTRPCResponse: ProtobufCodable {
    public static func initialize(_ message: UnsafeMutablePointer<Ttrpc__Response>) { ttrpc__response__init(message) }

    public init(unpacked m: UnsafePointer<Ttrpc__Response>) {
        let c = m.pointee
        let status = c.status.map {
            TTRPCStatus(code: $0.pointee.code, message: ProtobufCField.string($0.pointee.message))
        }
        self.init(status: status, payload: ProtobufCField.bytes(c.payload))
    }

    public func fill(_ m: UnsafeMutablePointer<Ttrpc__Response>, arena: ProtobufCArena) {
        if let status {
            let s = arena.allocate(Google__Rpc__Status.self, count: 1)
            google__rpc__status__init(s)
            s.pointee.code = status.code
            s.pointee.message = arena.cString(status.message)
            m.pointee.status = s
        }
        m.pointee.payload = arena.binary(payload)
    }
}

extension TTRPCResponse {
    /// Appends this response to `buffer` as a frame on `streamID`: the
    /// header, then the ttrpc.Response that protobuf-c packs straight into the
    /// buffer, reading the payload where it lies (it is not copied first).
    func writeFrame(streamID: UInt32, into buffer: inout ByteBuffer) {
        var envelope = Ttrpc__Response()
        ttrpc__response__init(&envelope)
        var status = Google__Rpc__Status()
        google__rpc__status__init(&status)
        status.code = self.status?.code ?? 0
        let message = self.status?.message ?? ""
        message.withCString { message in
            payload.withUnsafeBufferPointer { payload in
                withUnsafeMutablePointer(to: &status) { status in
                    status.pointee.message = UnsafeMutablePointer(mutating: message)
                    envelope.status = self.status == nil ? nil : status
                    envelope.payload = ProtobufCBinaryData(
                        len: payload.count, data: UnsafeMutablePointer(mutating: payload.baseAddress))
                    withUnsafePointer(to: &envelope) { envelope in
                        let packed = UnsafeRawPointer(envelope).assumingMemoryBound(to: ProtobufCMessage.self)
                        let size = protobuf_c_message_get_packed_size(packed)
                        buffer.writeInteger(UInt32(size))
                        buffer.writeInteger(streamID)
                        buffer.writeInteger(TTRPCFrame.MessageType.response.rawValue)
                        buffer.writeInteger(UInt8(0))
                        guard size > 0 else { return }
                        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                            protobuf_c_message_pack(packed, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
                        }
                    }
                }
            }
        }
    }

    /// The call's outcome: the payload, or the error the status carries.
    public func result() -> Result<[UInt8], TTRPCError> {
        if let status, status.code != StatusCode.ok.rawValue {
            return .failure(TTRPCError(rawCode: status.code, message: status.message))
        }
        return .success(payload)
    }
}

extension ProtobufCodable {
    /// Decodes a frame's data where it lies.
    public init(protobufBytes buffer: ByteBuffer) throws {
        self = try buffer.withUnsafeReadableBytes { try Self(protobufBytes: $0) }
    }
}
