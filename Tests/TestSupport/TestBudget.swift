import Foundation

/// How the build under test changes what a test may expect of time and memory.
public enum TestBudget {
    /// The sanitizer the binaries were built with (Scripts/sanitize.sh sets
    /// AA_SANITIZER), nil for a plain build. Sanitized binaries are several
    /// times slower and their memory is the sanitizer's: time budgets
    /// stretch and RSS bounds are reported, not checked.
    public static let sanitizer: String? = ProcessInfo.processInfo.environment["AA_SANITIZER"]

    /// The sanitizers' settings (Scripts/sanitize.sh), passed on to every
    /// process a test launches so that a report there halts it too.
    public static let sanitizerOptions: [String: String] = ProcessInfo.processInfo.environment.filter {
        ["ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"].contains($0.key)
    }

    /// How much longer than a plain build a sanitized one may take: every
    /// wait is stretched by it.
    public static let timeScale: Double = sanitizer == nil ? 1 : 5
}
