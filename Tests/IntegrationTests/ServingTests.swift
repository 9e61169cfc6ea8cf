import AttestationAgentAPI
import Foundation
import NIOCore
import NIOPosix
import TTRPC
import Testing

/// How the real binary serves: concurrency, deadlines, protocol violations,
/// listener allowlists, and stopping.
@Suite struct ServingTests {
    @Test func hundredConcurrentRequestsOnOneConnection() async throws {
        let agent = try AgentProcess(environment: ["AA_SAMPLE_EVIDENCE_DELAY_MS": "50"])
        let client = try await agent.waitUntilListening()
        let answers = try await withThrowingTaskGroup(of: (UInt8, [UInt8]).self) { group in
            for index in 0..<100 {
                group.addTask {
                    let response: GetEvidenceResponse = try await client.call(
                        .getEvidence, GetEvidenceRequest(runtimeData: [UInt8(index)]))
                    return (UInt8(index), response.evidence)
                }
            }
            return try await group.reduce(into: [UInt8: [UInt8]]()) { $0[$1.0] = $1.1 }
        }
        #expect(answers.count == 100)
        for (index, evidence) in answers {
            let expected = #"{"svn":"1","report_data":"\#(Data([index]).base64EncodedString())"}"#
            #expect(String(decoding: evidence, as: UTF8.self) == expected)
        }
        await client.close()
    }

    @Test func deadlineExceeded() async throws {
        let agent = try AgentProcess(environment: ["AA_SAMPLE_EVIDENCE_DELAY_MS": "3000"])
        let client = try await agent.waitUntilListening()
        do {
            let _: GetEvidenceResponse = try await client.call(
                .getEvidence, GetEvidenceRequest(runtimeData: []), timeout: 0.2)
            Issue.record("a 3 s call finished within 0.2 s")
        } catch let error as TTRPCError {
            #expect(error.code == .deadlineExceeded)
            #expect(error.message.contains("GetEvidence did not finish within 200000000 ns"))
        }
        // The connection still serves.
        #expect(try await client.status().tee == "sample")
        await client.close()
    }

