import CNIOBoringSSL
import Configuration
import DataEncoding
import RPCStatus

/// The ephemeral key pair of one KBS handshake: its public half goes to the
/// KBS as a JWK (`tee-pubkey`), which wraps secrets to it; the private half
/// goes back to the caller as PEM (`tee_keypair`).
///
/// Made by the BoringSSL that swift-nio-ssl carries for TLS (its C API), so
/// that the agent links one copy of BoringSSL, not two.
public final class TEEKeyPair {
    private let algorithm: AgentConfig.TEEKeyAlgorithm
    /// The EVP_PKEY, owned.
    private let key: OpaquePointer

    public init(_ algorithm: AgentConfig.TEEKeyAlgorithm) throws(StatusError) {
        self.algorithm = algorithm
        guard let key = EVP_PKEY_new() else { throw Self.failure("cannot allocate a key") }
        self.key = key
        switch algorithm {
        case .ecdhP256: try Self.generateEC(into: key, curve: NID_X9_62_prime256v1)
        case .ecdhP521: try Self.generateEC(into: key, curve: NID_secp521r1)
        case .rsaOAEP256: try Self.generateRSA(into: key, bits: 2048)
        }
    }

    deinit { EVP_PKEY_free(key) }

    /// The public key as upstream's `TeePubKey` serialises it.
    public var jwk: JSON {
        switch algorithm {
        case .ecdhP256: Self.ecJWK(curve: "P-256", point: ecPublicPoint)
        case .ecdhP521: Self.ecJWK(curve: "P-521", point: ecPublicPoint)
        case .rsaOAEP256:
            .object([
                ("kty", .string("RSA")), ("alg", .string("RSA-OAEP-256")),
                ("n", .string(Base64.urlEncode(Self.bytes(RSA_get0_n(rsa))))),
                ("e", .string(Base64.urlEncode(Self.bytes(RSA_get0_e(rsa))))),
            ])
        }
    }

    /// PKCS#8 for EC keys, PKCS#1 for RSA, as upstream's `to_pem`.
    public var privateKeyPEM: String {
        let bio = BIO_new(BIO_s_mem())
        defer { BIO_free(bio) }
        switch algorithm {
        case .ecdhP256, .ecdhP521: _ = PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil)
        case .rsaOAEP256: _ = PEM_write_bio_RSAPrivateKey(bio, rsa, nil, nil, 0, nil, nil)
        }
        var contents: UnsafePointer<UInt8>?
        var length = 0
        guard BIO_mem_contents(bio, &contents, &length) == 1, let contents else { return "" }
        return String(decoding: UnsafeBufferPointer(start: contents, count: length), as: UTF8.self)
    }

    // MARK: BoringSSL

    private var rsa: OpaquePointer? { EVP_PKEY_get0_RSA(key) }

    /// The public point, uncompressed: 0x04 || x || y.
    private var ecPublicPoint: [UInt8] {
        guard let ec = EVP_PKEY_get0_EC_KEY(key) else { return [] }
        let group = EC_KEY_get0_group(ec)
        let point = EC_KEY_get0_public_key(ec)
        let size = EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, nil, 0, nil)
        var bytes = [UInt8](repeating: 0, count: size)
        _ = EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, &bytes, size, nil)
        return bytes
    }

    private static func generateEC(into key: OpaquePointer, curve: Int32) throws(StatusError) {
        guard let ec = EC_KEY_new_by_curve_name(curve) else { throw failure("unknown curve \(curve)") }
        guard EC_KEY_generate_key(ec) == 1, EVP_PKEY_assign_EC_KEY(key, ec) == 1 else {
            EC_KEY_free(ec)
            throw failure("cannot create an EC key")
        }
    }

    private static func generateRSA(into key: OpaquePointer, bits: Int32) throws(StatusError) {
        guard let rsa = RSA_new(), let exponent = BN_new() else {
            throw failure("cannot allocate an RSA key")
        }
        defer { BN_free(exponent) }
        guard BN_set_word(exponent, UInt64(RSA_F4)) == 1,
            RSA_generate_key_ex(rsa, bits, exponent, nil) == 1,
            EVP_PKEY_assign_RSA(key, rsa) == 1
        else {
            RSA_free(rsa)
            throw failure("cannot create an RSA key")
        }
    }

    private static func bytes(_ number: UnsafePointer<BIGNUM>?) -> [UInt8] {
        guard let number else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(BN_num_bytes(number)))
        _ = BN_bn2bin(number, &bytes)
        return bytes
    }

    private static func failure(_ what: String) -> StatusError {
        StatusError(.internal, "the TEE key pair: \(what) (BoringSSL)")
    }

    /// x and y, each the curve's size, from the uncompressed point.
    private static func ecJWK(curve: String, point: [UInt8]) -> JSON {
        let coordinates = Array(point.dropFirst())
        let half = coordinates.count / 2
        return .object([
            ("kty", .string("EC")), ("crv", .string(curve)), ("alg", .string("ECDH-ES+A256KW")),
            ("x", .string(Base64.urlEncode(Array(coordinates.prefix(half))))),
            ("y", .string(Base64.urlEncode(Array(coordinates.suffix(half))))),
        ])
    }
}
