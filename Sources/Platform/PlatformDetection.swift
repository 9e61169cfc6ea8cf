import Logging

/// Finds the TEE this guest runs in. Hardware TEEs come with a later change;
/// until then every machine is detected as `sample`, with a warning that says
/// so, as upstream does when it finds nothing.
public enum PlatformDetection {
    public static func detect(root: PlatformRoot, environment: [String: String], logger: Logger) throws(PlatformError) -> any TEEPlatform {
        let sample = try SampleTEE(environment: environment)
        logger.warning("no TEE detected: using the sample TEE, whose evidence proves nothing",
                       metadata: ["platform_root": "\(root.root)",
                                  "simulated_init_data_field": "\(sample.simulatedField != nil)"])
        return sample
    }

    /// TEEs besides the primary one that can add evidence (none yet).
    public static func additionalTEEs(root: PlatformRoot) -> [TEEType] { [] }
}
