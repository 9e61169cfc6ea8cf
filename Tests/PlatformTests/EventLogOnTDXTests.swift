import AgentCore
import Crypto
import DataEncoding
import Foundation
import Logging
@testable import Platform
import Testing

/// The event log on TDX's RTMRs (a fake kernel that extends like the real one).
@Suite struct EventLogOnTDXTests {
    static func agent(_ kernel: FakeKernel, directory: String) async -> AttestationAgent {
        kernel.state.withLockedValue { state in
            state.directories.insert(TDXPlatform.measurements)
            for index in 0..<4 where state.files[TDXPlatform.measurements + "/rtmr\(index):sha384"] == nil {
                state.files[TDXPlatform.measurements + "/rtmr\(index):sha384"] = [UInt8](repeating: 0, count: 48)
            }
        }
        let agent = AttestationAgent(platform: TDXPlatform(files: kernel), eventLogDirectory: directory, logger: Logger(label: "test"))
        await agent.configureAtLaunch(AgentConfig(eventLog: .init(initPCR: 17, enabled: true)), source: .configFile)
        return agent
    }

    static func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "aa-eventlog-\(UUID().uuidString.prefix(8))"
    }

    @Test func entryNamesTheCCMRAndExtendsTheRTMRWithSHA384() async throws {
        let kernel = PlatformTests.tdxKernel()
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let agent = await Self.agent(kernel, directory: directory)
        #expect(try await agent.extendRuntimeMeasurement(domain: "d", operation: "o", content: "c c", registerIndex: nil) == .ok)

        let log = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/eventlog")))
        let tagged: [UInt8] = [0x4C, 0x45, 0x41, 0x41, 7, 0, 0, 0] + Array("d o c c".utf8)
        let digest = Array(SHA384.hash(data: tagged))
        // register 4 (PCR 17 -> RTMR3), EV_EVENT_TAG, one SHA-384 digest, the tagged event.
        let expected: [UInt8] = [4, 0, 0, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0x0C, 0] + digest + [UInt8(tagged.count), 0, 0, 0] + tagged
        #expect(log == expected)
        #expect(try kernel.read(TDXPlatform.measurements + "/rtmr3:sha384")
                == Array(SHA384.hash(data: [UInt8](repeating: 0, count: 48) + digest)))
    }

    @Test func anInterruptedEntryIsFinishedAtTheNextStart() async throws {
        let kernel = PlatformTests.tdxKernel()
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // A crash after the RTMR was extended, before the entry was appended.
        let event = try RuntimeEvent(domain: "d", operation: "o", content: "lost")
        let (entry, digest) = EventLog.entry(event, register: 4, algorithm: .sha384)
        let rtmr = TDXPlatform.measurements + "/rtmr3:sha384"
        kernel.state.withLockedValue { _ = $0.directories.insert(TDXPlatform.measurements) }
        try kernel.write(rtmr, digest)
        let expected = try kernel.read(rtmr)
        try Data([0, 0, 0, 0, 0, 0, 0, 0] + expected + Array("d o lost".utf8)).write(to: URL(fileURLWithPath: directory + "/.wal_event_entry"))

        let agent = await Self.agent(kernel, directory: directory)
        #expect(try await agent.extendRuntimeMeasurement(domain: "d", operation: "o", content: "next", registerIndex: nil) == .ok)
        let log = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/eventlog")))
        #expect(Array(log.prefix(entry.count)) == entry, "the interrupted entry comes first")
        #expect(!FileManager.default.fileExists(atPath: directory + "/.wal_event_entry"))
    }

    @Test func aRegisterThatDoesNotMatchTheWALIsRefused() async throws {
        let kernel = PlatformTests.tdxKernel()
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data([UInt8](repeating: 0, count: 8) + [UInt8](repeating: 0xEE, count: 48) + Array("d o x".utf8))
            .write(to: URL(fileURLWithPath: directory + "/.wal_event_entry"))
        let agent = await Self.agent(kernel, directory: directory)
        do {
            _ = try await agent.extendRuntimeMeasurement(domain: "d", operation: "o", content: "y", registerIndex: nil)
            Issue.record("a corrupt log was extended")
        } catch {
            #expect(error.message.contains("corrupt"))
        }
    }
}
