import ArgumentParser
import AttestationAgentAPI
import AttestationFormats
import Configuration
import DataEncoding
import Doctor
import HTTPClient
import KBSClient
import LocalFiles
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import RPCStatus

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `aactl doctor`: gathers what it can see (the agent's answers, the files
/// kata left) and prints the checklist `Doctor` makes of it.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Checks why attestation would fail here, and says what to do about it.",
        discussion:
            "One line per check: PASS, WARN or FAIL, what was seen and, for a warning or a failure, the fix. Exit status 0 when nothing fails, 1 otherwise."
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("The initdata document kata delivered.", valueName: "PATH"))
    var initdata = InitDataDiagnosis.defaultPath

    @Option(help: ArgumentHelp("The TEE whose interfaces to check when the agent does not answer.", valueName: "TEE"))
    var tee: String?

    @Option(
        help: ArgumentHelp(
            "Where the machine's files are (the agent's AA_PLATFORM_ROOT, which is also the default).",
            valueName: "PATH"))
    var root = getenv("AA_PLATFORM_ROOT").map { String(cString: $0) } ?? ""

    @Option(
        name: [.customShort("c"), .customLong("config")],
        help: ArgumentHelp(
            "A configuration file whose KBS to check (default: the KBS the agent holds, else initdata's aa.toml).",
            valueName: "PATH")
    )
    var config: String?

    @Flag(help: "Also ask the agent for a token (GetToken kbs): the whole way a pod's request goes.")
    var token = false

    @Flag(help: "Print the checklist as JSON.")
    var json = false

    /// How long the KBS may take to answer its challenge.
    static let kbsLimit = TimeAmount.seconds(10)

    func run() async throws {
        let status = await connection.attempt(AttestationAgentMethods.getStatus, EmptyMessage())
            .mapError { DoctorFailure($0.message) }
        var checks = AgentDiagnosis.check(socket: connection.socket, status: status)
        let agentTEE = (try? status.get())?.tee
        if let tee = agentTEE ?? tee {
            let kernel = (try? LocalFile.readText(root + "/proc/sys/kernel/osrelease"))?.split(separator: "\n").first
            checks += MachineDiagnosis.check(tee: tee, kernel: kernel.map(String.init), agentFoundIt: agentTEE != nil) {
                access(root + $0, F_OK) == 0
            }
        } else {
            checks.append(
                .warn(
                    "TEE interfaces", "not checked: the agent did not say which TEE this is",
                    fix: "pass --tee tdx|snp|cca|tpm|az-snp-vtpm|az-tdx-vtpm"))
        }
        // A Rejected agent still answers locally: its evidence shows both values.
        if let status = try? status.get(), ["InitDataVerified", "Configured", "Rejected"].contains(status.state) {
            checks += await evidenceChecks(status)
        }
        if (try? status.get()) != nil, let gpu = await gpuCheck() { checks.append(gpu) }
        let logFile =
            getenv(EventLogDiagnosis.overrideVariable).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
            ?? root + EventLogDiagnosis.defaultLogFile
        checks += EventLogDiagnosis.check(
            logFile: logFile, log: Self.bytesIfPresent(logFile),
            writeAheadRecordPresent: access(EventLogDiagnosis.writeAheadRecord(beside: logFile), F_OK) == 0)
        let document = Self.readIfPresent(initdata)
        checks += InitDataDiagnosis.check(path: initdata, text: document, status: try? status.get())
        checks += await kbsChecks(
            initdata: try? document.get(), status: try? status.get(), tee: agentTEE ?? tee ?? "sample")
        if token, (try? status.get()) != nil { checks.append(await tokenCheck()) }
        let report = DoctorReport(checks)
        if json { printJSON(report.json) } else { print(report.text) }
        if report.failed { throw ExitCode(1) }
    }

    /// A fresh GetEvidence over random report data, checked as trustee would.
    func evidenceChecks(_ status: GetStatusResponse) async -> [DoctorCheck] {
        var generator = SystemRandomNumberGenerator()
        let reportData = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        switch await connection.attempt(
            AttestationAgentMethods.getEvidence, GetEvidenceRequest(runtimeData: reportData))
        {
        case .failure(let failure):
            if let key = EvidenceDiagnosis.attestationKeyCheck(
                tee: status.tee, refusal: failure.message, notProvisioned: failure.code == .failedPrecondition)
            {
                return [key]
            }
            return [
                .fail(
                    "evidence", "GetEvidence failed: \(failure.message)",
                    fix: "the agent cannot reach its TEE: see the TEE interface checks above and the agent's log")
            ]
        case .success(let response):
            let key = EvidenceDiagnosis.attestationKeyCheck(tee: status.tee, refusal: nil, notProvisioned: false)
            return (key.map { [$0] } ?? [])
                + EvidenceDiagnosis.check(
                    tee: status.tee, evidence: response.evidence, reportData: reportData,
                    digest: Hex.decode(status.initDataDigest) ?? [], anchoredInRTMR3: status.binding == "rtmr3")
        }
    }

    /// GetAdditionalTees, and GetAdditionalEvidence over random report data
    /// when it names `nvidia`.
    func gpuCheck() async -> DoctorCheck? {
        let tees = await connection.attempt(AttestationAgentMethods.getAdditionalTees, EmptyMessage())
        let listed = (try? tees.get())?.additionalTees.contains("nvidia") ?? false
        var generator = SystemRandomNumberGenerator()
        let reportData = (0..<48).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var answer: GPUDiagnosis.Answer?
        if listed {
            switch await connection.attempt(
                AttestationAgentMethods.getAdditionalEvidence, GetEvidenceRequest(runtimeData: reportData))
            {
            case .success(let response): answer = .evidence(response.evidence)
            case .failure(let failure): answer = .refused(message: failure.message)
            }
        }
        return GPUDiagnosis.check(
            listed: listed, answer: answer, reportData: reportData,
            deviceNodePresent: access(root + "/dev/nvidiactl", F_OK) == 0)
    }

    /// GetToken through the agent, timed.
    func tokenCheck() async -> DoctorCheck {
        let started = NIODeadline.now()
        let answer = await connection.attempt(AttestationAgentMethods.getToken, GetTokenRequest(tokenType: "kbs"))
        let elapsed = Int((NIODeadline.now() - started).nanoseconds / 1_000_000)
        return KBSDiagnosis.tokenCheck(milliseconds: answer.map { _ in elapsed }.mapError { DoctorFailure($0.message) })
    }

    /// The KBS of `--config`, else the one the running agent holds, else
    /// initdata's aa.toml: its name, a TCP connection, then its challenge;
    /// each step only if the one before passed.
    func kbsChecks(initdata: String?, status: GetStatusResponse?, tee: String) async -> [DoctorCheck] {
        let (settings, problem) = kbsSettings(initdata: initdata, status: status)
        guard let settings else { return problem.map { [$0] } ?? [] }
        var base = settings.url
        while base.hasSuffix("/") { base.removeLast() }
        guard let service = ServiceURL(base) else {
            return [.fail("KBS", "'\(base)' is not an http:// or https:// URL", fix: "fix [token_configs.kbs] url")]
        }
        let address = KBSDiagnosis.addressCheck(
            host: service.host, addresses: Self.resolve(service.host, port: service.port))
        guard address.outcome == .pass else { return [address] }
        let connection = KBSDiagnosis.connectionCheck(
            host: service.host, port: service.port, milliseconds: await Self.connect(service))
        guard connection.outcome == .pass else { return [address, connection] }
        let outcome = await Self.askForChallenge(settings, tee: tee)
        return [
            address, connection,
            KBSDiagnosis.check(url: base, pinnedCertificate: settings.cert != nil, outcome: outcome),
        ]
    }

    /// The addresses `host` resolves to, as the system resolver answers.
    static func resolve(_ host: String, port: Int) -> Result<[String], DoctorFailure> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else { return .failure(DoctorFailure(String(cString: gai_strerror(status)))) }
        defer { freeaddrinfo(list) }
        var found: [String] = []
        var node = list
        while let entry = node {
            var name = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let named = getnameinfo(
                entry.pointee.ai_addr, entry.pointee.ai_addrlen, &name, socklen_t(name.count), nil, 0, NI_NUMERICHOST)
            if named == 0 {
                let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !found.contains(text) { found.append(text) }
            }
            node = entry.pointee.ai_next
        }
        return .success(found)
    }

    /// How long a TCP connection to the service takes.
    static func connect(_ service: ServiceURL) async -> Result<Int, DoctorFailure> {
        let started = NIODeadline.now()
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(kbsLimit).connect(host: service.host, port: service.port).get()
            let elapsed = Int((NIODeadline.now() - started).nanoseconds / 1_000_000)
            try? await channel.close()
            return .success(elapsed)
        } catch {
            return .failure(DoctorFailure(ConnectionProblem(error, service: service).description))
        }
    }

    /// `[token_configs.kbs]` of `--config`, else what the agent's GetStatus
    /// says it holds, else of initdata's aa.toml, or the check that says why
    /// there is none. Read by the agent's own parser: what it refuses, doctor refuses.
    func kbsSettings(initdata: String?, status: GetStatusResponse?) -> (AgentConfig.KBS?, DoctorCheck?) {
        if config == nil, let status, !status.kbsURL.isEmpty {
            return (AgentConfig.KBS(url: status.kbsURL, cert: status.kbsCert.isEmpty ? nil : status.kbsCert), nil)
        }
        let source: String
        let parsed: Result<AgentConfig, StatusError>
        if let config {
            source = config
            let text: String
            do { text = try LocalFile.readText(config) } catch {
                return (
                    nil,
                    .fail(
                        "KBS", "cannot read \(config): \(error.reason)", fix: "pass the file the agent was started with"
                    )
                )
            }
            parsed = Result { () throws(StatusError) in
                try AgentConfig(text: text, format: AgentConfig.Format(path: config), origin: config)
            }
        } else if let initdata, let document = try? InitDataDocument(text: initdata), let toml = document.agentConfig {
            source = "initdata's aa.toml"
            parsed = Result { () throws(StatusError) in
                try AgentConfig(text: toml, format: .toml, origin: "initdata's aa.toml")
            }
        } else {
            return (
                nil,
                .warn(
                    "KBS", "no configuration found (the agent holds no KBS, no aa.toml in initdata, no -c FILE)",
                    fix:
                        "give the agent an aa.toml with [token_configs.kbs] url, or pass --config FILE to check another"
                )
            )
        }
        switch parsed {
        case .failure(let error):
            return (nil, .fail("KBS", error.message, fix: "fix the configuration: the agent refuses it too"))
        case .success(let found):
            guard let kbs = found.kbs else {
                return (
                    nil,
                    .warn(
                        "KBS", "\(source) has no [token_configs.kbs]",
                        fix: "add [token_configs.kbs] url = \"https://...\" so that GetToken can reach a KBS")
                )
            }
            return (kbs, nil)
        }
    }

    /// `POST /kbs/v0/auth` through the agent's KBS client, timed.
    static func askForChallenge(_ kbs: AgentConfig.KBS, tee: String) async -> KBSDiagnosis.ChallengeOutcome {
        let started = NIODeadline.now()
        do {
            let session = try KBSSession(
                kbs: kbs, callerLimit: .nanoseconds(kbsLimit.nanoseconds), group: MultiThreadedEventLoopGroup.singleton)
            _ = try await session.requestChallenge(tee: tee)
            return .challenged(milliseconds: Int((NIODeadline.now() - started).nanoseconds / 1_000_000))
        } catch {
            switch (error.cause as? ConnectionProblem)?.kind {
            case .tls?: return .tls(error.message)
            case .timedOut?: return .timedOut(error.message)
            case .unresolved?, .unreachable?, .closedEarly?: return .unreachable(error.message)
            case .tooLarge?, nil: return .notAChallenge(error.message)
            }
        }
    }

    /// The file's bytes, nil when there is no file.
    static func bytesIfPresent(_ path: String) -> Result<[UInt8]?, DoctorFailure> {
        guard access(path, F_OK) == 0 else { return .success(nil) }
        do { return .success(try LocalFile.read(path)) } catch { return .failure(DoctorFailure(error.reason)) }
    }

    /// The file's text, nil when there is no file.
    static func readIfPresent(_ path: String) -> Result<String?, DoctorFailure> {
        guard access(path, F_OK) == 0 else { return .success(nil) }
        do { return .success(try LocalFile.readText(path)) } catch { return .failure(DoctorFailure(error.reason)) }
    }
}
