import Foundation

/// What a command printed and how it ended.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    /// stdout, then stderr: all a checker said, for a test's message.
    public var output: String { stdout + stderr }

    /// Runs one of the project's binaries to its end.
    public static func run(
        _ binary: String, _ arguments: [String], environment: [String: String] = [:]
    ) throws -> CommandResult {
        try run(path: PackagePaths.binaries + "/" + binary, arguments, environment: environment)
    }

    /// Runs `path` to its end, with the sanitizers' settings and a plain PATH
    /// in its environment besides `environment`.
    public static func run(
        path: String, _ arguments: [String], environment: [String: String] = [:], in directory: String? = nil
    ) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ChildProcess.environment(environment)
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Both pipes are drained before waiting: a child that fills one would block.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }
}

/// A process a test starts and keeps running beside it (the agent, swtpm, a
/// Python helper): its stderr goes to a file the test can read, and it is
/// stopped with `stopSignal` when the value goes away.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    public let stderrPath: String
    let stopSignal: Int32

    /// The environment every child gets: a plain PATH and the sanitizers'
    /// settings, then `extra`.
    public static func environment(_ extra: [String: String]) -> [String: String] {
        TestBudget.sanitizerOptions.merging(["PATH": "/usr/bin:/bin"]) { $1 }.merging(extra) { $1 }
    }

    /// Starts `command` (a path and its arguments) with `environment` added
    /// to `ChildProcess.environment`, or to the test's own environment when
    /// `inheriting` (helpers such as Python scripts that need the test's
    /// PATH). stdout goes to `stdout` (a Pipe or FileHandle; nothing by
    /// default), stderr to the file at `stderrPath` (emptied first).
    public init(
        _ command: [String], environment: [String: String] = [:], inheriting: Bool = false, stderrPath: String,
        stdout: Any? = nil, stopSignal: Int32 = SIGKILL
    ) throws {
        self.stderrPath = stderrPath
        self.stopSignal = stopSignal
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment =
            inheriting
            ? ProcessInfo.processInfo.environment.merging(environment) { $1 } : Self.environment(environment)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardOutput = stdout ?? FileHandle.nullDevice
        try process.run()
    }

    public var isRunning: Bool { process.isRunning }
    public var pid: Int32 { process.processIdentifier }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to end (at most `seconds`, stretched under a
    /// sanitizer, then it is terminated) and returns its exit status.
    public func waitForExit(seconds: Double = 20) async -> Int32 {
        let giveUp = Date().addingTimeInterval(seconds * TestBudget.timeScale)
        while process.isRunning && Date() < giveUp { try? await Task.sleep(nanoseconds: 20_000_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    /// Stops the process if it still runs, and waits for it.
    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, stopSignal)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
