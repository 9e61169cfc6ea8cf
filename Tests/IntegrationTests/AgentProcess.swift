import AttestationAgentAPI
import Foundation
import ProtobufCSupport
import TTRPC

/// The real `attestation-agent` binary, launched in a temporary folder.
final class AgentProcess: @unchecked Sendable {
    /// Where `swift build` put the binaries (Scripts/test.sh sets AA_BIN_DIR).
    static let binDir: String = {
        ProcessInfo.processInfo.environment["AA_BIN_DIR"] ?? packageRoot + "/.build/debug"
    }()

    static let packageRoot: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    static let fixtures = packageRoot + "/Tests/Fixtures"

    /// The sanitizer the binaries were built with (Scripts/sanitize.sh sets
    /// AA_SANITIZER), nil for a plain build. Sanitized binaries are several
    /// times slower and their memory is the sanitizer's: time budgets
    /// stretch and RSS bounds are reported, not checked.
    static let sanitizer: String? = ProcessInfo.processInfo.environment["AA_SANITIZER"]

    /// The sanitizers' settings (Scripts/sanitize.sh), passed on to every
    /// process a test launches so that a report there halts it too.
    static let sanitizerOptions: [String: String] = ProcessInfo.processInfo.environment.filter {
        ["ASAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"].contains($0.key)
    }

    /// How much longer than a plain build a sanitized one may take: every
    /// wait below is stretched by it.
    static let timeScale: Double = sanitizer == nil ? 1 : 5

    let directory: String
    let socketPath: String
    let process = Process()
    private let stderrPath: String

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
        stderrPath = directory + "/stderr.log"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        try setUp?(directory)
        let agentArguments = (listeners?(directory) ?? ["--attestation_sock", "unix://" + socketPath]) + arguments
        let command = launcher + [Self.binDir + "/attestation-agent"] + agentArguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var env = Self.sanitizerOptions.merging(["PATH": "/usr/bin:/bin", "AA_PLATFORM_ROOT": directory + "/root"]) {
            $1
        }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
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
        let endedByItself = !process.isRunning
        if process.isRunning {
            process.interrupt()
            process.waitUntilExit()
        }
        // An agent that died (a signal, a trap, a sanitizer's report) shows a
        // test only a closed connection: what it said goes to the test's output.
        let said = stderr
        let died = endedByItself && process.terminationReason == .uncaughtSignal
        if died || ["Sanitizer", "Fatal error"].contains(where: { said.contains($0) }) {
            FileHandle.standardError.write(Data("the agent in \(directory) reported:\n\(said)\n".utf8))
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until the agent answers on its socket, or it exits.
    func waitUntilListening(seconds: Double = 20) async throws -> TTRPCClient {
        try await waitUntilListeningAt(socketPath, seconds: seconds)
    }

    /// Waits until the agent answers on the Unix socket `path`, or it exits.
    func waitUntilListeningAt(_ path: String, seconds: Double = 20) async throws -> TTRPCClient {
        let giveUp = Date().addingTimeInterval(seconds * Self.timeScale)
        while Date() < giveUp {
            if !process.isRunning { throw AgentExited(status: process.terminationStatus, stderr: stderr) }
            if FileManager.default.fileExists(atPath: path),
                let client = try? await TTRPCClient.connect(to: .unix(path: path))
            {
                return client
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw AgentExited(status: -1, stderr: "not listening on \(path) after \(seconds) s: " + stderr)
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to end and returns its exit status.
    func waitForExit(seconds: Double = 20) async -> Int32 {
        let giveUp = Date().addingTimeInterval(seconds * Self.timeScale)
        while process.isRunning && Date() < giveUp { try? await Task.sleep(nanoseconds: 20_000_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

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

/// Runs a command-line binary and captures its output.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String

    /// Runs one of the project's binaries.
    static func run(
        _ binary: String, _ arguments: [String], environment: [String: String] = [:]
    ) throws -> CommandResult {
        try run(path: AgentProcess.binDir + "/" + binary, arguments, environment: environment)
    }

    static func run(
        path: String, _ arguments: [String], environment: [String: String] = [:], in directory: String? = nil
    ) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = AgentProcess.sanitizerOptions.merging(["PATH": "/usr/bin:/bin"]) { $1 }
        env.merge(environment) { $1 }
        process.environment = env
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }
}
