/// What `--version` prints; raised with every release.
enum AgentVersion {
    static let current = "0.2.0"
}
