import AttestationAgentAPI

/// What the agent's GetStatus says about its readiness to attest.
public enum AgentDiagnosis {
    /// `status` is the agent's answer, or why there is none.
    public static func check(socket: String, status answer: Result<GetStatusResponse, DoctorFailure>) -> [DoctorCheck] {
        let status: GetStatusResponse
        switch answer {
        case .failure(let failure):
            return [
                .fail(
                    "agent", "no answer on \(socket): \(failure.description)",
                    fix:
                        "start the agent (kata-agent launches it with --attestation_sock \(socket)), or point --socket at the one that runs"
                )
            ]
        case .success(let answer): status = answer
        }
        let seen =
            "\(status.state) on \(socket), TEE \(status.tee), binding \(status.binding), configuration from \(status.configSource)"
        var checks: [DoctorCheck]
        switch status.state {
        case "Configured":
            checks = [.pass("agent", seen)]
        case "InitDataVerified":
            checks = [
                .warn(
                    "agent", seen + ": no KBS configured, so GetToken fails",
                    fix:
                        "give the agent an aa.toml with [token_configs.kbs] url: in initdata's data.\"aa.toml\", with -c FILE, or with aactl update-configuration"
                )
            ]
        case "Booting":
            checks = [
                .fail(
                    "agent", seen + ": waiting for BindInitData before it attests",
                    fix:
                        "the launcher must bind initdata: kata passes --initdata-toml; a launcher of its own calls aactl bind-init-data --digest HEX with the document's digest"
                )
            ]
        case "Rejected":
            checks = [
                .fail(
                    "agent",
                    seen
                        + ": the initdata digest \(status.initDataDigest) does not match what the hardware field or PCR 8 holds"
                        + (status.initDataField.isEmpty ? "" : " (\(status.initDataField))"),
                    fix: ["tpm", "az-snp-vtpm", "az-tdx-vtpm"].contains(status.tee)
                        ? "PCR 8 held another value before the agent bound this initdata: the boot chain's (GRUB measures its command line into PCR 8) or an earlier document's; boot without measurements into PCR 8 before the agent, or give a restarted agent the initdata it bound first, in a new VM"
                        : "the host launched the VM with another initdata: compute the value with aactl initdata digest FILE --tee \(status.tee) and set it in the VM's configuration (kata: the pod's cc_init_data annotation), then start a new VM"
                )
            ]
        default:
            checks = [
                .fail(
                    "agent", seen, fix: "this aactl does not know the state \(status.state): use the agent's own aactl")
            ]
        }
        if status.binding == "unsupported" {
            checks.append(
                .warn(
                    "initdata binding",
                    "\(status.tee) has no init-data field: nothing in the hardware vouches for initdata",
                    fix: "run on a TEE with one (TDX, SNP, CCA, a vTPM) where initdata must be trusted"))
        }
        if status.binding == "rtmr3" {
            checks.append(
                .warn(
                    "initdata anchor",
                    "RTMR3: MRCONFIGID is zero, and the event log opens with the InitData event of digest \(status.initDataDigest) (--initdata-rtmr); trustee does not check that itself",
                    fix:
                        "make the KBS policy require the first AAEL event on RTMR3 to be the one aactl initdata rtmr-event FILE prints for the expected document"
                ))
        }
        if status.binding == "unbound" {
            checks.append(
                .warn(
                    "initdata binding",
                    "no initdata was given and PCR 8 already held a value the agent did not put there: nothing is bound, and initdata cannot be bound in this boot",
                    fix:
                        "if pods need initdata here, boot the guest without measurements into PCR 8 before the agent (a direct kernel boot, as kata's, or GRUB without its tpm module)"
                ))
        }
        if status.tee == "sample" {
            checks.append(
                .warn(
                    "TEE", "the agent found no TEE and uses the sample TEE, whose evidence proves nothing",
                    fix:
                        "run in a confidential VM; if this is one, run aactl doctor --tee tdx|snp|cca|tpm to see which device or kernel interface is missing"
                ))
        }
        return checks
    }
}

/// Why an observation could not be made (a refused connection, an error answer).
public struct DoctorFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
