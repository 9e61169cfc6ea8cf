import CAttestationAgentProtos
import CProtobufC
import ProtobufCSupport

// The protobuf-c side of each message: which generated struct it is, and how
// its fields move between Swift and C.

extension GetEvidenceRequest: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__GetEvidenceRequest>) {
        attestation_agent__get_evidence_request__init(m)
    }
    public init(unpacked m: UnsafePointer<AttestationAgent__GetEvidenceRequest>) {
        self.init(runtimeData: ProtobufCField.bytes(m.pointee.runtimedata))
    }
    public func fill(_ m: UnsafeMutablePointer<AttestationAgent__GetEvidenceRequest>, arena: ProtobufCArena) {
        m.pointee.runtimedata = arena.binary(runtimeData)
    }
}

extension GetEvidenceResponse: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__GetEvidenceResponse>) {
        attestation_agent__get_evidence_response__init(m)
    }
    public init(unpacked m: UnsafePointer<AttestationAgent__GetEvidenceResponse>) {
        self.init(evidence: ProtobufCField.bytes(m.pointee.evidence))
    }
    public func fill(_ m: UnsafeMutablePointer<AttestationAgent__GetEvidenceResponse>, arena: ProtobufCArena) {
        m.pointee.evidence = arena.binary(evidence)
    }
}

extension GetTokenRequest: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__GetTokenRequest>) {
        attestation_agent__get_token_request__init(m)
    }
    public init(unpacked m: UnsafePointer<AttestationAgent__GetTokenRequest>) {
        self.init(tokenType: ProtobufCField.string(m.pointee.tokentype))
    }
    public func fill(_ m: UnsafeMutablePointer<AttestationAgent__GetTokenRequest>, arena: ProtobufCArena) {
        m.pointee.tokentype = arena.cString(tokenType)
    }
}

extension GetTokenResponse: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__GetTokenResponse>) {
        attestation_agent__get_token_response__init(m)
    }
    public init(unpacked m: UnsafePointer<AttestationAgent__GetTokenResponse>) {
        self.init(token: ProtobufCField.bytes(m.pointee.token))
    }
    public func fill(_ m: UnsafeMutablePointer<AttestationAgent__GetTokenResponse>, arena: ProtobufCArena) {
        m.pointee.token = arena.binary(token)
    }
}

extension ExtendRuntimeMeasurementRequest: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__ExtendRuntimeMeasurementRequest>) {
        attestation_agent__extend_runtime_measurement_request__init(m)
    }
    public init(unpacked m: UnsafePointer<AttestationAgent__ExtendRuntimeMeasurementRequest>) {
        let c = m.pointee
        let present =
            c.__register_index_case
            == ATTESTATION_AGENT__EXTEND_RUNTIME_MEASUREMENT_REQUEST____REGISTER_INDEX_REGISTER_INDEX
        self.init(
            domain: ProtobufCField.string(c.domain), operation: ProtobufCField.string(c.operation),
            content: ProtobufCField.string(c.content), registerIndex: present ? c.registerindex : nil)
    }
    public func fill(
        _ m: UnsafeMutablePointer<AttestationAgent__ExtendRuntimeMeasurementRequest>, arena: ProtobufCArena
    ) {
        m.pointee.domain = arena.cString(domain)
        m.pointee.operation = arena.cString(operation)
        m.pointee.content = arena.cString(content)
        if let registerIndex {
            m.pointee.__register_index_case =
                ATTESTATION_AGENT__EXTEND_RUNTIME_MEASUREMENT_REQUEST____REGISTER_INDEX_REGISTER_INDEX
            m.pointee.registerindex = registerIndex
        }
    }
}

extension ExtendRuntimeMeasurementResponse: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__ExtendRuntimeMeasurementResponse>) {
        attestation_agent__extend_runtime_measurement_response__init(m)
    }
    // The C enum holds the wire's int32 in an unsigned raw value: a peer's -1
    // is 0xFFFFFFFF there, so the bits are reinterpreted, never converted.
    public init(unpacked m: UnsafePointer<AttestationAgent__ExtendRuntimeMeasurementResponse>) {
        self.init(rawResult: Int32(bitPattern: m.pointee.result.rawValue))
    }
    public func fill(
        _ m: UnsafeMutablePointer<AttestationAgent__ExtendRuntimeMeasurementResponse>, arena: ProtobufCArena
    ) {
        m.pointee.result = AttestationAgent__RuntimeMeasurementResult(rawValue: UInt32(bitPattern: rawResult))
    }
}

