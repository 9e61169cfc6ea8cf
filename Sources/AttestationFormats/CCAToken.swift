/// An Arm CCA attestation token: CBOR tag 399 holding a platform token (key
/// 44234) and a realm token (key 44241), each a COSE_Sign1 whose payload is a
/// map of claims. Signatures are not checked here: that is the verifier's job.
public struct CCAToken: Sendable, Equatable {
    static let collectionTag: UInt64 = 399
    static let platformKey = 44234
    static let realmKey = 44241
    static let coseSign1Tag: UInt64 = 18

    /// Realm claim keys (Arm's RMM specification).
    enum RealmClaim {
        static let challenge = 10
        static let personalizationValue = 44235
        static let hashAlgorithm = 44236
        static let initialMeasurement = 44238
        static let extensibleMeasurements = 44239
    }

    public let challenge: [UInt8]
    /// The realm personalization value: the host-set field initdata is bound to.
    public let personalizationValue: [UInt8]
    public let hashAlgorithm: String
    public let initialMeasurement: [UInt8]
    public let extensibleMeasurements: [[UInt8]]
    public let platformClaims: CBOR

    public init(parsing bytes: [UInt8]) throws(ReportParseError) {
        guard case .tagged(Self.collectionTag, let collection) = try CBOR(decoding: bytes) else {
            throw ReportParseError("CCA token: not a CBOR tag 399 collection")
        }
        guard let platform = collection[Self.platformKey]?.bytes, let realm = collection[Self.realmKey]?.bytes else {
            throw ReportParseError("CCA token: the collection lacks the platform (44234) or realm (44241) token")
        }
        platformClaims = try Self.payload(ofCOSESign1: platform, name: "platform token")
        let claims = try Self.payload(ofCOSESign1: realm, name: "realm token")
        func claim(_ key: Int, _ name: String) throws(ReportParseError) -> CBOR {
            guard let value = claims[key] else {
                throw ReportParseError("CCA realm token: claim \(key) (\(name)) is missing")
            }
            return value
        }
        guard let challenge = try claim(RealmClaim.challenge, "challenge").bytes, challenge.count == 64 else {
            throw ReportParseError("CCA realm token: the challenge must be 64 bytes")
        }
        guard let personalization = try claim(RealmClaim.personalizationValue, "personalization value").bytes,
            personalization.count == 64
        else {
            throw ReportParseError("CCA realm token: the personalization value must be 64 bytes")
        }
        guard let algorithm = try claim(RealmClaim.hashAlgorithm, "hash algorithm").text else {
            throw ReportParseError("CCA realm token: the hash algorithm must be text")
        }
        guard let initial = try claim(RealmClaim.initialMeasurement, "initial measurement").bytes else {
            throw ReportParseError("CCA realm token: the initial measurement must be bytes")
        }
        guard case .array(let rems) = try claim(RealmClaim.extensibleMeasurements, "extensible measurements"),
            let measurements = Optional(rems.compactMap(\.bytes)), measurements.count == rems.count
        else {
            throw ReportParseError("CCA realm token: the extensible measurements must be an array of bytes")
        }
        self.challenge = challenge
        self.personalizationValue = personalization
        self.hashAlgorithm = algorithm
        self.initialMeasurement = initial
        self.extensibleMeasurements = measurements
    }

    /// The decoded payload of a COSE_Sign1 (tagged 18 or bare): [protected, unprotected, payload, signature].
    private static func payload(ofCOSESign1 bytes: [UInt8], name: String) throws(ReportParseError) -> CBOR {
        var item = try CBOR(decoding: bytes)
        if case .tagged(coseSign1Tag, let inner) = item { item = inner }
        guard case .array(let parts) = item, parts.count == 4, let payload = parts[2].bytes else {
            throw ReportParseError("CCA \(name): not a COSE_Sign1 [protected, unprotected, payload, signature]")
        }
        let claims = try CBOR(decoding: payload)
        guard case .map = claims else { throw ReportParseError("CCA \(name): the payload is not a map of claims") }
        return claims
    }
}
