import Testing

@testable import TTRPC

/// The connection's rules without a channel: events in, actions out.
@Suite struct ConnectionStateMachineTests {
    /// The machine, with each event's actions summed up for comparison.
    final class Rules {
        var machine: TTRPCConnectionStateMachine

        init(filter: TTRPCMethodFilter = .allowAll, maxCalls: Int = TTRPCServer.defaultMaxCallsInFlight) {
            var services = TTRPCServiceSet()
            services.register(service: "svc", method: "Echo") { _, payload in payload }
            services.register(service: "svc", method: "Secret") { _, payload in payload }
            machine = TTRPCConnectionStateMachine(
                services: services, filter: filter, listenerName: "vsock://-1:1",
                maxCallsInFlight: maxCalls)
        }

        func received(_ frame: TTRPCInboundFrame) -> [String] { summary(machine.received(frame).map { [$0] } ?? []) }
        /// The call's end, then the waiting frames that go on, as the connection handler asks for them.
        func callEnded(_ streamID: UInt32, _ result: Result<[UInt8], TTRPCError>) -> [String] {
            var actions = machine.callEnded(streamID: streamID, result: result).map { [$0] } ?? []
            while let next = machine.nextWaiting() { actions.append(next) }
            return summary(actions)
        }
        func readRequested(writable: Bool) -> Bool { machine.readRequested(channelWritable: writable) }
        func releaseHeldRead(writable: Bool) -> Bool { machine.releaseHeldRead(channelWritable: writable) }
    }

    static func request(_ streamID: UInt32, _ method: String = "Echo") -> TTRPCInboundFrame {
        .frame(
            TTRPCFrame(
                streamID: streamID, type: .request,
                data: TTRPCRequest(service: "svc", method: method, payload: [7]).protobufBytes()))
    }

    @Test func streamIDsAreOddAndIncrease() {
        let m = Rules()
        #expect(m.received(Self.request(2)) == ["reject 2 INVALID_ARGUMENT"])
        #expect(m.received(Self.request(5)) == ["start 5 Echo"])
        #expect(m.received(Self.request(3)) == ["reject 3 INVALID_ARGUMENT"])
        #expect(m.received(Self.request(5)) == ["reject 5 INVALID_ARGUMENT"], "reused while active")
        #expect(m.machine.active == [5], "a rejected reuse does not end the active call")
        #expect(m.received(Self.request(7)) == ["start 7 Echo"])
    }

    @Test func lookupAndAllowlist() {
        let m = Rules(filter: TTRPCMethodFilter(allowedMethods: ["Echo"]))
        #expect(m.received(Self.request(1, "Secret")) == ["reject 1 PERMISSION_DENIED"])
        #expect(m.received(Self.request(3, "Nope")) == ["reject 3 UNIMPLEMENTED"])
        #expect(
            m.received(.frame(TTRPCFrame(streamID: 5, type: .request, data: [0x0A, 0x09])))
                == ["reject 5 INVALID_ARGUMENT"])
        #expect(m.received(.frame(TTRPCFrame(streamID: 7, typeByte: 9, data: []))) == ["ignore 7"])
        #expect(m.received(.oversizedStarted(streamID: 9, length: 5 << 20)) == [])
        #expect(m.received(.oversized(streamID: 9, length: 5 << 20)) == ["reject 9 RESOURCE_EXHAUSTED"])
    }

    @Test func theFirstOfAnswerAndDeadlineWins() {
        let m = Rules()
        _ = m.received(Self.request(1))
        #expect(m.callEnded(1, .failure(TTRPCError(.deadlineExceeded, "late"))) == ["finish 1 4"])
        #expect(m.callEnded(1, .success([1])) == [], "the late answer finds the stream gone")
        #expect(m.machine.active.isEmpty)
    }

    @Test func anAnswerOverTheFrameLimitIsResourceExhausted() {
        let m = Rules()
        _ = m.received(Self.request(1))
        let big = [UInt8](repeating: 0, count: TTRPCFrame.maxDataLength)
        #expect(m.callEnded(1, .success(big)) == ["finish 1 8"])
    }

    @Test func dataFramesEndAnActiveCallOrAreRejected() {
        let m = Rules()
        _ = m.received(Self.request(1))
        #expect(m.received(.frame(TTRPCFrame(streamID: 1, type: .data, data: []))) == ["finish 1 3"])
        #expect(m.received(.frame(TTRPCFrame(streamID: 3, type: .data, data: []))) == ["reject 3 INVALID_ARGUMENT"])
    }

    /// The limit is the server's to set: with 2, the third call waits for one of the two.
    @Test func aLowerCallLimitHoldsTheExtraCallBack() {
        let m = Rules(maxCalls: 2)
        #expect(
            m.received(Self.request(1)) + m.received(Self.request(3)) + m.received(Self.request(5))
                == ["start 1 Echo", "start 3 Echo"])
        #expect(m.callEnded(3, .success([])) == ["finish 3 ok", "start 5 Echo"])
    }

    /// Past 64 calls in flight frames wait in order and no read goes on; a
    /// call that ends lets the first waiting frame start and reading resume.
    @Test func callsPastTheLimitWaitAndReadingPauses() {
        let m = Rules()
        for index in 0..<TTRPCServer.defaultMaxCallsInFlight {
            #expect(m.received(Self.request(UInt32(2 * index + 1))).count == 1)
        }
        #expect(m.received(Self.request(201)) == [], "waits")
        #expect(m.received(Self.request(203)) == [], "waits behind it")
        #expect(!m.readRequested(writable: true))
        #expect(!m.releaseHeldRead(writable: true), "nothing ended yet")
        #expect(m.callEnded(1, .success([])) == ["finish 1 ok", "start 201 Echo"])
        #expect(!m.releaseHeldRead(writable: true), "at the limit again, 203 still waits")
        #expect(m.callEnded(3, .success([])) == ["finish 3 ok", "start 203 Echo"])
        #expect(!m.releaseHeldRead(writable: true), "at the limit again")
        _ = m.callEnded(5, .success([]))
        #expect(m.releaseHeldRead(writable: true))
        #expect(!m.releaseHeldRead(writable: true), "released once")
    }

    @Test func aClientThatDoesNotReadItsAnswersIsNotReadFrom() {
        let m = Rules()
        #expect(m.readRequested(writable: true))
        #expect(!m.readRequested(writable: false))
        #expect(!m.releaseHeldRead(writable: false))
        #expect(m.releaseHeldRead(writable: true))
    }

    @Test func closingAbandonsEveryCall() {
        let m = Rules()
        _ = m.received(Self.request(1))
        _ = m.received(Self.request(3))
        m.machine.closed()
        #expect(m.machine.active.isEmpty)
        #expect(m.callEnded(1, .success([])) == [])
    }
}

/// The actions in a form tests compare: kind, stream, and the status code if any.
private func summary(_ actions: [TTRPCConnectionStateMachine.Action]) -> [String] {
    actions.map { action in
        switch action {
        case .start(let streamID, let request, _): "start \(streamID) \(request.method)"
        case .finish(let streamID, let response): "finish \(streamID) \(response.status.map { "\($0.code)" } ?? "ok")"
        case .reject(let streamID, let error): "reject \(streamID) \(error.code.name)"
        case .ignore(let frame): "ignore \(frame.streamID)"
        }
    }
}
