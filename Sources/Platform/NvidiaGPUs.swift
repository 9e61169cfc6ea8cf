import AttestationFormats
import CNVML
import DataEncoding
import NIOConcurrencyHelpers
import PlatformInterface

/// The `nvidia` additional attester: NVIDIA GPUs in confidential-computing
/// mode (Hopper, Blackwell) through NVIDIA's management library, which is
/// loaded at run time (Sources/CNVML), as upstream's attester reaches them
/// through NVIDIA's attestation SDK. Each GPU's report is requested with the
/// 32-byte nonce upstream derives from the report data (its first 32 bytes),
/// and comes with the GPU's attestation certificate chain.
///
/// Every NVML call runs on a thread of its own (BlockingCall): a GPU that
/// hangs costs that thread, and the caller gets DEADLINE_EXCEEDED at its
/// deadline (or after `limit` without one) and goes on; until the hung call
/// returns, later calls are refused at once instead of piling up threads.
public struct NvidiaGPUAttester: Attester {
    public let tee = TEEType.nvidia
    /// How long a call may wait for the GPUs when its caller set no deadline.
    let limit: Duration
    private let calls = Calls()

    public init(limit: Duration = .seconds(30)) {
        self.limit = limit
    }

    public func evidence(reportData: [UInt8]) async throws(PlatformError) -> [UInt8] {
        if let stuck = calls.stuck {
            throw NvidiaGPUs.failure(
                .deviceFailure, "\(stuck) has \(NvidiaGPUCause.hung.phrase) an earlier attestation report request yet")
        }
        let nonce = NvidiaEvidence.nonce(reportData: reportData)
        let calls = calls
        let call = calls.begin()
        let bound = CallerDeadline.bound(limit)
        let result = await BlockingCall.run(limit: bound.limit) {
            defer { calls.end(call) }
            return NvidiaGPUs.collect(nonce: nonce) { calls.step(call, $0) }
        }
        switch result {
        case .finished(.success(let devices)):
            return NvidiaEvidence.json(devices).serializedBytes()
        case .finished(.failure(let failure)):
            throw failure
        case .timedOut:
            let within = bound.byCaller ? "before the caller's deadline" : "within \(limit)"
            throw NvidiaGPUs.failure(
                .timedOut,
                "\(calls.abandon(call)) has \(NvidiaGPUCause.hung.phrase) the attestation report request \(within)")
        case .cancelled:
            throw NvidiaGPUs.failure(
                .timedOut,
                "\(calls.abandon(call)) has \(NvidiaGPUCause.hung.phrase) the attestation report request before the caller's deadline"
            )
        }
    }

    /// The collections under way, what each is asking, and those whose caller
    /// gave up while a GPU did not answer.
    private final class Calls: Sendable {
        private struct State {
            var next = 0
            var steps: [Int: String] = [:]
            var abandoned: Set<Int> = []
        }
        private let state = NIOLockedValueBox(State())

        func begin() -> Int {
            state.withLockedValue { state in
                state.next += 1
                state.steps[state.next] = "the GPUs"
                return state.next
            }
        }

        func step(_ call: Int, _ doing: String) { state.withLockedValue { $0.steps[call] = doing } }

        func end(_ call: Int) {
            state.withLockedValue { state in
                state.steps[call] = nil
                state.abandoned.remove(call)
            }
        }

        /// Marks `call` as given up on; returns what it was waiting for.
        func abandon(_ call: Int) -> String {
            state.withLockedValue { state in
                guard let step = state.steps[call] else { return "the GPUs" }
                state.abandoned.insert(call)
                return step
            }
        }

        /// What a call given up on is still waiting for, if any.
        var stuck: String? {
            state.withLockedValue { state in
                let steps = state.steps
                return state.abandoned.compactMap { steps[$0] }.first
            }
        }
    }
}

/// NVML's view of the machine's GPUs, and the failures of GPU attestation
/// with the causes `aactl doctor` tells apart.
public enum NvidiaGPUs {
    /// One GPU NVML lists.
    public struct GPU: Sendable, Equatable {
        public let index: UInt32
        public let uuid: String
        /// `HOPPER` or `BLACKWELL`, as trustee names them; nil for a GPU without confidential computing.
        public let architecture: String?

        public var name: String { "GPU \(index) (\(uuid))" }
    }

    /// A GPU that can attest: one of confidential computing's architectures.
    struct AttestableGPU {
        let gpu: GPU
        let architecture: String
    }

    /// What a look at NVML finds, at launch.
    public enum Probe: Sendable, Equatable {
        /// GPUs in confidential-computing mode that can attest.
        case ready([GPU])
        /// No NVIDIA driver library: the common case of a guest without GPUs.
        case noLibrary(PlatformError)
        /// The driver is there, but nothing can attest, and why (no GPU, CC off, NVML failed).
        case unavailable(PlatformError)
    }

    /// Lists the GPUs, within `limit` (a launch must not wait on a hung driver).
    public static func probe(limit: Duration = .seconds(2)) async -> Probe {
        do {
            try call(nil) { _, error in aa_nvml_load(error, 512) }
        } catch {
            return .noLibrary(error)
        }
        let listing = await BlockingCall.run(limit: limit) {
            withNVML { () throws(PlatformError) in try attestable().map(\.gpu) }
        }
        switch listing {
        case .finished(.success(let gpus)): return .ready(gpus)
        case .finished(.failure(let failure)): return .unavailable(failure)
        case .timedOut, .cancelled:
            return .unavailable(
                failure(.timedOut, "NVML has \(NvidiaGPUCause.hung.phrase) within \(limit) while listing the GPUs"))
        }
    }

