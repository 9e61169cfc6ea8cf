import AgentCore
import Configuration
import Crypto
import DataEncoding
import Foundation
import Logging
import PlatformInterface
import TestSupport
import Testing

@testable import Platform

/// The event log on TDX's RTMRs (a fake kernel that extends like the real one).
@Suite struct EventLogOnTDXTests {
    static func agent(_ kernel: FakeKernel, directory: String) async -> AttestationAgent {
        kernel.state.withLockedValue { state in
            state.directories.insert(TDXPlatform.measurements)
            for index in 0..<4 where state.files[TDXPlatform.measurements + "/rtmr\(index):sha384"] == nil {
                state.files[TDXPlatform.measurements + "/rtmr\(index):sha384"] = [UInt8](repeating: 0, count: 48)
            }
        }
        let agent = AttestationAgent(
            platform: TDXPlatform(files: kernel), eventLogLocation: EventLogLocation(file: directory + "/eventlog"),
            logger: Logger(label: "test"))
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
        #expect(
            try await agent.extendRuntimeMeasurement(domain: "d", operation: "o", content: "c c", registerIndex: nil)
                == .ok)

        let log = [UInt8](try Data(contentsOf: URL(fileURLWithPath: directory + "/eventlog")))
        let tagged: [UInt8] = [0x4C, 0x45, 0x41, 0x41, 7, 0, 0, 0] + Array("d o c c".utf8)
        let digest = Array(SHA384.hash(data: tagged))
        // register 4 (PCR 17 -> RTMR3), EV_EVENT_TAG, one SHA-384 digest, the tagged event.
        let expected: [UInt8] =
            [4, 0, 0, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0x0C, 0] + digest + [UInt8(tagged.count), 0, 0, 0] + tagged
        #expect(log == expected)
        #expect(
            try kernel.read(TDXPlatform.measurements + "/rtmr3:sha384")
                == Array(SHA384.hash(data: [UInt8](repeating: 0, count: 48) + digest)))
    }

    /// A kernel before 6.16 has no RTMR files: NOT_SUPPORTED, nothing logged,
    /// because the confidential-data-hub fails an image pull on any error.
    @Test func withoutRTMRFilesTheAnswerIsNotSupported() async throws {
        let kernel = PlatformTests.tdxKernel()
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let agent = AttestationAgent(
            platform: TDXPlatform(files: kernel), eventLogLocation: EventLogLocation(file: directory + "/eventlog"),
            logger: Logger(label: "test"))
        await agent.configureAtLaunch(AgentConfig(eventLog: .init(initPCR: 17, enabled: true)), source: .configFile)
        #expect(
            try await agent.extendRuntimeMeasurement(domain: "d", operation: "o", content: "c", registerIndex: nil)
                == .notSupported)
        #expect(!FileManager.default.fileExists(atPath: directory + "/eventlog"))
        #expect(TDXPlatform(files: kernel).runtimeRegisterUnavailable(forPCR: 17)?.contains("Linux 6.16") == true)
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
        try Data([0, 0, 0, 0, 0, 0, 0, 0] + expected + Array("d o lost".utf8)).write(
            to: URL(fileURLWithPath: directory + "/.wal_event_entry"))

        let agent = await Self.agent(kernel, directory: directory)
        #expect(
            try await agent.extendRuntimeMeasurement(domain: "d", operation: "o", content: "next", registerIndex: nil)
                == .ok)
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

    /// A record whose offset lies past the end of the log (the log was cut
    /// short, or the record is garbage) is refused: it used to be appended
    /// there, leaving a hole no replayer can read, and an offset of 2^63 or
    /// more trapped converting it to Int.
    @Test(arguments: [UInt64(4096), 1 << 63, UInt64.max])
    func aRecordPointingPastTheLogIsRefused(_ offset: UInt64) async throws {
        let kernel = PlatformTests.tdxKernel()
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let event = try RuntimeEvent(domain: "d", operation: "o", content: "lost")
        let (_, digest) = EventLog.entry(event, register: 4, algorithm: .sha384)
        let expected = Array(SHA384.hash(data: [UInt8](repeating: 0, count: 48) + digest))
        let record = withUnsafeBytes(of: offset.bigEndian, Array.init) + expected + Array("d o lost".utf8)
        try Data(record).write(to: URL(fileURLWithPath: directory + "/.wal_event_entry"))
        let agent = await Self.agent(kernel, directory: directory)
        do {
            _ = try await agent.extendRuntimeMeasurement(domain: "d", operation: "o", content: "y", registerIndex: nil)
            Issue.record("a record past the end of the log was appended")
        } catch {
            #expect(error.code == .internal)
            #expect(error.message.contains("holds 0 bytes"), "\(error.message)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/eventlog"), "nothing was written")
    }
}

/// GetEvidence on TDX after runtime measurements: an independent replayer
/// (Tests/Oracles/tdx_eventlog.py, from the TCG spec and trustee's replay
/// rule) must replay the evidence's `cc_eventlog` to the quote's RTMRs.
@Suite struct TDXEvidenceEventLogTests {
    static func le(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }

    /// A firmware CCEL table: its own spec ID event (SHA-384 and SHA-256),
    /// boot events into RTMR0 and RTMR2, then the table's unused room.
    static func ccel(events: [(register: UInt32, digest: [UInt8])], tail: UInt8) -> [UInt8] {
        let spec =
            Array("Spec ID Event03".utf8) + [0] + le(0) + [0, 2, 0, 2] + le(2) + [0x0C, 0, 48, 0, 0x0B, 0, 32, 0] + [0]
        var table = le(0) + le(3) + [UInt8](repeating: 0, count: 20) + le(UInt32(spec.count)) + spec
        for event in events {
            let data = Array("boot event".utf8)
            // EV_POST_CODE (1) with SHA-384 and SHA-256 digests.
            table +=
                le(event.register) + le(1) + le(2) + [0x0C, 0] + event.digest + [0x0B, 0]
                + [UInt8](repeating: 7, count: 32)
                + le(UInt32(data.count)) + data
        }
        return table + [UInt8](repeating: tail, count: 512)
    }

