/// Fitting an initdata digest to the field or PCR it is compared with.
public enum InitDataDigest {
    /// Zero-padded or truncated to `size`, as the initdata spec says.
    public static func fitted(_ digest: [UInt8], to size: Int) -> [UInt8] {
        digest.count >= size ? Array(digest.prefix(size)) : digest + [UInt8](repeating: 0, count: size - digest.count)
    }
}