    /// Every attestable GPU's report for `nonce` and its certificate chain;
    /// `step` is told which GPU is being asked.
    static func collect(nonce: [UInt8], step: (String) -> Void) -> Result<[NvidiaEvidence.Device], PlatformError> {
        withNVML { () throws(PlatformError) in
            var devices: [NvidiaEvidence.Device] = []
            for attestable in try attestable() {
                let gpu = attestable.gpu
                step(gpu.name)
                var report = [UInt8](repeating: 0, count: Int(AA_NVML_REPORT_CAPACITY))
                var reportSize = report.count
                try call(gpu) { code, error in
                    aa_nvml_attestation_report(gpu.index, nonce, &report, &reportSize, &code, error, 512)
                }
                var chain = [UInt8](repeating: 0, count: Int(AA_NVML_CERT_CHAIN_CAPACITY))
                var chainSize = chain.count
                try call(gpu) { code, error in
                    aa_nvml_certificate_chain(gpu.index, &chain, &chainSize, &code, error, 512)
                }
                report.removeSubrange(reportSize...)
                chain.removeSubrange(chainSize...)
                let asked: [UInt8]
                do { asked = try NvidiaEvidence.requestNonce(report: report) } catch {
                    throw failure(.deviceFailure, "\(gpu.name) answered a report that does not parse: \(error)")
                }
                guard asked == nonce else {
                    throw failure(
                        .deviceFailure,
                        "\(gpu.name) answered a report for the nonce \(Hex.encode(asked)), not for \(Hex.encode(nonce))"
                    )
                }
                devices.append(
                    NvidiaEvidence.Device(
                        architecture: attestable.architecture, uuid: gpu.uuid, report: report,
                        certificateChain: chain))
            }
            return devices
        }
    }

    /// The GPUs in confidential-computing mode, or why there are none.
    private static func attestable() throws(PlatformError) -> [AttestableGPU] {
        var count: UInt32 = 0
        try call(nil) { code, error in aa_nvml_device_count(&count, &code, error, 512) }
        guard count > 0 else { throw failure(.notProvisioned, NvidiaGPUCause.noGPU.phrase) }
        var gpus: [GPU] = []
        for index in 0..<count {
            var uuid = [CChar](repeating: 0, count: 96)
            var architecture: UInt32 = 0
            try call(nil) { code, error in
                aa_nvml_device_identity(index, &uuid, uuid.count, &architecture, &code, error, 512)
            }
            let name: String? =
                switch architecture {
                case UInt32(AA_NVML_ARCH_HOPPER): "HOPPER"
                case UInt32(AA_NVML_ARCH_BLACKWELL): "BLACKWELL"
                default: nil
                }
            let text = String(decoding: uuid.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            gpus.append(GPU(index: index, uuid: text, architecture: name))
        }
        let capable = gpus.compactMap { gpu in gpu.architecture.map { AttestableGPU(gpu: gpu, architecture: $0) } }
        guard !capable.isEmpty else {
            throw failure(
                .notProvisioned,
                "none of the \(count) GPUs NVML finds \(NvidiaGPUCause.notCapable.phrase) (Hopper or later): \(gpus.map(\.name).joined(separator: ", "))"
            )
        }
        var enabled: Int32 = 0
        try call(nil) { code, error in aa_nvml_cc_enabled(&enabled, &code, error, 512) }
        guard enabled != 0 else {
            throw failure(
                .notProvisioned,
                "\(NvidiaGPUCause.confidentialComputingOff.phrase) on \(capable.map(\.gpu.name).joined(separator: ", ")) (NVML's CC feature is disabled)"
            )
        }
        return capable
    }

    /// Initialises NVML around `body` (NVML counts its initialisations).
    private static func withNVML<T>(
        _ body: () throws(PlatformError) -> T
    ) -> Result<T, PlatformError> {
        do {
            try call(nil) { code, error in aa_nvml_init(&code, error, 512) }
        } catch {
            return .failure(error)
        }
        defer { aa_nvml_shutdown() }
        do { return .success(try body()) } catch { return .failure(error) }
    }

    /// One NVML call through the shim, its failure named after `gpu`.
    private static func call(
        _ gpu: GPU?, _ body: (inout Int32, UnsafeMutablePointer<CChar>) -> Int32
    ) throws(PlatformError) {
        var code: Int32 = 0
        let error = UnsafeMutablePointer<CChar>.allocate(capacity: 512)
        defer { error.deallocate() }
        error.initialize(repeating: 0, count: 512)
        let status = body(&code, error)
        let prefix = gpu.map { "\($0.name): " } ?? ""
        let reason = String(cString: error)
        switch UInt32(status) {
        case AA_NVML_OK.rawValue: return
        case AA_NVML_NO_LIBRARY.rawValue: throw failure(.notProvisioned, reason)
        case AA_NVML_TOO_LARGE.rawValue: throw failure(.deviceFailure, prefix + "answered " + reason)
        default: throw failure(.deviceFailure, prefix + reason)
        }
    }

    static func failure(_ kind: PlatformError.Kind, _ reason: String) -> PlatformError {
        PlatformError(kind, "nvidia: \(reason)")
    }
}
