import DataEncoding

/// The JSON of SNP evidence as trustee's SNP verifier reads it: the sev
/// crate's serde form of `AttestationReport` (newtypes as their number, byte
/// arrays as arrays of numbers, TCB versions decoded per CPU generation) and
/// of the certificate table (`CertTableEntry { cert_type, data }`).
public enum SNPEvidenceJSON {
    enum Generation { case milan, genoa, turin }

    public static func attestationReport(_ bytes: [UInt8]) throws(ReportParseError) -> JSON {
        let report = try SNPReport(parsing: bytes)
        let r = ReportBytes(bytes, what: "SNP report")
        let generation = try Self.generation(bytes, version: report.version)
        func array(_ name: String, _ offset: Int, _ length: Int) throws(ReportParseError) -> JSON {
            .array(try r.field(name, at: offset, length: length).map { .unsigned(UInt64($0)) })
        }
        func number<T: BinaryInteger>(_ value: T) -> JSON { .unsigned(UInt64(value)) }
        func tcb(_ name: String, _ offset: Int) throws(ReportParseError) -> JSON {
            let b = try r.field(name, at: offset, length: 8)
            let (fmc, bootloader, tee, snp): (JSON, UInt8, UInt8, UInt8) =
                generation == .turin
                ? (number(b[0]), b[1], b[2], b[3]) : (.null, b[0], b[1], b[6])
            return .object([
                ("fmc", fmc), ("bootloader", number(bootloader)), ("tee", number(tee)),
                ("snp", number(snp)), ("microcode", number(b[7])),
            ])
        }
        func version(_ name: String, _ offset: Int) throws(ReportParseError) -> JSON {
            let b = try r.field(name, at: offset, length: 3)
            return .object([("major", number(b[2])), ("minor", number(b[1])), ("build", number(b[0]))])
        }
        let hasCPUID = report.version >= 3
        let hasMitigations = report.version >= 5
        func optionalByte(_ offset: Int) throws(ReportParseError) -> JSON {
            hasCPUID ? number(try r.field("CPUID", at: offset, length: 1)[0]) : .null
        }
        func optionalU64(_ name: String, _ offset: Int) throws(ReportParseError) -> JSON {
            hasMitigations ? number(try r.uint64(name, at: offset)) : .null
        }
        return .object([
            ("version", number(report.version)),
            ("guest_svn", number(report.guestSVN)),
            ("policy", number(report.policy)),
            ("family_id", try array("FAMILY_ID", 0x10, 16)),
            ("image_id", try array("IMAGE_ID", 0x20, 16)),
            ("vmpl", number(report.vmpl)),
            ("sig_algo", number(report.signatureAlgorithm)),
            ("current_tcb", try tcb("CURRENT_TCB", 0x38)),
            ("plat_info", number(try r.uint64("PLATFORM_INFO", at: 0x40))),
            ("key_info", number(try r.uint32("KEY_INFO", at: 0x48))),
            ("report_data", try array("REPORT_DATA", 0x50, 64)),
            ("measurement", try array("MEASUREMENT", 0x90, 48)),
            ("host_data", try array("HOST_DATA", 0xC0, 32)),
            ("id_key_digest", try array("ID_KEY_DIGEST", 0xE0, 48)),
            ("author_key_digest", try array("AUTHOR_KEY_DIGEST", 0x110, 48)),
            ("report_id", try array("REPORT_ID", 0x140, 32)),
            ("report_id_ma", try array("REPORT_ID_MA", 0x160, 32)),
            ("reported_tcb", try tcb("REPORTED_TCB", 0x180)),
            ("cpuid_fam_id", try optionalByte(0x188)),
            ("cpuid_mod_id", try optionalByte(0x189)),
            ("cpuid_step", try optionalByte(0x18A)),
            ("chip_id", try array("CHIP_ID", 0x1A0, 64)),
            ("committed_tcb", try tcb("COMMITTED_TCB", 0x1E0)),
            ("current", try version("CURRENT", 0x1E8)),
            ("committed", try version("COMMITTED", 0x1EC)),
            ("launch_tcb", try tcb("LAUNCH_TCB", 0x1F0)),
            ("launch_mit_vector", try optionalU64("LAUNCH_MIT_VECTOR", 0x1F8)),
            ("current_mit_vector", try optionalU64("CURRENT_MIT_VECTOR", 0x200)),
            (
                "signature",
                .object([("r", try array("SIGNATURE R", 0x2A0, 72)), ("s", try array("SIGNATURE S", 0x2E8, 72))])
            ),
        ])
    }

