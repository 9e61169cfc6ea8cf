import AgentCore
import Crypto
import DataEncoding
import _CryptoExtras

/// The ephemeral key pair of one KBS handshake: its public half goes to the
/// KBS as a JWK (`tee-pubkey`), which wraps secrets to it; the private half
/// goes back to the caller as PEM (`tee_keypair`).
struct TEEKeyPair {
    enum Key {
        case p256(P256.KeyAgreement.PrivateKey)
        case p521(P521.KeyAgreement.PrivateKey)
        case rsa(_RSA.Encryption.PrivateKey)
    }

    let key: Key

    init(_ algorithm: AgentConfig.TEEKeyAlgorithm) throws(AgentError) {
        switch algorithm {
        case .ecdhP256: key = .p256(P256.KeyAgreement.PrivateKey())
        case .ecdhP521: key = .p521(P521.KeyAgreement.PrivateKey())
        case .rsaOAEP256:
            do {
                key = .rsa(try _RSA.Encryption.PrivateKey(keySize: .bits2048))
            } catch {
                throw AgentError(.internal, "cannot create an RSA key: \(error)", cause: error)
            }
        }
    }

    /// The public key as upstream's `TeePubKey` serialises it.
    var jwk: JSON {
        switch key {
        case .p256(let k): Self.ecJWK(curve: "P-256", raw: Array(k.publicKey.rawRepresentation))
        case .p521(let k): Self.ecJWK(curve: "P-521", raw: Array(k.publicKey.rawRepresentation))
        case .rsa(let k):
            .object([
                ("kty", .string("RSA")), ("alg", .string("RSA-OAEP-256")),
                ("n", .string(Base64.urlEncode(Self.modulus(k)))), ("e", .string(Base64.urlEncode(Self.exponent(k)))),
            ])
        }
    }

    /// PKCS#8 for EC keys, PKCS#1 for RSA, as upstream's `to_pem`.
    var privateKeyPEM: String {
        switch key {
        case .p256(let k): k.pemRepresentation
        case .p521(let k): k.pemRepresentation
        case .rsa(let k): k.pemRepresentation
        }
    }

    /// x and y, each the curve's size, from the raw (x || y) representation.
    private static func ecJWK(curve: String, raw: [UInt8]) -> JSON {
        let half = raw.count / 2
        return .object([
            ("kty", .string("EC")), ("crv", .string(curve)), ("alg", .string("ECDH-ES+A256KW")),
            ("x", .string(Base64.urlEncode(Array(raw.prefix(half))))),
            ("y", .string(Base64.urlEncode(Array(raw.suffix(half))))),
        ])
    }

    private static func modulus(_ key: _RSA.Encryption.PrivateKey) -> [UInt8] {
        let primitives = try? key.publicKey.getKeyPrimitives()
        return primitives.map { Array($0.modulus) } ?? []
    }

    private static func exponent(_ key: _RSA.Encryption.PrivateKey) -> [UInt8] {
        let primitives = try? key.publicKey.getKeyPrimitives()
        return primitives.map { Array($0.publicExponent) } ?? []
    }
}
