import CProtobufC
import CTTRPCProtos
import ProtobufCSupport

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
        let c = m.pointee
        var metadata = TTRPCMetadata()
        for index in 0..<c.n_metadata {
            guard let pair = c.metadata[index]?.pointee else { continue }
            metadata.append(key: ProtobufCField.string(pair.key), value: ProtobufCField.string(pair.value))
        }
        self.init(
            service: ProtobufCField.string(c.service),
            method: ProtobufCField.string(c.method),
            payload: ProtobufCField.bytes(c.payload),
            timeoutNano: c.timeout_nano,
            metadata: metadata
        )
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
    /// The call's outcome: the payload, or the error the status carries.
    public func result() -> Result<[UInt8], TTRPCError> {
        if let status, status.code != StatusCode.ok.rawValue {
            return .failure(TTRPCError(rawCode: status.code, message: status.message))
        }
        return .success(payload)
    }
}
