import Crypto
import DataEncoding
import Foundation
import Testing
import _CryptoExtras

@testable import KBSClient

/// The TEE key pair made on swift-nio-ssl's BoringSSL, read back by
/// swift-crypto (another implementation): the JWK the KBS wraps secrets to
/// and the PEM the caller keeps must be the two halves of one key.
@Suite struct TEEKeyPairTests {
    /// RFC 4648's base64url, unpadded as JWK writes it.
    static func base64URL(_ text: String?) -> Data? {
        guard var text else { return nil }
        text = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        return Data(base64Encoded: text)
    }

    @Test func p256KeysAgreeWithTheirJWK() throws {
        let pair = try TEEKeyPair(.ecdhP256)
        let jwk = pair.jwk
        #expect(jwk["kty"]?.string == "EC" && jwk["crv"]?.string == "P-256" && jwk["alg"]?.string == "ECDH-ES+A256KW")
        let x = try #require(Self.base64URL(jwk["x"]?.string))
        let y = try #require(Self.base64URL(jwk["y"]?.string))
        #expect(x.count == 32 && y.count == 32)
        let key = try P256.KeyAgreement.PrivateKey(pemRepresentation: pair.privateKeyPEM)
        #expect(key.publicKey.rawRepresentation == x + y)
    }

    @Test func p521KeysAgreeWithTheirJWK() throws {
        let pair = try TEEKeyPair(.ecdhP521)
        let jwk = pair.jwk
        #expect(jwk["crv"]?.string == "P-521")
        let x = try #require(Self.base64URL(jwk["x"]?.string))
        let y = try #require(Self.base64URL(jwk["y"]?.string))
        #expect(x.count == 66 && y.count == 66, "coordinates keep their leading zero bytes")
        let key = try P521.KeyAgreement.PrivateKey(pemRepresentation: pair.privateKeyPEM)
        #expect(key.publicKey.rawRepresentation == x + y)
    }

    @Test func rsaKeysAgreeWithTheirJWK() throws {
        let pair = try TEEKeyPair(.rsaOAEP256)
        let jwk = pair.jwk
        #expect(jwk["kty"]?.string == "RSA" && jwk["alg"]?.string == "RSA-OAEP-256")
        #expect(pair.privateKeyPEM.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"), "PKCS#1, as upstream's to_pem")
        let key = try _RSA.Encryption.PrivateKey(pemRepresentation: pair.privateKeyPEM)
        #expect(key.keySizeInBits == 2048)
        let primitives = try key.publicKey.getKeyPrimitives()
        #expect(Self.base64URL(jwk["n"]?.string) == primitives.modulus)
        #expect(Self.base64URL(jwk["e"]?.string) == primitives.publicExponent)
        // What the KBS wraps to the JWK, the PEM's holder unwraps.
        let secret = Data("a key for the model".utf8)
        let wrapped = try _RSA.Encryption.PublicKey(n: primitives.modulus, e: primitives.publicExponent)
            .encrypt(secret, padding: .PKCS1_OAEP_SHA256)
        #expect(try key.decrypt(wrapped, padding: .PKCS1_OAEP_SHA256) == secret)
    }

    @Test func everyHandshakeGetsAFreshKey() throws {
        let first = try TEEKeyPair(.ecdhP256)
        let second = try TEEKeyPair(.ecdhP256)
        #expect(first.jwk["x"]?.string != second.jwk["x"]?.string)
    }
}
