import Foundation
import TTRPC
import TestSupport
import Testing

/// Replays Tests/Fixtures/frames/ byte for byte: for each folder (hand-made,
/// recorded from the Go and Rust clients) a fresh agent is started with the
/// folder's environment, each request frame is written to it on a fresh Unix
/// connection, and the answer must be exactly the recorded response frame.
@Suite struct FrameReplayTests {
    struct Manifest: Decodable {
        struct Case: Decodable {
            let name: String
            let about: String
        }
        let agentEnvironment: [String: String]
        let cases: [Case]

        enum CodingKeys: String, CodingKey {
            case agentEnvironment = "agent_environment"
            case cases
        }
    }

    static let root = PackagePaths.fixtures + "/frames"

    @Test(arguments: ["handmade", "go", "rust"])
    func recordedFramesReplayByteForByte(_ folder: String) async throws {
        let directory = Self.root + "/" + folder
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))
        let manifest = try JSONDecoder().decode(Manifest.self, from: manifestData)
        #expect(manifest.cases.count >= 10)
        let agent = try AgentProcess(environment: manifest.agentEnvironment)
        await (try agent.waitUntilListening()).close()
        for replay in manifest.cases {
            let request = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(replay.name).request.bin")))
            let expected = try [UInt8](
                Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(replay.name).response.bin")))
            let answer = try RawConnection(path: agent.socketPath).exchange(request, expecting: expected.count)
            #expect(
                answer == expected,
                "\(folder)/\(replay.name) (\(replay.about)): got \(answer.hex), want \(expected.hex)")
        }
    }
}

/// A plain blocking Unix socket: exact bytes out, exact bytes in.
struct RawConnection {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard UnixSocketAddress.with(path, { connect(fd, $0, $1) }) == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends `bytes`, then reads `count` bytes and a little more, to catch
    /// an answer longer than expected.
    func exchange(_ bytes: [UInt8], expecting count: Int) throws -> [UInt8] {
        defer { close(fd) }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while received.count < count {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { break }
            received += buffer[0..<n]
        }
        var extra = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &extra, socklen_t(MemoryLayout<timeval>.size))
        let n = recv(fd, &buffer, buffer.count, 0)
        if n > 0 { received += buffer[0..<n] }
        return received
    }
}

extension [UInt8] {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
