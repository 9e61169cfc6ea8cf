import AgentCore
import AttestationFormats
import Configuration
import Crypto
import DataEncoding
import Foundation
import Logging
import PlatformInterface
import PropertyBased
import Testing

@testable import Platform

/// `--initdata-rtmr` on a TDX whose MRCONFIGID is zero (the in-memory kernel,
/// RTMRs that extend): whatever order a bind and early ExtendRuntimeMeasurement
/// calls run in, the InitData event is the first of the event log, every
/// measurement that was answered OK comes after it, and RTMR3 replays from
/// the log. The rules are restated here from docs/design.md, not read from
/// the agent's code.
@Suite struct InitDataRTMRPropertyTests {
    static let count = ProcessInfo.processInfo.environment["AA_SANITIZER"] == nil ? 1_000 : 200

    struct Scenario: Sendable, CustomStringConvertible {
        /// Bind at launch (as LaunchPlan does) or wait for a bind call.
        var awaits: Bool
        /// Measurement calls started with the bind, each after this many yields.
        var measurementDelays: [Int]
        var bindDelay: Int
        /// A second bind, of another document, afterwards.
        var secondBind: Bool

        var description: String {
            "await=\(awaits) bind after \(bindDelay) measurements after \(measurementDelays) second=\(secondBind)"
        }

        static var generator: Generator<Scenario, some Sequence & SendableMetatype> {
            zip(Gen.bool, Gen<Int>.int(in: 0...6).array(of: 0...5), Gen<Int>.int(in: 0...6), Gen.bool(0.3))
                .map { Scenario(awaits: $0, measurementDelays: $1, bindDelay: $2, secondBind: $3) }
        }
    }

    static let digest = Array(SHA384.hash(data: Array("version = \"0.1.0\"".utf8)))
    static let other = Array(SHA384.hash(data: Array("another document".utf8)))

    @Test func theInitDataEventIsAlwaysFirst() async {
        await propertyCheck(count: Self.count, input: Scenario.generator) { scenario in
            await Self.run(scenario)
        }
    }

    static func yields(_ count: Int) async { for _ in 0..<count { await Task.yield() } }

    static func run(_ scenario: Scenario) async {
        let kernel = PlatformTests.tdxKernel()
        kernel.state.withLockedValue { state in
            state.directories.insert(TDXPlatform.measurements)
            state.files[TDXPlatform.measurements + "/mrconfigid"] = [UInt8](repeating: 0, count: 48)
            for index in 0..<4 {
                state.files[TDXPlatform.measurements + "/rtmr\(index):sha384"] = [UInt8](repeating: 0, count: 48)
            }
        }
        let directory = NSTemporaryDirectory() + "aa-rtmr-property-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let agent = AttestationAgent(
            platform: TDXPlatform(files: kernel), awaitsInitData: scenario.awaits, initDataInEventLog: true,
            eventLogLocation: EventLogLocation(file: directory + "/eventlog"),
            logger: Logger(label: "rtmr-property") { _ in SwiftLogNoOpLogHandler() })
        await agent.configureAtLaunch(AgentConfig(eventLog: .init(initPCR: 17, enabled: true)), source: .configFile)

        let (bound, measured) = await withTaskGroup(of: (bind: Bool?, measured: Int?).self) { group in
            group.addTask {
                await yields(scenario.bindDelay)
                do {
                    try await agent.bindInitData(digest: Self.digest)
                    return (true, nil)
                } catch { return (false, nil) }
            }
            for (index, delay) in scenario.measurementDelays.enumerated() {
                group.addTask {
                    await yields(delay)
                    let outcome = try? await agent.extendRuntimeMeasurement(
                        domain: "github.com/confidential-containers", operation: "PullImage", content: "image-\(index)",
                        registerIndex: nil)
                    return (nil, outcome == .ok ? index : nil)
                }
            }
            var bound = false
            var measured: Set<Int> = []
            for await result in group {
                if let bind = result.bind { bound = bind }
                if let index = result.measured { measured.insert(index) }
            }
            return (bound, measured)
        }
        if scenario.secondBind {
            #expect((try? await agent.bindInitData(digest: Self.other)) == nil, "a second document: \(scenario)")
        }

        let log = (try? Data(contentsOf: URL(fileURLWithPath: directory + "/eventlog"))).map { [UInt8]($0) } ?? []
        let entries = (try? AAEventLog.entries(log)) ?? []
        let initData = "github.com/confidential-containers InitData sha384:\(Hex.encode(Self.digest))"
        #expect(bound, "the bind, at launch or by a call, anchors: \(scenario)")
        #expect(entries.first?.text == initData, "the InitData event first: \(entries.map(\.text)) \(scenario)")
        #expect(entries.filter { $0.text.contains("InitData") }.count == 1, "once: \(scenario)")
        #expect(
            Set(entries.dropFirst().map(\.text))
                == Set(measured.map { "github.com/confidential-containers PullImage image-\($0)" }),
            "every measurement answered OK is in the log after it, no other: \(scenario)")
        var rtmr3 = [UInt8](repeating: 0, count: 48)
        for entry in entries where entry.register == 4 { rtmr3 = Array(SHA384.hash(data: rtmr3 + entry.digest)) }
        #expect(
            (try? kernel.read(TDXPlatform.measurements + "/rtmr3:sha384")) == rtmr3, "RTMR3 replays: \(scenario)")
    }
}
