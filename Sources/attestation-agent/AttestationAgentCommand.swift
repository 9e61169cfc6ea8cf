import AgentCore
import AgentService
import AttestationAgentAPI
import Logging
import NIOCore
import NIOPosix
import Platform
import PlatformInterface
import TTRPC
import TokenClients

@main
enum AttestationAgentMain {
    static func main() async { await AgentCommandLine.main() }
}

/// One run of the agent, as its command line asks (`AgentCommandLine`).
struct AttestationAgentCommand {
    static let defaultSocket = "unix:///run/confidential-containers/attestation-agent/attestation-agent.sock"

    var attestationSock: [String] = []
    var restrictedSock: [String] = []
    var configFile: String?
    var initdataDigest: String?
    var initdataToml: String?
    var logLevel: String?
    var awaitInitData = false
    var initDataRTMR = false
    var vsockAllow: [String] = []

    func validate() throws(AgentCommandLine.UsageError) {
        for method in vsockAllow where method != "all" && AttestationAgentMethod(rawValue: method) == nil {
            throw AgentCommandLine.UsageError(
                description:
                    "--vsock-allow: unknown method '\(method)'; expected one of \(AttestationAgentMethod.allCases.map(\.rawValue).joined(separator: ", ")) or all"
            )
        }
        if let logLevel, LogLevelFilter.level(logLevel) == nil {
            throw AgentCommandLine.UsageError(
                description: "--log-level: '\(logLevel)' holds none of \(LogLevelFilter.words)")
        }
        for (uri, _) in listeners {
            do { _ = try SocketURI(parsing: uri) } catch {
                throw AgentCommandLine.UsageError(description: "\(error)")
            }
        }
    }

    /// Every address to listen on, and whether it gets the host-facing allowlist.
    private var listeners: [(uri: String, restricted: Bool)] {
        let open = attestationSock.isEmpty && restrictedSock.isEmpty ? [Self.defaultSocket] : attestationSock
        return open.map { ($0, false) } + restrictedSock.map { ($0, true) }
    }

    func run() async throws {
        let environment = ProcessEnvironment.current()
        let root = PlatformRoot(environment: environment)
        let inputs = LaunchInputs(
            configFile: configFile, initDataTOMLPath: initdataToml,
            initDataDigestBase64: initdataDigest, environment: environment, root: root)
        let plan: LaunchPlan
        do {
            plan = try LaunchPlan(inputs)
        } catch {
            throw Failure("\(error.message)")
        }

        let (level, unreadableLevel) = LogLevelFilter.resolve(
            flag: logLevel, environment: environment, config: plan.config?.logLevel)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "attestation-agent")
        // The look for GPUs (loading NVIDIA's library, if there is one) needs
        // nothing of what follows: it runs beside the event loops' start and
        // the platform's detection, and is awaited when the agent is made.
        async let additionalAttesters = PlatformDetection.additionalAttesters(
            environment: environment, logger: logger)
        if let unreadableLevel { logger.warning("\(unreadableLevel)") }
        if !ShutdownSignal.armed {
            logger.warning("SIGTERM and SIGINT could not be caught: a signal stops the agent without draining")
        }

        // The agent's one event-loop group: the listeners and the requests to
        // the KBS and to platform services run on it; it is shut down before
        // the agent exits, so that no channel is torn down as the process ends.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let platform: any TEEPlatform
        do {
            platform = try PlatformDetection.detect(root: root, environment: environment, group: group, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw Failure("\(error)")
        }
        if initDataRTMR && platform.tee != .tdx {
            logger.warning("--initdata-rtmr applies to TDX only: ignored on \(platform.tee.rawValue)")
        }
        let agent = AttestationAgent(
            platform: platform,
            additionalAttesters: await additionalAttesters,
            tokenProviders: TokenProviders([
                "kbs": KBSTokenProvider(group: group), "coco_as": CoCoASTokenProvider(group: group),
            ]),
            awaitsInitData: awaitInitData, initDataInEventLog: initDataRTMR && platform.tee == .tdx,
            eventLogLocation: EventLogLocation(root: root, environment: environment), logger: logger)
        do {
            try await plan.apply(to: agent)
        } catch {
            logger.error("launch-time initdata check failed", metadata: ["reason": "\(error.message)"])
            try? await group.shutdownGracefully()
            throw Failure("initdata check failed: \(error.message)")
        }

        var services = TTRPCServiceSet()
        AgentServiceHandlers.register(agent: agent, in: &services, logger: logger)
        let server = TTRPCServer(services: services, group: group, logger: logger)
        let hostFacingFilter = hostFacingMethodFilter(logger: logger)
        do {
            for (text, restricted) in listeners {
                let address = try SocketURI(parsing: text)
                var filter = TTRPCMethodFilter.allowAll
                if case .vsock = address { filter = hostFacingFilter }
                if restricted { filter = hostFacingFilter }
                try await server.listen(TTRPCListenerConfig(address: address, filter: filter))
            }
        } catch {
            await server.shutdown(gracePeriod: .zero)
            try? await group.shutdownGracefully()
            throw Failure("\(error)")
        }

        let status = agent.status
        logger.info(
            "attestation agent ready",
            metadata: [
                "tee": "\(platform.tee.rawValue)", "state": "\(status.state.rawValue)",
                "binding": "\(status.binding.rawValue)",
                "config": "\(status.configSource.rawValue)", "log_level": "\(level)",
            ])
        SystemdNotifier.notify("READY=1", environment: environment, logger: logger)

        let signal = await ShutdownSignal.wait()
        logger.info(
            "stopping: letting calls in flight finish",
            metadata: ["signal": "\(signal)", "calls": "\(server.callsInFlight)"])
        await server.shutdown()
        try? await group.shutdownGracefully()
        logger.info("stopped")
    }

    /// The allowlist of vsock and restricted listeners, widened only by --vsock-allow.
    private func hostFacingMethodFilter(logger: Logger) -> TTRPCMethodFilter {
        if vsockAllow.contains("all") {
            logger.warning("vsock listeners allow every method: the host can request evidence and tokens as this guest")
            return .allowAll
        }
        var allowed = Set(AttestationAgentMethod.hostSafe.map(\.rawValue))
        for method in vsockAllow where !allowed.contains(method) {
            logger.warning("vsock listeners allow \(method): the untrusted host can call it")
            allowed.insert(method)
        }
        return TTRPCMethodFilter(allowedMethods: allowed)
    }
}

/// A launch failure: printed as one line on stderr, exit status 1.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
