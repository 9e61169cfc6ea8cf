import Crypto
import DataEncoding
import Testing

/// The agent's own SHA-2 against FIPS 180-4's examples and, for every
/// length around the block boundaries and a random sample, swift-crypto
/// (BoringSSL), an implementation it shares nothing with.
@Suite struct SHA2Tests {
    @Test func fipsExamples() {
        let abc = Array("abc".utf8)
        #expect(Hex.encode(SHA2.sha256(abc)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Hex.encode(SHA2.sha384(abc))
                == "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7")
        #expect(
            Hex.encode(SHA2.sha512(abc))
                == "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        )
        #expect(Hex.encode(SHA2.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let twoBlocks = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(
            Hex.encode(SHA2.sha256(twoBlocks)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(Hex.encode(SHA2.sha256(million)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func everyLengthAroundTheBlocksAgreesWithBoringSSL() {
        var generator = SystemRandomNumberGenerator()
        let lengths = Array(0...300) + (0..<50).map { _ in Int.random(in: 300...5000, using: &generator) }
        for length in lengths {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(SHA2.sha256(bytes) == Array(SHA256.hash(data: bytes)), "SHA-256 of \(length) bytes")
            #expect(SHA2.sha384(bytes) == Array(SHA384.hash(data: bytes)), "SHA-384 of \(length) bytes")
            #expect(SHA2.sha512(bytes) == Array(SHA512.hash(data: bytes)), "SHA-512 of \(length) bytes")
        }
    }
}
