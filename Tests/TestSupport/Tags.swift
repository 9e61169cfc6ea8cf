import Testing

/// Tags for the suites that need more than the build, shown by IDEs and
/// test reports. (Swift 6.3's `swift test` filters by name only; there a
/// suite's name is how to pick it: `--filter TPMTests`.)
extension Tag {
    /// Needs Debian's swtpm (a software TPM) and tpm2-tools.
    @Tag public static var swtpm: Self
    /// Needs FUSE (/dev/fuse, fusermount3) for the fake kernel.
    @Tag public static var fuse: Self
    /// Needs the Go and Rust ttrpc peers (Scripts/build-peers.sh).
    @Tag public static var interop: Self
    /// Takes tens of seconds: fault injection, random sequences, load.
    @Tag public static var slow: Self
}
