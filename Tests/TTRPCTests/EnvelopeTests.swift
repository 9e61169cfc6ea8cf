import Testing

@testable import TTRPC

@Suite struct EnvelopeTests {
    // Bytes worked out by hand from the protobuf wire format.
    @Test func requestEncodesToTheWireLayout() throws {
        let request = TTRPCRequest(service: "s", method: "m", payload: [0xFF], timeoutNano: 300, metadata: [("k", "v")])
        let expected: [UInt8] = [
            0x0A, 1, 0x73,  // service = "s"
            0x12, 1, 0x6D,  // method = "m"
            0x1A, 1, 0xFF,  // payload
            0x20, 0xAC, 0x02,  // timeout_nano = 300
            0x2A, 6, 0x0A, 1, 0x6B, 0x12, 1, 0x76,  // metadata { key "k" value "v" }
        ]
        #expect(request.protobufBytes() == expected)
        #expect(try TTRPCRequest(protobufBytes: expected) == request)
    }

    @Test func successResponseOmitsStatusAsContainerdDoes() {
        #expect(TTRPCResponse(payload: [1, 2]).protobufBytes() == [0x12, 2, 1, 2])
        #expect(TTRPCResponse().protobufBytes() == [])
    }

    @Test func errorResponseCarriesCodeAndMessage() throws {
        let bytes = TTRPCResponse(error: TTRPCError(.notFound, "x")).protobufBytes()
        #expect(bytes == [0x0A, 5, 0x08, 5, 0x12, 1, 0x78])
        let decoded = try TTRPCResponse(protobufBytes: bytes)
        #expect(decoded.result() == .failure(TTRPCError(.notFound, "x")))
    }

    @Test func emptyStatusFromRustPeersIsSuccess() throws {
        // The Rust crate sends `status {}` on success.
        let decoded = try TTRPCResponse(protobufBytes: [0x0A, 0, 0x12, 1, 9])
        #expect(decoded.result() == .success([9]))
    }

    @Test(arguments: [[0x0A, 5, 0x73] as [UInt8], [0xFF, 0xFF, 0xFF], [0x0A]])
    func garbageIsRefused(_ bytes: [UInt8]) {
        #expect(throws: (any Error).self) { try TTRPCRequest(protobufBytes: bytes) }
    }

    @Test func metadataLookupIsCaseInsensitive() {
        let metadata: TTRPCMetadata = [("Key", "1"), ("other", "2"), ("key", "3")]
        #expect(metadata.values(for: "KEY") == ["1", "3"])
    }
}

@Suite struct SocketURITests {
    @Test func parsesUnixAndVsock() throws {
        #expect(try SocketURI(parsing: "unix:///run/aa.sock") == .unix(path: "/run/aa.sock"))
        #expect(try SocketURI(parsing: "vsock://3:50000") == .vsock(cid: 3, port: 50000))
        #expect(try SocketURI(parsing: "vsock://-1:1") == .vsock(cid: SocketURI.anyCID, port: 1))
        #expect(try SocketURI(parsing: "vsock://any:1").description == "vsock://any:1")
    }

    @Test(arguments: [
        "unix://relative", "tcp://1.2.3.4:5", "vsock://x:1", "vsock://3", "vsock://3:port",
        "unix:///" + String(repeating: "a", count: 120),
    ])
    func refusesWithAReason(_ text: String) {
        #expect(throws: SocketURI.ParseError.self) { try SocketURI(parsing: text) }
    }
}
