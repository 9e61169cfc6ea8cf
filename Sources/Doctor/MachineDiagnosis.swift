/// The device nodes and kernel interfaces the agent's TEE needs, looked up
/// under a root (the agent's `AA_PLATFORM_ROOT`), with the kernel release
/// that brings each missing one. The paths are the agent's own (a test in
/// PlatformTests keeps them equal to `Sources/Platform`'s).
public enum MachineDiagnosis {
    public static let configfsTSM = "/sys/kernel/config/tsm/report"
    public static let tdxDevice = "/dev/tdx_guest"
    public static let tdxMeasurements = "/sys/devices/virtual/misc/tdx_guest/measurements"
    public static let ccel = "/sys/firmware/acpi/tables/data/CCEL"
    public static let snpDevice = "/dev/sev-guest"
    public static let tpmDevices = ["/dev/tpmrm0", "/dev/tpm0"]

    /// `exists` answers for a path under the root; `kernel` is the running
    /// release, when known; `agentFoundIt` when the agent runs on this TEE
    /// (so a TPM without a device node is one it reaches by `AA_TPM_TCTI`).
    public static func check(
        tee: String, kernel: String?, agentFoundIt: Bool = false, exists: (String) -> Bool
    ) -> [DoctorCheck] {
        let running = kernel.map { " (this kernel: \($0))" } ?? ""
        switch tee {
        case "tdx":
            var checks: [DoctorCheck] = [
                exists(configfsTSM)
                    ? .pass("TDX quotes", "configfs-tsm at \(configfsTSM)")
                    : .fail(
                        "TDX quotes", "no configfs-tsm at \(configfsTSM)\(running)",
                        fix:
                            "boot a kernel of 6.7 or later with CONFIG_TSM_REPORTS and the tdx_guest driver, and mount configfs at /sys/kernel/config"
                    ),
                exists(tdxMeasurements + "/mrconfigid") || exists(tdxDevice)
                    ? .pass(
                        "TDX MRCONFIGID",
                        exists(tdxMeasurements + "/mrconfigid") ? tdxMeasurements + "/mrconfigid" : tdxDevice)
                    : .fail(
                        "TDX MRCONFIGID", "neither \(tdxMeasurements)/mrconfigid nor \(tdxDevice)\(running)",
                        fix: "load the tdx_guest driver (kernel 6.2 or later) so that initdata can be checked"),
            ]
            checks.append(
                exists(tdxMeasurements + "/rtmr2:sha384")
                    ? .pass("TDX RTMRs", "\(tdxMeasurements)/rtmr*:sha384")
                    : .warn(
                        "TDX RTMRs",
                        "no \(tdxMeasurements)/rtmr2:sha384\(running): ExtendRuntimeMeasurement answers NOT_SUPPORTED",
                        fix: "boot a kernel of 6.16 or later for runtime measurements into RTMRs"))
            checks.append(
                exists(ccel)
                    ? .pass("TDX event log", "CCEL at \(ccel)")
                    : .warn(
                        "TDX event log", "no CCEL table at \(ccel): the event log holds only the agent's entries",
                        fix: "use firmware (TDVF/OVMF) that publishes the CCEL ACPI table, so that RTMR 0-2 replay"))
            return checks
        case "snp":
            if exists(configfsTSM) { return [.pass("SNP reports", "configfs-tsm at \(configfsTSM)")] }
            if exists(snpDevice) { return [.pass("SNP reports", "\(snpDevice) (SNP_GET_REPORT)")] }
            return [
                .fail(
                    "SNP reports", "neither configfs-tsm at \(configfsTSM) nor \(snpDevice)\(running)",
                    fix: "load the sev-guest driver (kernel 5.19 or later; configfs-tsm from 6.7)")
            ]
        case "cca":
            return [
                exists(configfsTSM)
                    ? .pass("CCA tokens", "configfs-tsm at \(configfsTSM)")
                    : .fail(
                        "CCA tokens", "no configfs-tsm at \(configfsTSM)\(running)",
                        fix: "boot a kernel of 6.13 or later with the arm-cca-guest driver and CONFIG_TSM_REPORTS")
            ]
        case "tpm", "az-snp-vtpm", "az-tdx-vtpm":
            if exists(tpmDevices[0]) { return [.pass("TPM", tpmDevices[0])] }
            if exists(tpmDevices[1]) {
                return [
                    .warn(
                        "TPM", "\(tpmDevices[1]) without the kernel's resource manager \(tpmDevices[0])",
                        fix:
                            "enable the TPM resource manager (CONFIG_TCG_TPM, tpmrm0) so that the agent can share the TPM"
                    )
                ]
            }
            let missing = "no \(tpmDevices.joined(separator: " or "))\(running)"
            if agentFoundIt {
                return [
                    .warn(
                        "TPM", missing + ": the agent reaches its TPM another way (AA_TPM_TCTI)",
                        fix: "nothing, if AA_TPM_TCTI is meant; else load the TPM's driver (tpm_tis, tpm_crb)")
                ]
            }
            return [
                .fail(
                    "TPM", missing,
                    fix: "give the VM a (v)TPM and load its driver (tpm_tis, tpm_crb), or set AA_TPM_TCTI for the agent"
                )
            ]
        default:
            return []
        }
    }
}
