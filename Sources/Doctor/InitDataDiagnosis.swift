import AttestationAgentAPI
import AttestationFormats
import DataEncoding

/// The initdata document kata delivered, against what the agent bound and
/// what trustee's verifier for the TEE can check.
public enum InitDataDiagnosis {
    /// Where kata-agent writes the document from the pod's annotation.
    public static let defaultPath = "/run/confidential-containers/initdata/initdata.toml"

    /// `text` is the document, nil when there is no file at `path`; `status` the agent's, when it answered.
    public static func check(
        path: String, text: Result<String?, DoctorFailure>, status: GetStatusResponse?
    ) -> [DoctorCheck] {
        let document: InitDataDocument
        switch text {
        case .failure(let failure):
            return [
                .fail(
                    "initdata", "cannot read \(path): \(failure.description)",
                    fix: "make \(path) readable by this user (run as root)")
            ]
        case .success(nil):
            if let status, ["matched", "measured", "recorded"].contains(status.binding) {
                return [
                    .warn(
                        "initdata", "no document at \(path), yet the agent bound digest \(status.initDataDigest)",
                        fix: "pass --initdata PATH to check the document the agent was given")
                ]
            }
            return [.pass("initdata", "none delivered (no \(path)); the agent binds nothing")]
        case .success(let text?):
            do { document = try InitDataDocument(text: text) } catch {
                return [
                    .fail(
                        "initdata", "\(path) is not an initdata document: \(error.description)",
                        fix:
                            "fix the document the pod's cc_init_data annotation carries: version = \"0.1.0\", algorithm = \"sha256\"|\"sha384\"|\"sha512\", and a [data] table"
                    )
                ]
            }
        }
        let digest = Hex.encode(document.digest)
        let seen = "\(path): algorithm \(document.algorithm.rawValue), digest \(digest)"
        var checks: [DoctorCheck] = []
        if let status, !status.initDataDigest.isEmpty, status.initDataDigest.lowercased() != digest {
            checks.append(
                .fail(
                    "initdata", seen + ", but the agent bound \(status.initDataDigest)",
                    fix: "the agent was started with another document: restart it with --initdata-toml \(path)"))
        } else {
            checks.append(.pass("initdata", seen))
        }
        if let status { checks.append(algorithmCheck(document.algorithm, tee: status.tee)) }
        return checks
    }

    /// Whether trustee's verifier for `tee` can check a digest of `algorithm`.
    static func algorithmCheck(_ algorithm: InitDataDocument.Algorithm, tee: String) -> DoctorCheck {
        let name = "initdata algorithm"
        switch (tee, algorithm) {
        case ("tpm", .sha256), ("az-snp-vtpm", .sha256), ("az-tdx-vtpm", .sha256):
            return .pass(name, "\(algorithm.rawValue) on \(tee): PCR 8 holds the 32-byte digest trustee checks")
        case ("tpm", _), ("az-snp-vtpm", _), ("az-tdx-vtpm", _):
            return .fail(
                name, "\(algorithm.rawValue) on \(tee): trustee checks PCR 8 against a 32-byte SHA-256 digest only",
                fix: "set algorithm = \"sha256\" in the initdata document")
        case ("cca", .sha512):
            return .pass(name, "sha512 on cca: the 64-byte personalization value is the digest as it is")
        case ("cca", _):
            return .fail(
                name,
                "\(algorithm.rawValue) on cca: trustee compares the 64-byte personalization value with the digest unpadded, so only sha512 verifies",
                fix: "set algorithm = \"sha512\" in the initdata document")
        case ("tdx", _), ("snp", _), ("sample", _):
            return .pass(name, "\(algorithm.rawValue) on \(tee): the digest is fitted to the field as trustee fits it")
        default:
            return .warn(
                name, "\(tee) has no init-data field: no algorithm is verified",
                fix: "initdata is only trusted on TEEs with a field or a vTPM")
        }
    }
}