    /// The CPU generation decides how TCB versions are laid out: from CPUID
    /// (version 3 and up), else from the CHIP_ID shape, as the sev crate does.
    static func generation(_ bytes: [UInt8], version: UInt32) throws(ReportParseError) -> Generation {
        if version >= 3 {
            let family = bytes[0x188]
            let model = bytes[0x189]
            switch (family, model) {
            case (0x19, 0x00...0x0F): return .milan
            case (0x19, 0x10...0x1F), (0x19, 0xA0...0xAF): return .genoa
            case (0x1A, 0x00...0x11): return .turin
            default:
                throw ReportParseError(
                    "SNP report: CPUID family 0x\(String(family, radix: 16)) model 0x\(String(model, radix: 16)) is not a known SEV-SNP processor"
                )
            }
        }
        let chipID = bytes[0x1A0..<0x1E0]
        guard chipID.contains(where: { $0 != 0 }) else {
            throw ReportParseError(
                "SNP report v2: CHIP_ID is masked (all zero), so the processor generation cannot be told")
        }
        return chipID.dropFirst(8).allSatisfy { $0 == 0 } ? .turin : .genoa
    }

    /// The GHCB certificate table (`auxblob`): 24-byte entries {GUID, offset,
    /// length} ending with an all-zero one, offsets from the table's start.
    public static func certificateChain(_ table: [UInt8]) throws(ReportParseError) -> JSON {
        let known: [String: String] = [
            "c0b406a4-a803-4952-9743-3fb6014cd0ae": "ARK", "4ab7b379-bbac-4fe4-a02f-05aef327c782": "ASK",
            "63da758d-e664-4564-adc5-f4b93be8accd": "VCEK", "a8074bc2-a25a-483e-aae6-39c045a0b8a1": "VLEK",
            "92f81bc3-5811-4d3d-97ff-d19f88dc67ea": "CRL",
        ]
        let r = ReportBytes(table, what: "SNP certificate table")
        var entries: [JSON] = []
        var index = 0
        while true {
            let guidBytes = try r.field("GUID", at: index * 24, length: 16)
            let offset = Int(try r.uint32("offset", at: index * 24 + 16))
            let length = Int(try r.uint32("length", at: index * 24 + 20))
            if guidBytes.allSatisfy({ $0 == 0 }) && offset == 0 && length == 0 { break }
            let data = try r.field("certificate \(index)", at: offset, length: length)
            let guid = Self.guid(guidBytes)
            let type: JSON = known[guid].map { .string($0) } ?? .object([("OTHER", .string(guid))])
            entries.append(.object([("cert_type", type), ("data", .array(data.map { .unsigned(UInt64($0)) }))]))
            index += 1
            guard index < 64 else { throw ReportParseError("SNP certificate table: more than 64 entries") }
        }
        return .array(entries)
    }

    /// A GUID in its text form, its bytes read in RFC 4122 order as the sev
    /// crate reads the table (`Uuid::from_bytes`): the VCEK's bytes are
    /// `63 da 75 8d e6 64 45 64 ...`, not the mixed-endian EFI form.
    static func guid(_ b: [UInt8]) -> String {
        let hex = Hex.encode(b)
        let chars = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(chars[$0]) }.joined(separator: "-")
    }
}
