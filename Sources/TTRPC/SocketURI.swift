/// Where a ttrpc endpoint lives: `unix:///absolute/path` or `vsock://CID:PORT`
/// (CID `-1` or `any` means every CID, for listening).
public enum SocketURI: Sendable, Hashable, CustomStringConvertible {
    case unix(path: String)
    case vsock(cid: UInt32, port: UInt32)

    public static let anyCID = UInt32.max

    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public init(parsing text: String) throws {
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard path.hasPrefix("/") else {
                throw ParseError(
                    description:
                        "socket address '\(text)': a unix socket needs an absolute path, as unix:///run/aa.sock")
            }
            guard path.utf8.count < 108 else {
                throw ParseError(
                    description:
                        "socket address '\(text)': the path is \(path.utf8.count) bytes, a unix socket path must be under 108"
                )
            }
            self = .unix(path: path)
        } else if text.hasPrefix("vsock://") {
            let rest = text.dropFirst("vsock://".count)
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw ParseError(description: "socket address '\(text)': expected vsock://CID:PORT")
            }
            let cid: UInt32
            switch parts[0] {
            case "-1", "any": cid = Self.anyCID
            default:
                guard let value = UInt32(parts[0]) else {
                    throw ParseError(
                        description: "socket address '\(text)': CID '\(parts[0])' is not a number, -1 or any")
                }
                cid = value
            }
            guard let port = UInt32(parts[1]) else {
                throw ParseError(description: "socket address '\(text)': port '\(parts[1])' is not a number")
            }
            self = .vsock(cid: cid, port: port)
        } else {
            throw ParseError(description: "socket address '\(text)': expected unix:///PATH or vsock://CID:PORT")
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix://\(path)"
        case .vsock(let cid, let port): "vsock://\(cid == Self.anyCID ? "any" : String(cid)):\(port)"
        }
    }
}
