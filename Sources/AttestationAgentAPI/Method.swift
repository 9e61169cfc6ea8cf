import ProtobufCSupport

/// The agent's methods: the one table every layer reads (docs/design.md,
/// "Adding a method"). Each case's `descriptor` names its messages, who may
/// call it and what the state machine checks; the service glue, the
/// listeners' allowlists, the state machine and aactl take it from there,
/// and `MethodTableTests` compares it with the service protoc-c generated.
public enum AttestationAgentMethod: String, CaseIterable, Sendable {
    public static let service = "attestation_agent.AttestationAgentService"

    case getEvidence = "GetEvidence"
    case getAdditionalEvidence = "GetAdditionalEvidence"
    case getToken = "GetToken"
    case extendRuntimeMeasurement = "ExtendRuntimeMeasurement"
    case bindInitData = "BindInitData"
    case checkInitData = "CheckInitData"
    case updateConfiguration = "UpdateConfiguration"
    case getTeeType = "GetTeeType"
    case getAdditionalTees = "GetAdditionalTees"
    case getStatus = "GetStatus"

    public var descriptor: AttestationAgentMethodDescriptor {
        typealias Typed = AttestationAgentMethods
        switch self {
        case .getEvidence: return .init(Typed.getEvidence, hostSafe: false, answersFromMemory: false, gate: .always)
        case .getAdditionalEvidence:
            return .init(Typed.getAdditionalEvidence, hostSafe: false, answersFromMemory: false, gate: .always)
        case .getToken: return .init(Typed.getToken, hostSafe: false, answersFromMemory: false, gate: .token)
        case .extendRuntimeMeasurement:
            return .init(Typed.extendRuntimeMeasurement, hostSafe: false, answersFromMemory: false, gate: .always)
        case .bindInitData: return .init(Typed.bindInitData, hostSafe: false, answersFromMemory: false, gate: .bind)
        case .checkInitData: return .init(Typed.checkInitData, hostSafe: false, answersFromMemory: false, gate: .bind)
        case .updateConfiguration:
            return .init(Typed.updateConfiguration, hostSafe: false, answersFromMemory: false, gate: .configure)
        case .getTeeType: return .init(Typed.getTeeType, hostSafe: true, answersFromMemory: true, gate: .always)
        case .getAdditionalTees:
            return .init(Typed.getAdditionalTees, hostSafe: true, answersFromMemory: true, gate: .always)
        case .getStatus: return .init(Typed.getStatus, hostSafe: true, answersFromMemory: true, gate: .always)
        }
    }

    /// The methods a listener facing the untrusted host allows by default.
    public static var hostSafe: [AttestationAgentMethod] { allCases.filter(\.descriptor.hostSafe) }
}

/// A method with its message types: a handler registered for it, or a call
/// made to it, must take `Request` and give `Response`, or it does not compile.
public struct TypedMethod<Request: ProtobufCodable & Sendable, Response: ProtobufCodable & Sendable>: Sendable {
    public let method: AttestationAgentMethod

    init(_ method: AttestationAgentMethod) { self.method = method }
}

/// Every method of the service with its messages: the one place they are named.
public enum AttestationAgentMethods {
    public static let getEvidence = TypedMethod<GetEvidenceRequest, GetEvidenceResponse>(.getEvidence)
    public static let getAdditionalEvidence = TypedMethod<GetAdditionalEvidenceRequest, GetEvidenceResponse>(
        .getAdditionalEvidence)
    public static let getToken = TypedMethod<GetTokenRequest, GetTokenResponse>(.getToken)
    public static let extendRuntimeMeasurement = TypedMethod<
        ExtendRuntimeMeasurementRequest, ExtendRuntimeMeasurementResponse
    >(.extendRuntimeMeasurement)
    public static let bindInitData = TypedMethod<InitDataDigestRequest, EmptyMessage>(.bindInitData)
    public static let checkInitData = TypedMethod<InitDataDigestRequest, EmptyMessage>(.checkInitData)
    public static let updateConfiguration = TypedMethod<UpdateConfigurationRequest, EmptyMessage>(
        .updateConfiguration)
    public static let getTeeType = TypedMethod<EmptyMessage, GetTeeTypeResponse>(.getTeeType)
    public static let getAdditionalTees = TypedMethod<EmptyMessage, GetAdditionalTeesResponse>(.getAdditionalTees)
    public static let getStatus = TypedMethod<EmptyMessage, GetStatusResponse>(.getStatus)
}

/// One row of the method table.
public struct AttestationAgentMethodDescriptor {
    /// The Swift values of the request and the answer (each wraps a protoc-c struct).
    public let request: any ProtobufCodable.Type
    public let response: any ProtobufCodable.Type
    /// Allowed by default on a listener facing the untrusted host: the call
    /// reveals nothing a host could use to impersonate the guest.
    public let hostSafe: Bool
    /// The agent answers from its own state, with no device, file or
    /// network: such calls are answered on the event loop that read them.
    public let answersFromMemory: Bool
    /// Which rule of the state table admits the call.
    public let gate: AttestationAgentGate

    init<Request, Response>(
        _ typed: TypedMethod<Request, Response>, hostSafe: Bool, answersFromMemory: Bool, gate: AttestationAgentGate
    ) {
        self.request = Request.self
        self.response = Response.self
        self.hostSafe = hostSafe
        self.answersFromMemory = answersFromMemory
        self.gate = gate
    }
}

/// The rules of the state table (docs/design.md, "The state machine"); the
/// state machine in AgentCore decides each one.
public enum AttestationAgentGate: Sendable {
    /// In every state.
    case always
    /// Not after a rejection, nor while another bind is being measured.
    case bind
    /// Once, and only when initdata is verified.
    case configure
    /// Only when configured.
    case token
}
