import AttestationAgentAPI
import Foundation
import TTRPC
import TestSupport
import Testing

/// Clients that try to make the real agent grow or stall, while it is
/// watched from outside (/proc/PID/status).
@Suite(.tags(.slow)) struct HostileClientTests {
    /// The agent's resident memory in KiB.
    static func residentKiB(_ agent: AgentProcess) -> Int {
        let status =
            (try? String(contentsOfFile: "/proc/\(agent.process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// One request frame, encoded by hand: 10-byte header, then the envelope.
    static func frame(_ streamID: UInt32, _ method: AttestationAgentMethod, _ payload: [UInt8]) -> [UInt8] {
        let data = TTRPCRequest(service: AttestationAgentMethod.service, method: method.rawValue, payload: payload)
            .protobufBytes()
        func be(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }
        return be(UInt32(data.count)) + be(streamID) + [1, 0] + data
    }

    /// Eight connections pipeline GetEvidence for three seconds and never
    /// read an answer. This took the agent from 22 MB to 469 MB before reads
    /// were held back while a client's answers are unwritten (issue 9).
    @Test func clientsThatNeverReadCannotGrowTheAgent() async throws {
        let agent = try AgentProcess()
        let client = try await agent.waitUntilListening()
        for _ in 0..<50 { _ = try await client.status() }
        let idle = Self.residentKiB(agent)

        let request = GetEvidenceRequest(runtimeData: [UInt8](repeating: 7, count: 64)).protobufBytes()
        var sockets: [Int32] = []
        for _ in 0..<8 {
            let connection = try RawConnection(path: agent.socketPath)
            _ = fcntl(connection.fd, F_SETFL, fcntl(connection.fd, F_GETFL) | O_NONBLOCK)
            sockets.append(connection.fd)
        }
        var streamIDs = [UInt32](repeating: 1, count: sockets.count)
        var unsent = [[UInt8]](repeating: [], count: sockets.count)
        var sent = 0
        let end = Date().addingTimeInterval(3)
        while Date() < end {
            var blocked = 0
            for (index, fd) in sockets.enumerated() {
                if unsent[index].isEmpty {
                    for _ in 0..<64 {
                        unsent[index] += Self.frame(streamIDs[index], .getEvidence, request)
                        streamIDs[index] += 2
                    }
                }
                let written = unsent[index].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard written > 0 else {
                    blocked += 1
                    continue
                }
                unsent[index].removeFirst(written)
                sent += written
            }
            // Never spin: other suites share this process's two pool threads.
            try await Task.sleep(nanoseconds: blocked == sockets.count ? 10_000_000 : 500_000)
        }
        let attacked = Self.residentKiB(agent)
        for fd in sockets { close(fd) }

        print(
            "never-reading clients: agent RSS \(idle) KiB idle, \(attacked) KiB after \(sent) bytes of pipelined GetEvidence on 8 connections"
        )
        let honest = try await client.status()
        #expect(honest.tee == "sample", "the agent still answers others")
        if TestBudget.sanitizer == nil {
            #expect(
                attacked - idle < 24 * 1024,
                "RSS went from \(idle) KiB to \(attacked) KiB after \(sent) bytes of requests")
        }
        await client.close()
    }
}