    @Test func protocolViolationsAreAnsweredAndTheConnectionGoesOn() async throws {
        let agent = try AgentProcess()
        let client = try await agent.waitUntilListening()
        func status(of frame: TTRPCFrame) async throws -> TTRPCError? {
            let answer = try await client.exchange(frame)
            #expect(answer.streamID == frame.streamID)
            if case .failure(let error) = try TTRPCResponse(protobufBytes: answer.data).result() { return error }
            return nil
        }
        func request(_ method: String, _ payload: [UInt8] = []) -> [UInt8] {
            TTRPCRequest(service: AttestationAgentMethod.service, method: method, payload: payload).protobufBytes()
        }
        #expect(
            try await status(of: TTRPCFrame(streamID: 2, type: .request, data: request("GetStatus")))?.code
                == .invalidArgument)
        #expect(
            try await status(of: TTRPCFrame(streamID: 1, type: .request, data: [0xFF, 0xFF]))?.code == .invalidArgument)
        #expect(
            try await status(of: TTRPCFrame(streamID: 3, type: .request, data: request("Nope")))
                == TTRPCError(.unimplemented, "method Nope"))
        #expect(
            try await status(
                of: TTRPCFrame(
                    streamID: 5, type: .request,
                    data: TTRPCRequest(service: "x.Y", method: "Z", payload: []).protobufBytes()))
                == TTRPCError(.unimplemented, "service x.Y"))
        let badPayload = try await status(
            of: TTRPCFrame(streamID: 7, type: .request, data: request("GetEvidence", [0x0A, 0x05])))
        #expect(badPayload?.code == .invalidArgument)
        #expect(badPayload?.message.contains("GetEvidenceRequest") == true, "\(String(describing: badPayload))")
        #expect(try await status(of: TTRPCFrame(streamID: 9, type: .data, data: [1]))?.code == .invalidArgument)
        #expect(
            try await status(of: TTRPCFrame(streamID: 7, type: .request, data: request("GetStatus")))
                == TTRPCError(.invalidArgument, "StreamID cannot be re-used and must increment"))
        let oversized = TTRPCFrame(
            streamID: 11, type: .request, data: [UInt8](repeating: 0, count: TTRPCFrame.maxDataLength + 1))
        #expect(try await status(of: oversized)?.code == .resourceExhausted)
        // Still serving on the same connection, and to others.
        #expect(try await status(of: TTRPCFrame(streamID: 13, type: .request, data: request("GetStatus"))) == nil)
        let other = try await TTRPCClient.connect(to: .unix(path: agent.socketPath))
        #expect(try await other.status().tee == "sample")
        await other.close()
        await client.close()
    }

    @Test func restrictedListenerAllowsOnlyHostSafeMethods() async throws {
        let agent = try AgentProcess(listeners: { directory in
            [
                "--attestation_sock", "unix://\(directory)/open.sock", "--restricted_sock",
                "unix://\(directory)/restricted.sock",
            ]
        })
        let open = agent.directory + "/open.sock"
        let restricted = agent.directory + "/restricted.sock"
        await (try agent.waitUntilListeningAt(open)).close()
        let host = try await TTRPCClient.connect(to: .unix(path: restricted))
        #expect(try await host.status().tee == "sample")
        #expect(try await host.call(.getTeeType, EmptyMessage(), as: GetTeeTypeResponse.self).tee == "sample")
        for method in [
            AttestationAgentMethod.getEvidence, .getToken, .bindInitData, .updateConfiguration,
            .extendRuntimeMeasurement,
        ] {
            do {
                _ = try await host.call(service: AttestationAgentMethod.service, method: method.rawValue, payload: [])
                Issue.record("\(method) allowed on a restricted listener")
            } catch let error as TTRPCError {
                #expect(error.code == .permissionDenied)
                #expect(error.message.contains(method.rawValue))
            }
        }
        let local = try await TTRPCClient.connect(to: .unix(path: open))
        let evidence: GetEvidenceResponse = try await local.call(.getEvidence, GetEvidenceRequest(runtimeData: []))
        #expect(!evidence.evidence.isEmpty)
        await host.close()
        await local.close()
    }

    @Test func vsockAllowWidensHostFacingListenersWithAWarning() async throws {
        let agent = try AgentProcess(
            ["--vsock-allow", "GetEvidence"],
            listeners: { directory in
                [
                    "--attestation_sock", "unix://\(directory)/open.sock", "--restricted_sock",
                    "unix://\(directory)/restricted.sock",
                ]
            })
        await (try agent.waitUntilListeningAt(agent.directory + "/open.sock")).close()
        let host = try await TTRPCClient.connect(to: .unix(path: agent.directory + "/restricted.sock"))
        let evidence: GetEvidenceResponse = try await host.call(.getEvidence, GetEvidenceRequest(runtimeData: [1]))
        #expect(!evidence.evidence.isEmpty)
        await #expect(throws: TTRPCError.self) { try await host.token("kbs") }
        #expect(agent.stderr.contains("warning") && agent.stderr.contains("GetEvidence"), "\(agent.stderr)")
        await host.close()
    }

    @Test func vsockListenerBinds() async throws {
        let probe = socket(AF_VSOCK, Int32(SOCK_STREAM.rawValue), 0)
        guard probe >= 0 else { return }  // no vsock in this kernel: nothing to test here
        close(probe)
        let port = Int.random(in: 20000...60000)
        let agent = try AgentProcess(["--attestation_sock", "vsock://any:\(port)"])
        await (try agent.waitUntilListening()).close()
        // This kernel has no vsock loopback: a second bind of the port proves the listener.
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(to: VsockAddress(cid: .any, port: .init(port))).get()
            try await channel.close()
            Issue.record("vsock port \(port) was free: the agent is not listening on it")
        } catch let error as IOError {
            #expect(error.errnoCode == EADDRINUSE)
        }
        #expect(agent.stderr.contains("vsock://any:\(port)"))
    }

    @Test func sigtermLetsTheCallInFlightFinishThenExitsZero() async throws {
        let agent = try AgentProcess(environment: ["AA_SAMPLE_EVIDENCE_DELAY_MS": "3000"])
        let client = try await agent.waitUntilListening()
        async let answer: GetEvidenceResponse = client.call(.getEvidence, GetEvidenceRequest(runtimeData: [7]))
        // Well inside the 3 s the call takes, long after it reached the agent.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        agent.signal(SIGTERM)
        let evidence = try await answer
        #expect(String(decoding: evidence.evidence, as: UTF8.self).contains("Bw=="))
        #expect(await agent.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: agent.socketPath), "the socket file is removed")
        #expect(agent.process.terminationReason == .exit)
    }

    /// A SIGTERM at any moment from exec on (during launch-time binding,
    /// before the socket exists, while the handlers are set up) is never lost:
    /// the agent exits 0 and leaves no socket file. A lost one left the agent
    /// running for good.
    @Test func sigtermAtAnyMomentOfStartUpExitsCleanly() async throws {
        for round in 0..<20 {
            let agent = try AgentProcess(
                ["--initdata-toml", LaunchTests.initdata],
                environment: ["AA_SAMPLE_INITDATA": LaunchTests.fieldOfFixture])
            try await Task.sleep(nanoseconds: UInt64(round) * 1_500_000)
            agent.signal(SIGTERM)
            #expect(await agent.waitForExit(seconds: 5) == 0, "round \(round): \(agent.stderr)")
            #expect(agent.process.terminationReason == .exit, "round \(round)")
            #expect(!FileManager.default.fileExists(atPath: agent.socketPath), "round \(round)")
        }
    }
}