    /// A TDX machine whose quotes carry the RTMR files' values at the time of the report.
    static func kernel(initialRTMRs: [[UInt8]]) -> FakeKernel {
        let template = PlatformTests.quoteTemplate
        let kernel = FakeKernel(provider: "tdx_guest") { inblob, files in
            var quote = template
            quote.replaceSubrange(568..<632, with: inblob)
            for index in 0..<4 {
                let value = files[TDXPlatform.measurements + "/rtmr\(index):sha384"] ?? [UInt8](repeating: 0, count: 48)
                quote.replaceSubrange(376 + 48 * index..<424 + 48 * index, with: value)
            }
            return quote
        }
        kernel.state.withLockedValue { state in
            state.directories.insert(TDXPlatform.measurements)
            for index in 0..<4 {
                state.files[TDXPlatform.measurements + "/rtmr\(index):sha384"] =
                    index < initialRTMRs.count ? initialRTMRs[index] : [UInt8](repeating: 0, count: 48)
            }
        }
        return kernel
    }

    static func replay(_ evidence: [UInt8], expecting events: [String]) throws -> CommandResult {
        let folder = try TemporaryFolder("aa-oracle")
        try Oracle.write(evidence, folder.file("evidence.json"))
        return try Oracle.run("tdx_eventlog.py", [folder.file("evidence.json")] + events)
    }

    static func agent(_ kernel: FakeKernel, directory: String) async -> AttestationAgent {
        let location = EventLogLocation(file: directory + "/eventlog")
        let platform = TDXPlatform(files: kernel, eventLogFile: location.file)
        let agent = AttestationAgent(platform: platform, eventLogLocation: location, logger: Logger(label: "test"))
        await agent.configureAtLaunch(AgentConfig(eventLog: .init(initPCR: 17, enabled: true)), source: .configFile)
        return agent
    }

    @Test(arguments: [UInt8(0xFF), 0x00])
    func measurementsAfterTheFirmwaresLogReplayToTheQuote(_ tail: UInt8) async throws {
        let boot = [(UInt32(1), Array(SHA384.hash(data: [1]))), (3, Array(SHA384.hash(data: [2])))]
        var rtmrs = [[UInt8]](repeating: [UInt8](repeating: 0, count: 48), count: 4)
        for (register, digest) in boot {
            rtmrs[Int(register) - 1] = Array(SHA384.hash(data: rtmrs[Int(register) - 1] + digest))
        }
        let kernel = Self.kernel(initialRTMRs: rtmrs)
        kernel.set(TDXPlatform.ccEventLog, Self.ccel(events: boot, tail: tail))
        let directory = EventLogOnTDXTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let agent = await Self.agent(kernel, directory: directory)

        let before = try Self.replay(try await agent.evidence(runtimeData: [1]), expecting: [])
        #expect(before.status == 0, "\(before.output)")
        let events = [
            ("github.com/kata", "pull", "image-a", nil as UInt64?), ("cdh", "pull", "image-b", 8),
            ("k", "v", "{\"a\": 1}", nil),
        ]
        for (domain, operation, content, index) in events {
            #expect(
                try await agent.extendRuntimeMeasurement(
                    domain: domain, operation: operation, content: content, registerIndex: index) == .ok)
        }
        let after = try Self.replay(
            try await agent.evidence(runtimeData: [2]), expecting: events.map { "\($0.0) \($0.1) \($0.2)" })
        #expect(after.status == 0, "\(after.output)")
    }

    @Test func withoutACCELTheSpecIDHeaderComesFirst() async throws {
        let kernel = Self.kernel(initialRTMRs: [])  // all four at zero
        let directory = EventLogOnTDXTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let agent = await Self.agent(kernel, directory: directory)
        let nothing = try JSON(parsing: String(decoding: try await agent.evidence(runtimeData: []), as: UTF8.self))
        #expect(nothing["cc_eventlog"] == .null, "neither CCEL nor AAEL: no log, as upstream")

        #expect(
            try await agent.extendRuntimeMeasurement(domain: "d", operation: "o", content: "c", registerIndex: nil)
                == .ok)
        let result = try Self.replay(try await agent.evidence(runtimeData: []), expecting: ["d o c"])
        #expect(result.status == 0, "\(result.output)")
    }

    /// Evidence taken while measurements run: every quote's log must replay.
    @Test func evidenceDuringMeasurementsAlwaysReplays() async throws {
        let kernel = Self.kernel(initialRTMRs: [])  // all four at zero
        let directory = EventLogOnTDXTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let agent = await Self.agent(kernel, directory: directory)
        let evidences = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            for index in 0..<20 {
                group.addTask {
                    _ = try await agent.extendRuntimeMeasurement(
                        domain: "d", operation: "o", content: "\(index)", registerIndex: nil)
                    return nil
                }
                group.addTask { try await agent.evidence(runtimeData: [UInt8(index)]) }
            }
            return try await group.reduce(into: [[UInt8]]()) { if let evidence = $1 { $0.append(evidence) } }
        }
        for evidence in evidences {
            let result = try Self.replay(evidence, expecting: [])
            #expect(result.status == 0, "\(result.output)")
        }
    }
}