extension InitDataDigestRequest: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__BindInitDataRequest>) {
        attestation_agent__bind_init_data_request__init(m)
    }
    public init(unpacked m: UnsafePointer<AttestationAgent__BindInitDataRequest>) {
        self.init(digest: ProtobufCField.bytes(m.pointee.digest))
    }
    public func fill(_ m: UnsafeMutablePointer<AttestationAgent__BindInitDataRequest>, arena: ProtobufCArena) {
        m.pointee.digest = arena.binary(digest)
    }
}

extension UpdateConfigurationRequest: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__UpdateConfigurationRequest>) {
        attestation_agent__update_configuration_request__init(m)
    }
    public init(unpacked m: UnsafePointer<AttestationAgent__UpdateConfigurationRequest>) {
        self.init(config: ProtobufCField.string(m.pointee.config))
    }
    public func fill(_ m: UnsafeMutablePointer<AttestationAgent__UpdateConfigurationRequest>, arena: ProtobufCArena) {
        m.pointee.config = arena.cString(config)
    }
}

extension GetTeeTypeResponse: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__GetTeeTypeResponse>) {
        attestation_agent__get_tee_type_response__init(m)
    }
    public init(unpacked m: UnsafePointer<AttestationAgent__GetTeeTypeResponse>) {
        self.init(tee: ProtobufCField.string(m.pointee.tee))
    }
    public func fill(_ m: UnsafeMutablePointer<AttestationAgent__GetTeeTypeResponse>, arena: ProtobufCArena) {
        m.pointee.tee = arena.cString(tee)
    }
}

extension GetAdditionalTeesResponse: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__GetAdditionalTeesResponse>) {
        attestation_agent__get_additional_tees_response__init(m)
    }
    public init(unpacked m: UnsafePointer<AttestationAgent__GetAdditionalTeesResponse>) {
        self.init(additionalTees: ProtobufCField.strings(m.pointee.additional_tees, count: m.pointee.n_additional_tees))
    }
    public func fill(_ m: UnsafeMutablePointer<AttestationAgent__GetAdditionalTeesResponse>, arena: ProtobufCArena) {
        m.pointee.n_additional_tees = additionalTees.count
        m.pointee.additional_tees = arena.cStringArray(additionalTees)
    }
}

extension GetStatusResponse: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__GetStatusResponse>) {
        attestation_agent__get_status_response__init(m)
    }
    public init(unpacked m: UnsafePointer<AttestationAgent__GetStatusResponse>) {
        let c = m.pointee
        self.init(
            state: ProtobufCField.string(c.state), binding: ProtobufCField.string(c.binding),
            tee: ProtobufCField.string(c.tee),
            configSource: ProtobufCField.string(c.config_source),
            initDataDigest: ProtobufCField.string(c.init_data_digest),
            initDataField: ProtobufCField.string(c.init_data_field), kbsURL: ProtobufCField.string(c.kbs_url),
            kbsCert: ProtobufCField.string(c.kbs_cert))
    }
    public func fill(_ m: UnsafeMutablePointer<AttestationAgent__GetStatusResponse>, arena: ProtobufCArena) {
        m.pointee.state = arena.cString(state)
        m.pointee.binding = arena.cString(binding)
        m.pointee.tee = arena.cString(tee)
        m.pointee.config_source = arena.cString(configSource)
        m.pointee.init_data_digest = arena.cString(initDataDigest)
        m.pointee.init_data_field = arena.cString(initDataField)
        m.pointee.kbs_url = arena.cString(kbsURL)
        m.pointee.kbs_cert = arena.cString(kbsCert)
    }
}

extension EmptyMessage: ProtobufCodable {
    public static func initialize(_ m: UnsafeMutablePointer<AttestationAgent__GetTeeTypeRequest>) {
        attestation_agent__get_tee_type_request__init(m)
    }
    public init(unpacked m: UnsafePointer<AttestationAgent__GetTeeTypeRequest>) { self.init() }
    public func fill(_ m: UnsafeMutablePointer<AttestationAgent__GetTeeTypeRequest>, arena: ProtobufCArena) {}
}
