/// Where the agent is in proving initdata (docs/design.md, "The state machine").
public enum AgentState: String, Sendable, Equatable, CaseIterable {
    /// Initdata not yet proven: no configuration, no token.
    case booting = "Booting"
    /// The digest matched the hardware field (or there is nothing to match).
    case initDataVerified = "InitDataVerified"
    /// Verified and configured: tokens may be fetched.
    case configured = "Configured"
    /// A digest did not match the hardware: final, no token ever.
    case rejected = "Rejected"
}

/// How initdata was bound, as GetStatus reports it.
public enum BindingOutcome: String, Sendable, Equatable {
    /// Nothing bound yet.
    case pending
    /// The digest equals the hardware field.
    case matched
    /// The field is all zero and no initdata was given.
    case absent
    /// The platform has no field; nothing was offered yet.
    case unsupported
    /// The platform has no field; the first digest offered was recorded.
    case recorded
    /// The digest was extended into the init-data PCR.
    case measured
    /// No initdata was given and the init-data PCR already held a value the
    /// agent did not put there (the boot chain's): nothing is bound.
    case unbound
    /// The field was all zero and `--initdata-rtmr` anchored the digest by an
    /// InitData event, the first of the event log, in TDX's RTMR3.
    case rtmr3
    /// The digest did not match the field.
    case mismatch
}

/// Where the configuration came from.
public enum ConfigSource: String, Sendable, Equatable {
    case none
    case configFile = "config-file"
    case initData = "initdata"
    case kbcParams = "aa_kbc_params"
    case update
}
