import Logging

/// Finds the TEE this guest runs in, in upstream's order: hardware TEEs
/// first, `sample` only when nothing is found, with a warning that says so.
public enum PlatformDetection {
    public static func detect(root: PlatformRoot, environment: [String: String], logger: Logger) throws(PlatformError) -> any TEEPlatform {
        if TDXPlatform.detect(files: root) { return TDXPlatform(files: root) }
        if SNPPlatform.detect(files: root) { return SNPPlatform(files: root) }
        if CCAPlatform.detect(files: root) { return CCAPlatform(files: root) }
        let sample = try SampleTEE(environment: environment)
        logger.warning("no TEE detected: using the sample TEE, whose evidence proves nothing",
                       metadata: ["platform_root": "\(root.root)",
                                  "simulated_init_data_field": "\(sample.simulatedField != nil)"])
        return sample
    }

    /// TEEs besides the primary one that can add evidence (none yet).
    public static func additionalTEEs(root: PlatformRoot) -> [TEEType] { [] }
}
