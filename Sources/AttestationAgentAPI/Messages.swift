import CAttestationAgentProtos
import CProtobufC
import ProtobufCSupport

// Swift values for the messages of attestation-agent.proto, each encoded and
// decoded through its protobuf-c struct. Field names follow the proto's.

/// GetEvidence's request; GetAdditionalEvidenceRequest has the same layout.
public struct GetEvidenceRequest: Sendable, Equatable {
    public var runtimeData: [UInt8]
    public init(runtimeData: [UInt8]) { self.runtimeData = runtimeData }
}

public typealias GetAdditionalEvidenceRequest = GetEvidenceRequest

public struct GetEvidenceResponse: Sendable, Equatable {
    public var evidence: [UInt8]
    public init(evidence: [UInt8]) { self.evidence = evidence }
}

public struct GetTokenRequest: Sendable, Equatable {
    public var tokenType: String
    public init(tokenType: String) { self.tokenType = tokenType }
}

public struct GetTokenResponse: Sendable, Equatable {
    public var token: [UInt8]
    public init(token: [UInt8]) { self.token = token }
}

public struct ExtendRuntimeMeasurementRequest: Sendable, Equatable {
    public var domain: String
    public var operation: String
    public var content: String
    /// nil when the caller left it out (the proto field is `optional`).
    public var registerIndex: UInt64?
    public init(domain: String, operation: String, content: String, registerIndex: UInt64? = nil) {
        self.domain = domain
        self.operation = operation
        self.content = content
        self.registerIndex = registerIndex
    }
}

public enum RuntimeMeasurementResult: Int32, Sendable, Equatable {
    case ok = 0
    case notSupported = 1
    case notEnabled = 2

    public var name: String {
        switch self {
        case .ok: "OK"
        case .notSupported: "NOT_SUPPORTED"
        case .notEnabled: "NOT_ENABLED"
        }
    }
}

public struct ExtendRuntimeMeasurementResponse: Sendable, Equatable {
    /// The raw enum value: a newer peer may send one this build does not know.
    public var rawResult: Int32
    public init(result: RuntimeMeasurementResult) { self.rawResult = result.rawValue }
    public init(rawResult: Int32) { self.rawResult = rawResult }
    public var result: RuntimeMeasurementResult? { RuntimeMeasurementResult(rawValue: rawResult) }
}

/// BindInitData's request; CheckInitData (its 2024 name) has the same layout.
public struct InitDataDigestRequest: Sendable, Equatable {
    public var digest: [UInt8]
    public init(digest: [UInt8]) { self.digest = digest }
}

public struct UpdateConfigurationRequest: Sendable, Equatable {
    public var config: String
    public init(config: String) { self.config = config }
}

public struct GetTeeTypeResponse: Sendable, Equatable {
    public var tee: String
    public init(tee: String) { self.tee = tee }
}

public struct GetAdditionalTeesResponse: Sendable, Equatable {
    public var additionalTees: [String]
    public init(additionalTees: [String]) { self.additionalTees = additionalTees }
}

public struct GetStatusResponse: Sendable, Equatable {
    public var state: String
    public var binding: String
    public var tee: String
    public var configSource: String
    public var initDataDigest: String
    public var initDataField: String
    public var kbsURL: String
    public var kbsCert: String
    public init(
        state: String, binding: String, tee: String, configSource: String, initDataDigest: String,
        initDataField: String = "", kbsURL: String = "", kbsCert: String = ""
    ) {
        self.state = state
        self.binding = binding
        self.tee = tee
        self.configSource = configSource
        self.initDataDigest = initDataDigest
        self.initDataField = initDataField
        self.kbsURL = kbsURL
        self.kbsCert = kbsCert
    }
}

/// The messages with no fields (requests of GetTeeType, GetAdditionalTees and
/// GetStatus, responses of BindInitData, CheckInitData and UpdateConfiguration)
/// all encode to zero bytes; decoding them still goes through protobuf-c, with
/// GetTeeTypeRequest's descriptor, so that garbage is refused.
public struct EmptyMessage: Sendable, Equatable {
    public init() {}
}
