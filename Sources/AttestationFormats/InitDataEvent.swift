import DataEncoding

/// The AAEL event that anchors initdata in TDX's RTMR3 where the host could
/// not set MRCONFIGID (`--initdata-rtmr`, after cloud-api-adaptor issue
/// 2604): `github.com/confidential-containers InitData <algorithm>:<hex
/// digest>`, the document's digest in the document's algorithm, logged on CC
/// measurement register 4 (RTMR3) before any runtime measurement of the boot.
/// A verifier replays `cc_eventlog` to the quoted RTMR3 (trustee does), then
/// requires the first AAEL event on register 4 to be this one with the
/// digest it expects; trustee does not check that itself, so a policy must.
public enum InitDataEvent {
    public static let domain = "github.com/confidential-containers"
    public static let operation = "InitData"
    /// CC measurement register 4: RTMR3.
    public static let register: UInt32 = 4

    /// `algorithm:hex digest`; the algorithm a digest's length implies when
    /// the document's is not known (an --initdata_digest or a bind call).
    public static func content(digest: [UInt8], algorithm: String? = nil) -> String {
        let name =
            algorithm
            ?? {
                switch digest.count {
                case 32: "sha256"
                case 48: "sha384"
                case 64: "sha512"
                default: "digest"
                }
            }()
        return "\(name):\(Hex.encode(digest))"
    }

    public static func text(digest: [UInt8], algorithm: String? = nil) -> String {
        "\(domain) \(operation) \(content(digest: digest, algorithm: algorithm))"
    }

    /// Whether an event log entry's text is an InitData event.
    public static func isInitData(_ text: String) -> Bool { text.hasPrefix("\(domain) \(operation) ") }
}
