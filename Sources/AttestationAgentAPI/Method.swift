/// The service and method names on the wire, as upstream's proto declares them.
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

    /// The methods a listener facing the untrusted host allows by default:
    /// they reveal nothing a host could use to impersonate the guest.
    public static let hostSafe: Set<AttestationAgentMethod> = [.getTeeType, .getAdditionalTees, .getStatus]

    /// True when the agent answers from its own state, with no device, file
    /// or network: such calls may run on the event loop that read them.
    public var answersFromMemory: Bool {
        switch self {
        case .getTeeType, .getAdditionalTees, .getStatus: true
        case .getEvidence, .getAdditionalEvidence, .getToken, .extendRuntimeMeasurement, .bindInitData, .checkInitData,
             .updateConfiguration: false
        }
    }
}
