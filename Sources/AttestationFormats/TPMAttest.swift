/// The parts of a marshalled TPMS_ATTEST of a quote (TPM 2.0 part 2,
/// 10.12.12; big-endian) that a verifier compares: the qualifying data the
/// caller passed (its nonce) and the digest of the quoted PCRs.
public struct TPMQuoteAttest: Sendable, Equatable {
    public let extraData: [UInt8]
    public let pcrDigest: [UInt8]

    public init(parsing message: [UInt8]) throws(ReportParseError) {
        var at = 0
        func take(_ count: Int, _ name: String) throws(ReportParseError) -> [UInt8] {
            guard count >= 0, at + count <= message.count else {
                throw ReportParseError("the TPM quote is truncated: \(name) needs \(count) bytes at \(at)")
            }
            defer { at += count }
            return Array(message[at..<at + count])
        }
        func uint(_ size: Int, _ name: String) throws(ReportParseError) -> Int {
            try take(size, name).reduce(0) { $0 << 8 | Int($1) }
        }
        func sized(_ name: String) throws(ReportParseError) -> [UInt8] { try take(try uint(2, name), name) }

        guard try uint(4, "magic") == 0xFF54_4347, try uint(2, "type") == 0x8018 else {
            throw ReportParseError(
                "the TPM quote message is not a TPM-generated quote (TPMS_ATTEST of TPM_ST_ATTEST_QUOTE)")
        }
        _ = try sized("qualifiedSigner")
        extraData = try sized("extraData")
        _ = try take(17 + 8, "clockInfo and firmwareVersion")
        let selections = try uint(4, "pcrSelect count")
        guard selections <= 16 else { throw ReportParseError("the TPM quote selects \(selections) PCR banks") }
        for _ in 0..<selections {
            _ = try take(2, "hash")
            _ = try take(try uint(1, "sizeofSelect"), "pcrSelect")
        }
        pcrDigest = try sized("pcrDigest")
    }
}
