import AttestationFormats
import Logging
import NIOCore
import PlatformInterface

/// Finds the TEE this guest runs in, in upstream's order: hardware TEEs
/// first, `sample` only when nothing is found, with a warning that says so.
public enum PlatformDetection {
    /// `group`: the agent's event loops, for the platform services a TEE
    /// asks over the network (Azure's instance metadata).
    public static func detect(
        root: PlatformRoot, environment: [String: String], group: EventLoopGroup, logger: Logger
    ) throws(PlatformError) -> any TEEPlatform {
        let eventLog = EventLogLocation(root: root, environment: environment)
        let tsmProvider = ConfigfsTSM(files: root).presentProvider()
        if TDXPlatform.detect(files: root, tsmProvider: tsmProvider) {
            return TDXPlatform(files: root, eventLogFile: eventLog.file)
        }
        let tcti = TPMPlatform.tcti(root: root, environment: environment)
        let akHandle = try TPMPlatform.akHandle(environment: environment)
        if let tcti, let azure = try? TPMPlatform(tcti: tcti).azureConfidentialVM() {
            return TPMPlatform(
                tcti: tcti, akHandle: akHandle ?? TPMPlatform.azureAKHandle, tee: azure,
                azureMetadata: AzureMetadataService(environment: environment, group: group), files: root,
                eventLogFile: eventLog.file)
        }
        if SNPPlatform.detect(files: root, tsmProvider: tsmProvider) { return SNPPlatform(files: root) }
        if FieldlessTEE.isCSV(root) { return fieldless(.csv, logger) }
        if CCAPlatform.detect(files: root, tsmProvider: tsmProvider) { return CCAPlatform(files: root) }
        if FieldlessTEE.isSE(root) { return fieldless(.se, logger) }
        if let tcti {
            logger.warning(
                "using a TPM that is not bound to a TEE: its evidence proves less than a TEE's",
                metadata: ["tcti": "\(tcti)"])
            return TPMPlatform(tcti: tcti, akHandle: akHandle ?? TPMPlatform.defaultAKHandle)
        }
        let sample = try SampleTEE(environment: environment)
        logger.warning(
            "no TEE detected: using the sample TEE, whose evidence proves nothing",
            metadata: [
                "platform_root": "\(root.root)",
                "simulated_init_data_field": "\(sample.simulatedField != nil)",
            ])
        return sample
    }

    private static func fieldless(_ tee: TEEType, _ logger: Logger) -> any TEEPlatform {
        logger.warning(
            "\(tee.rawValue) has no init-data field: initdata binding succeeds as unsupported and is not checked by hardware"
        )
        return FieldlessTEE(tee: tee)
    }

    /// Attesters besides the primary TEE, as upstream detects them:
    /// `ENABLE_SAMPLE_DEVICE` (set to anything) adds the sample device;
    /// NVIDIA GPUs in confidential-computing mode add `nvidia`. kata's
    /// `nvidia` variant (its guest init exports KATA_ATTESTER_VARIANT=nvidia,
    /// which kata-agent passes on) says a GPU is expected: `nvidia` is then
    /// added whatever the look finds, so that GetAdditionalEvidence says why
    /// there is no GPU evidence instead of leaving it out.
    public static func additionalAttesters(environment: [String: String], logger: Logger) async -> [any Attester] {
        var attesters: [any Attester] = environment["ENABLE_SAMPLE_DEVICE"] != nil ? [SampleDevice()] : []
        let expected = environment["KATA_ATTESTER_VARIANT"] == "nvidia"
        switch await NvidiaGPUs.probe() {
        case .ready(let gpus):
            logger.info("NVIDIA GPUs attest", metadata: ["gpus": "\(gpus.map(\.name).joined(separator: ", "))"])
            attesters.append(NvidiaGPUAttester())
        case .noLibrary(let reason) where !expected:
            logger.debug("no NVIDIA GPU attestation", metadata: ["reason": "\(reason)"])
        case .noLibrary(let reason), .unavailable(let reason):
            if expected {
                logger.warning(
                    "KATA_ATTESTER_VARIANT=nvidia, but no GPU can attest; GetAdditionalEvidence will say why",
                    metadata: ["reason": "\(reason)"])
                attesters.append(NvidiaGPUAttester())
            } else {
                logger.info("no NVIDIA GPU attestation", metadata: ["reason": "\(reason)"])
            }
        }
        return attesters
    }
}
