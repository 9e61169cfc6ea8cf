import Crypto
import Foundation
import Testing

@testable import KBSClient

/// The report data's hash as trustee's KBS selects it (`selected-hash-algorithm`).
@Suite struct ReportDataHashTests {
    @Test func theKBSSelectsAndSHA384IsTheDefault() throws {
        #expect(try ReportDataHash(selected: nil) == .sha384)
        #expect(try ReportDataHash(selected: "SHA512") == .sha512)
        #expect(try ReportDataHash(selected: "sha256") == .sha256)
        do {
            _ = try ReportDataHash(selected: "md5")
            Issue.record("md5 accepted")
        } catch {
            #expect(error.code == .internal)
            #expect(error.message.contains("'md5'"), "\(error.message)")
        }
    }

    @Test func digestsAreSwiftCryptosOfTheText() {
        let text = #"{"nonce":"abc","tee-pubkey":{"kty":"EC"}}"#
        let bytes = Data(text.utf8)
        #expect(ReportDataHash.sha256.digest(text) == Array(SHA256.hash(data: bytes)))
        #expect(ReportDataHash.sha384.digest(text) == Array(SHA384.hash(data: bytes)))
        #expect(ReportDataHash.sha512.digest(text) == Array(SHA512.hash(data: bytes)))
    }
}
