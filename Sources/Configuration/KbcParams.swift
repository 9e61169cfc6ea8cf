import DataEncoding

/// `AA_KBC_PARAMS` (`KBC::URI`), the older way to point the agent at a KBS:
/// from the environment, else `agent.aa_kbc_params=` on the kernel command line.
public struct KbcParams: Sendable, Equatable {
    public let kbc: String
    public let uri: String

    /// nil when `text` is not `KBC::URI`.
    public init?(_ text: String) {
        let parts = text.splitBytes(separator: "::")
        guard parts.count == 2, !parts[0].isEmpty else { return nil }
        kbc = parts[0]
        uri = parts[1]
    }

    /// Finds the parameters; `cmdline` is the kernel command line when readable.
    public static func find(environment: [String: String], cmdline: String?) -> String? {
        if let value = environment["AA_KBC_PARAMS"] { return value }
        let prefix = "agent.aa_kbc_params="
        return cmdline?.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
            .first { $0.hasPrefix(prefix) }
            .map { String($0.dropFirst(prefix.count)) }
    }

    /// The configuration these parameters give: only `cc_kbc` names a KBS,
    /// other KBCs (such as upstream's default `offline_fs_kbc`) give none.
    public var config: AgentConfig? {
        guard kbc == "cc_kbc", !uri.isEmpty else { return nil }
        return AgentConfig(kbs: .init(url: uri))
    }
}
