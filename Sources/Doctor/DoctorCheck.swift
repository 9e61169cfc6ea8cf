import DataEncoding

/// One line of `aactl doctor`: what was checked, how it went, what was seen,
/// and for a warning or a failure what to do about it.
public struct DoctorCheck: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        case pass, warn, fail
    }

    public let name: String
    public let outcome: Outcome
    public let observed: String
    /// The action that fixes it; nil for a pass.
    public let fix: String?

    public static func pass(_ name: String, _ observed: String) -> DoctorCheck {
        DoctorCheck(name: name, outcome: .pass, observed: observed, fix: nil)
    }

    public static func warn(_ name: String, _ observed: String, fix: String) -> DoctorCheck {
        DoctorCheck(name: name, outcome: .warn, observed: observed, fix: fix)
    }

    public static func fail(_ name: String, _ observed: String, fix: String) -> DoctorCheck {
        DoctorCheck(name: name, outcome: .fail, observed: observed, fix: fix)
    }
}

/// Every check of one run, printed for a person or as JSON for tools.
public struct DoctorReport: Sendable, Equatable {
    public let checks: [DoctorCheck]

    public init(_ checks: [DoctorCheck]) { self.checks = checks }

    /// Exit status 0 unless a check failed (warnings do not).
    public var failed: Bool { checks.contains { $0.outcome == .fail } }

    /// One line per check, `PASS name: observed`, and the fix indented below.
    public var text: String {
        checks.map { check in
            var line = "\(check.outcome.rawValue.uppercased()) \(check.name): \(check.observed)"
            if let fix = check.fix { line += "\n     fix: \(fix)" }
            return line
        }.joined(separator: "\n")
    }

    public var json: JSON {
        .object([
            ("ok", .bool(!failed)),
            (
                "checks",
                .array(
                    checks.map { check in
                        .object([
                            ("name", .string(check.name)), ("outcome", .string(check.outcome.rawValue)),
                            ("observed", .string(check.observed)), ("fix", check.fix.map(JSON.string) ?? .null),
                        ])
                    })
            ),
        ])
    }
}
