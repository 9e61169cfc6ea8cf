import AttestationAgentAPI
import Foundation
import ProtobufCSupport
import TTRPC
import TestSupport

/// The real `attestation-agent` binary, launched in a temporary folder.
/// It is ready when it sends `READY=1` to the test's NOTIFY_SOCKET (every
/// listener up), as systemd and kata see it; a test that sets NOTIFY_SOCKET
/// itself gets the socket polled instead.
final class AgentProcess: @unchecked Sendable {
    let directory: String
    let socketPath: String
    private let child: ChildProcess
    private let readiness: ReadinessNotification?
    private var ready = false

    /// The agent's process, for its ID and how it ended.
    var process: Process { child.process }

    /// Starts the agent; `arguments` come after a `--attestation_sock` for
    /// `socketPath` unless `listeners` (given the agent's folder) replaces it.
    /// `setUp` may lay out files in the agent's folder (its platform root is `root/` there) before it starts.
    /// `launcher` is a command that execs the agent (its path and arguments follow), such as one that
    /// gives it a mount namespace of its own.
    init(
        _ arguments: [String] = [], environment: [String: String] = [:], setUp: ((String) throws -> Void)? = nil,
        listeners: ((String) -> [String])? = nil, launcher: [String] = []
    ) throws {
        directory = NSTemporaryDirectory() + "aa-it-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socketPath = directory + "/aa.sock"
        try setUp?(directory)
        let agentArguments = (listeners?(directory) ?? ["--attestation_sock", "unix://" + socketPath]) + arguments
        var env = ["AA_PLATFORM_ROOT": directory + "/root"]
        if environment["NOTIFY_SOCKET"] == nil {
            let notification = try ReadinessNotification(path: directory + "/notify.sock")
            env["NOTIFY_SOCKET"] = notification.path
            readiness = notification
        } else {
            readiness = nil
        }
        env.merge(environment) { $1 }
        child = try ChildProcess(
            launcher + [PackagePaths.binaries + "/attestation-agent"] + agentArguments, environment: env,
            stderrPath: directory + "/stderr.log", stopSignal: SIGINT)
    }

    /// The agent as kata-agent starts it with initdata: `document` written to
    /// `initdata.toml` in the agent's folder, `--initdata-toml` naming it.
    convenience init(
        initdata document: String, environment: [String: String] = [:], setUp: ((String) throws -> Void)? = nil
    ) throws {
        try self.init(
            environment: environment,
            setUp: { directory in
                try document.write(toFile: directory + "/initdata.toml", atomically: true, encoding: .utf8)
                try setUp?(directory)
            },
            listeners: { directory in
                ["--attestation_sock", "unix://\(directory)/aa.sock", "--initdata-toml", directory + "/initdata.toml"]
            })
    }

    deinit {
        let endedByItself = !child.isRunning
        // SIGINT: the agent drains and exits, so a sanitizer checks it at exit.
        child.stop()
        // An agent that died (a signal, a trap, a sanitizer's report) shows a
        // test only a closed connection: what it said goes to the test's output.
        let said = stderr
        let died = endedByItself && process.terminationReason == .uncaughtSignal
        if died || ["Sanitizer", "Fatal error"].contains(where: { said.contains($0) }) {
            FileHandle.standardError.write(Data("the agent in \(directory) reported:\n\(said)\n".utf8))
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    var stderr: String { child.stderr }

    /// Waits until the agent answers on its socket, or it exits.
    func waitUntilListening(seconds: Double = 20) async throws -> TTRPCClient {
        try await waitUntilListeningAt(socketPath, seconds: seconds)
    }

    /// Waits until the agent is ready (READY=1, or its socket answers when
    /// the test owns NOTIFY_SOCKET) and connects to the Unix socket `path`.
    func waitUntilListeningAt(_ path: String, seconds: Double = 20) async throws -> TTRPCClient {
        if let readiness, !ready {
            let message = await readiness.message(seconds: seconds) { [child] in child.isRunning }
            guard message == "READY=1" else {
                if !child.isRunning { throw AgentExited(status: process.terminationStatus, stderr: stderr) }
                throw AgentExited(
                    status: -1, stderr: "no READY=1 after \(seconds) s (got \(message ?? "nothing")): " + stderr)
            }
            ready = true
            return try await TTRPCClient.connect(to: .unix(path: path))
        }
        let giveUp = Date().addingTimeInterval(seconds * TestBudget.timeScale)
        while Date() < giveUp {
            if !child.isRunning { throw AgentExited(status: process.terminationStatus, stderr: stderr) }
            if FileManager.default.fileExists(atPath: path),
                let client = try? await TTRPCClient.connect(to: .unix(path: path))
            {
                return client
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw AgentExited(status: -1, stderr: "not listening on \(path) after \(seconds) s: " + stderr)
    }

    func signal(_ number: Int32) { child.signal(number) }

    /// Waits for the process to end and returns its exit status.
    func waitForExit(seconds: Double = 20) async -> Int32 { await child.waitForExit(seconds: seconds) }

    struct AgentExited: Error, CustomStringConvertible {
        let status: Int32
        let stderr: String
        var description: String { "the agent exited with \(status): \(stderr)" }
    }
}

/// Typed calls to the agent's service.
extension TTRPCClient {
    func call<Response: ProtobufCodable>(
        _ method: AttestationAgentMethod, _ request: some ProtobufCodable,
        as: Response.Type = Response.self, timeout: Double? = 10
    ) async throws -> Response {
        let payload = try await call(
            service: AttestationAgentMethod.service, method: method.rawValue,
            payload: request.protobufBytes(), timeout: timeout.map { .nanoseconds(Int64($0 * 1e9)) })
        return try Response(protobufBytes: payload)
    }

    func status() async throws -> GetStatusResponse {
        try await call(.getStatus, EmptyMessage())
    }

    func bind(_ digest: [UInt8]) async throws {
        let _: EmptyMessage = try await call(.bindInitData, InitDataDigestRequest(digest: digest))
    }

    func update(_ config: String) async throws {
        let _: EmptyMessage = try await call(.updateConfiguration, UpdateConfigurationRequest(config: config))
    }

    func token(_ type: String) async throws -> [UInt8] {
        let response: GetTokenResponse = try await call(.getToken, GetTokenRequest(tokenType: type))
        return response.token
    }
}
