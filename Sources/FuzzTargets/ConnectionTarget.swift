import AgentCore
import AgentService
import Dispatch
import Logging
import NIOCore
import NIOPosix
import Platform
import PlatformInterface
import TTRPC

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The whole server fed a byte stream: a real `TTRPCServer` with the agent's
/// service on a Unix socket (started once per process), one connection per input. The input
/// is written in two pieces (split where its first byte says), the client
/// closes its side, and reads until the server closes. The server must
/// close within 5 s, answer only with whole response frames that decode, and
/// only on stream IDs the input named.
enum ConnectionTarget {
    static let run: FuzzTargets.Target = { bytes in
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0, "socket: \(errno)")
        defer { close(fd) }
        precondition(connectUnix(fd, server), "cannot connect to the fuzzed server: \(errno)")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let split = Int(bytes.first ?? 0) % max(bytes.count, 1)
        for piece in [bytes[..<split], bytes[split...]] where !piece.isEmpty {
            // The server may close first (a frame it refuses): stop writing then.
            guard piece.withUnsafeBytes({ writeAll(fd, $0) }) else { break }
        }
        shutdown(fd, Int32(SHUT_WR))

        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                answer += buffer[..<count]
                continue
            }
            if count == 0 || errno == ECONNRESET { break }
            precondition(errno != EAGAIN && errno != EWOULDBLOCK, "the server neither answered nor closed within 5 s")
            if errno != EINTR { break }
        }
        check(answer: answer, input: bytes)
    }

    /// Every answer is a whole response frame for a stream the input named.
    static func check(answer: [UInt8], input: [UInt8]) {
        let asked = Set(headers(input).map(\.streamID))
        var offset = 0
        var responses = 0
        while offset < answer.count {
            precondition(answer.count - offset >= TTRPCFrame.headerLength, "a cut frame header in the answer")
            let length = Int(be32(answer, offset))
            let streamID = be32(answer, offset + 4)
            precondition(
                answer[offset + 8] == TTRPCFrame.MessageType.response.rawValue, "an answer that is not a response")
            precondition(length <= TTRPCFrame.maxDataLength, "an answer of \(length) bytes")
            precondition(answer.count - offset - TTRPCFrame.headerLength >= length, "a cut frame in the answer")
            precondition(asked.contains(streamID), "an answer on stream \(streamID), which the input never named")
            let data = Array(answer[(offset + TTRPCFrame.headerLength)..<(offset + TTRPCFrame.headerLength + length)])
            precondition((try? TTRPCResponse(protobufBytes: data)) != nil, "an answer whose envelope does not decode")
            offset += TTRPCFrame.headerLength + length
            responses += 1
        }
        precondition(responses <= max(headers(input).count, 1), "more answers than frames")
    }

    /// The frame headers in a byte stream, as far as it goes.
    static func headers(_ bytes: [UInt8]) -> [(streamID: UInt32, length: Int)] {
        var result: [(UInt32, Int)] = []
        var offset = 0
        while bytes.count - offset >= TTRPCFrame.headerLength {
            let length = Int(be32(bytes, offset))
            result.append((be32(bytes, offset + 4), length))
            offset += TTRPCFrame.headerLength + min(length, bytes.count)
        }
        return result
    }

    static func be32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    // MARK: The server

    /// Started on first use; lives as long as the fuzzing process. It serves
    /// the agent's own service on the sample TEE, so inputs reach every
    /// method's decoder and the agent behind it (state carries over between
    /// inputs, as it does between a real agent's clients).
    static let server: String = {
        let path = "/tmp/aa-fuzz-connection-\(getpid()).sock"
        let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }
        var services = TTRPCServiceSet()
        let agent = AttestationAgent(platform: SampleTEE(simulatedField: nil), logger: logger)
        AgentServiceHandlers.register(agent: agent, in: &services, logger: logger)
        let server = TTRPCServer(services: services, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let listening = DispatchSemaphore(value: 0)
        Task {
            do { try await server.listen(TTRPCListenerConfig(address: .unix(path: path))) } catch {
                preconditionFailure("the fuzzed server cannot listen on \(path): \(error)")
            }
            listening.signal()
        }
        listening.wait()
        return path
    }()

    static func connectUnix(_ fd: Int32, _ path: String) -> Bool {
        UnixSocketAddress.with(path) { connect(fd, $0, $1) } == 0
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}
