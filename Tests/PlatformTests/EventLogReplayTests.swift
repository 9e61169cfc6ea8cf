import AttestationFormats
import Crypto
import Testing

/// RTMR replay and the TPM quote's fields, on bytes laid out here by hand
/// from the TCG PC Client and TPM 2.0 layouts.
@Suite struct EventLogReplayTests {
    static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le16(_ v: Int) -> [UInt8] { (0..<2).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// A TCG_EfiSpecIdEvent announcing SHA-384, then TCG_PCR_EVENT2 entries, then the end marker.
    static func log(_ events: [(mr: Int, type: Int, digest: [UInt8])]) -> [UInt8] {
        let spec =
            Array("Spec ID Event03".utf8) + [0] + le32(0) + [0, 2, 0, 2] + le32(1) + le16(0x000C) + le16(48) + [0]
        var log = le32(0) + le32(3) + [UInt8](repeating: 0, count: 20) + le32(spec.count) + spec
        for event in events {
            let data = Array("event".utf8)
            log += le32(event.mr) + le32(event.type) + le32(1) + le16(0x000C) + event.digest + le32(data.count) + data
        }
        return log + [UInt8](repeating: 0xFF, count: 8)
    }

    @Test func replaysEachMRIntoItsRTMR() throws {
        let a = [UInt8](repeating: 0xA1, count: 48)
        let b = [UInt8](repeating: 0xB2, count: 48)
        let c = [UInt8](repeating: 0xC3, count: 48)
        let replayed = try CCEventLog.replayedRTMRs(
            Self.log([(1, 0xD, a), (4, 0x8000_0010, b), (4, 0xD, c), (2, 3, a)]))
        let zero = [UInt8](repeating: 0, count: 48)
        #expect(replayed[0] == Array(SHA384.hash(data: zero + a)))
        #expect(replayed[1] == zero, "EV_NO_ACTION extends nothing")
        #expect(replayed[2] == zero)
        #expect(replayed[3] == Array(SHA384.hash(data: Array(SHA384.hash(data: zero + b)) + c)))
        #expect(throws: ReportParseError.self) { try CCEventLog.replayedRTMRs(Self.log([(5, 0xD, a)])) }
        #expect(throws: ReportParseError.self) {
            try CCEventLog.replayedRTMRs(Array(Self.log([(1, 0xD, a)]).dropLast(30)))
        }
    }

    @Test func quoteFields() throws {
        func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
        let nonce: [UInt8] = [9, 8, 7]
        let digest = [UInt8](repeating: 0x44, count: 32)
        let message =
            [0xFF, 0x54, 0x43, 0x47] + be16(0x8018) + be16(2) + [0, 1] + be16(3) + nonce
            + [UInt8](repeating: 0, count: 25) + [0, 0, 0, 1] + be16(0x000B) + [3, 0xFF, 0xFF, 0xFF] + be16(32) + digest
        let attest = try TPMQuoteAttest(parsing: message)
        #expect(attest.extraData == nonce)
        #expect(attest.pcrDigest == digest)
        #expect(throws: ReportParseError.self) { try TPMQuoteAttest(parsing: Array(message.dropLast(1))) }
        #expect(throws: ReportParseError.self) {
            try TPMQuoteAttest(parsing: [0xFF, 0x54, 0x43, 0x48] + message.dropFirst(4))
        }
    }
}
