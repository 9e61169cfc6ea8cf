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
        switch self {
        case .getEvidence:
            .init(
                GetEvidenceRequest.self, GetEvidenceResponse.self, hostSafe: false, answersFromMemory: false,
                gate: .always)
        case .getAdditionalEvidence:
            .init(
                GetAdditionalEvidenceRequest.self, GetEvidenceResponse.self, hostSafe: false, answersFromMemory: false,
                gate: .always)
        case .getToken:
            .init(GetTokenRequest.self, GetTokenResponse.self, hostSafe: false, answersFromMemory: false, gate: .token)
        case .extendRuntimeMeasurement:
            .init(
                ExtendRuntimeMeasurementRequest.self, ExtendRuntimeMeasurementResponse.self, hostSafe: false,
                answersFromMemory: false, gate: .always)
        case .bindInitData, .checkInitData:
            .init(InitDataDigestRequest.self, EmptyMessage.self, hostSafe: false, answersFromMemory: false, gate: .bind)
        case .updateConfiguration:
            .init(
                UpdateConfigurationRequest.self, EmptyMessage.self, hostSafe: false, answersFromMemory: false,
                gate: .configure)
        case .getTeeType:
            .init(EmptyMessage.self, GetTeeTypeResponse.self, hostSafe: true, answersFromMemory: true, gate: .always)
        case .getAdditionalTees:
            .init(
                EmptyMessage.self, GetAdditionalTeesResponse.self, hostSafe: true, answersFromMemory: true,
                gate: .always)
        case .getStatus:
            .init(EmptyMessage.self, GetStatusResponse.self, hostSafe: true, answersFromMemory: true, gate: .always)
        }
    }

    /// The methods a listener facing the untrusted host allows by default.
    public static var hostSafe: [AttestationAgentMethod] { allCases.filter(\.descriptor.hostSafe) }
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
    /// network: such calls may run on the event loop that read them.
    public let answersFromMemory: Bool
    /// Which rule of the state table admits the call.
    public let gate: AttestationAgentGate

    init(
        _ request: any ProtobufCodable.Type, _ response: any ProtobufCodable.Type, hostSafe: Bool,
        answersFromMemory: Bool, gate: AttestationAgentGate
    ) {
        self.request = request
        self.response = response
        self.hostSafe = hostSafe
        self.answersFromMemory = answersFromMemory
        self.gate = gate
    }

    /// Whether `Request` and `Response` are this method's messages: the
    /// service glue and aactl check it before they send or register a call.
    public func carries<Request, Response>(_: Request.Type, _: Response.Type) -> Bool {
        ObjectIdentifier(request) == ObjectIdentifier(Request.self)
            && ObjectIdentifier(response) == ObjectIdentifier(Response.self)
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
