import AttestationFormats
import DataEncoding

/// Whether the agent attests the machine's NVIDIA GPUs (the `nvidia`
/// additional TEE), and if not, which of the causes it is and the fix.
public enum GPUDiagnosis {
    /// What GetAdditionalEvidence answered: its evidence, or its error.
    public enum Answer: Sendable {
        case evidence([UInt8])
        case refused(message: String)
    }

    /// `listed`: GetAdditionalTees names `nvidia`; `answer`: its evidence
    /// over `reportData` (nil when not listed); `deviceNodePresent`: the
    /// guest has /dev/nvidiactl (a GPU driver is loaded).
    public static func check(
        listed: Bool, answer: Answer?, reportData: [UInt8], deviceNodePresent: Bool
    ) -> DoctorCheck? {
        let name = "GPU"
        guard listed, let answer else {
            guard deviceNodePresent else { return nil }
            return .warn(
                name, "an NVIDIA GPU driver is loaded (/dev/nvidiactl), but the agent attests no GPU",
                fix:
                    "start the agent with kata's nvidia variant (KATA_ATTESTER_VARIANT=nvidia) to have it say why, and with the driver's libnvidia-ml.so.1 on its library path"
            )
        }
        switch answer {
        case .refused(let message):
            return .fail(name, message, fix: fix(for: NvidiaGPUCause(message: message)))
        case .evidence(let bytes):
            let devices: [NvidiaEvidence.Device]
            do {
                let json = try JSON(parsing: String(decoding: bytes, as: UTF8.self))
                guard let nvidia = json["nvidia"] else { throw ReportParseError("no nvidia member") }
                devices = try NvidiaEvidence.devices(nvidia)
            } catch {
                return .fail(
                    name, "the nvidia evidence does not parse as trustee's verifier reads it: \(error)",
                    fix: "report it with the output of aactl get-additional-evidence")
            }
            let nonce = NvidiaEvidence.nonce(reportData: reportData)
            let wrong = devices.filter { (try? NvidiaEvidence.requestNonce(report: $0.report)) != nonce }
            guard wrong.isEmpty, !devices.isEmpty else {
                return .fail(
                    name,
                    devices.isEmpty
                        ? "the nvidia evidence lists no GPU"
                        : "the reports of \(wrong.map(\.uuid).joined(separator: ", ")) are not for the nonce asked",
                    fix: fix(for: .failed))
            }
            let gpus = devices.map { "\($0.uuid) (\($0.architecture))" }.joined(separator: ", ")
            return .pass(name, "\(devices.count) GPU report(s) for the nonce asked: \(gpus)")
        }
    }

    static func fix(for cause: NvidiaGPUCause) -> String {
        switch cause {
        case .noLibrary:
            "give the agent NVIDIA's management library: the driver's libraries in the guest image, or kata's nvidia variant, whose library path reaches the GPU extension's /run/kata-extensions/gpu/usr/lib"
        case .noGPU:
            "pass the GPU through to the VM (kata: the pod asks for an nvidia.com/gpu resource) and load its driver"
        case .notCapable:
            "attest on a GPU with confidential computing (Hopper, Blackwell): older GPUs have none"
        case .confidentialComputingOff:
            "turn the GPU's confidential-computing mode on from the host before the VM starts (NVIDIA's nvidia_gpu_tools --set-cc-mode=on), then start a new VM"
        case .hung:
            "the GPU does not answer: look at the driver's messages (dmesg), reset the GPU or start a new VM"
        case .failed:
            "the GPU or its driver failed: the NVML error is in the message; check the driver's messages (dmesg) and that driver and firmware versions match"
        }
    }
}
