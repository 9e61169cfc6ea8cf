import Logging

/// The agent's log level from a tracing filter string, as upstream reads
/// `[log] level` and `RUST_LOG` (`info,kbs_protocol=debug`): the first level
/// word counts; per-target directives have no equivalent in this agent.
public enum LogLevelFilter {
    public static let words = "trace, debug, info, warn, error, off"

    /// Nil when the text holds no level word; the caller then warns and uses `info`.
    public static func level(_ filter: String) -> Logger.Level? {
        for word in filter.split(whereSeparator: { $0 == "," || $0 == "=" || $0 == " " }) {
            if let level = level(word: String(word)) { return level }
        }
        return nil
    }

    static func level(word: String) -> Logger.Level? {
        switch word.lowercased() {
        case "trace": .trace
        case "debug": .debug
        case "info": .info
        case "warn", "warning": .warning
        case "error": .error
        case "critical", "off": .critical
        default: nil
        }
    }

    /// Which setting decides: `--log-level`, else `RUST_LOG` (as upstream),
    /// else the configuration's `[log] level`, else `info`. `unreadable`
    /// names a setting that held no level word, for a warning.
    public static func resolve(
        flag: String?, environment: [String: String], config: String?
    )
        -> (level: Logger.Level, unreadable: String?)
    {
        let candidates: [(String, String?)] = [
            ("--log-level", flag), ("RUST_LOG", environment["RUST_LOG"]), ("[log] level", config),
        ]
        guard let (name, text) = candidates.first(where: { $0.1 != nil }), let text else { return (.info, nil) }
        if let level = level(text) { return (level, nil) }
        return (.info, "\(name) '\(text)' holds no level word (\(words)); logging at info")
    }
}
