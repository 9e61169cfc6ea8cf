import RPCStatus

/// A refusal or failure of the agent: a status code and a message a person
/// can act on (see `StatusError`).
public typealias AgentError = StatusError
