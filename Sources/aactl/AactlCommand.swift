import ArgumentParser
import AttestationAgentAPI
import AttestationFormats
import DataEncoding
import LocalFiles
import NIOCore
import NIOPosix
import ProtobufCSupport
import TTRPC

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@main
struct Aactl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aactl",
        abstract: "Calls the Attestation Agent over ttrpc, and works out initdata digests.",
        discussion:
            "Results print as JSON on stdout. A ttrpc error prints as 'CODE_NAME (n): message' on stderr with exit status 1; a transport error exits with status 2.",
        subcommands: AttestationAgentMethod.allCases.map(command(calling:)) + [
            InitData.self, Inspect.self, Doctor.self,
        ]
    )

    /// The subcommand that calls each method of the table (a method added
    /// there and not here does not compile).
    static func command(calling method: AttestationAgentMethod) -> any ParsableCommand.Type {
        switch method {
        case .getTeeType: GetTeeType.self
        case .getAdditionalTees: GetAdditionalTees.self
        case .getStatus: Status.self
        case .getEvidence: GetEvidence.self
        case .getAdditionalEvidence: GetAdditionalEvidence.self
        case .getToken: GetToken.self
        case .bindInitData: BindInitData.self
        case .checkInitData: CheckInitData.self
        case .updateConfiguration: UpdateConfiguration.self
        case .extendRuntimeMeasurement: ExtendRuntimeMeasurement.self
        }
    }
}

/// Options every calling subcommand shares.
struct ConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The agent: unix:///PATH or vsock://CID:PORT.", valueName: "URI"))
    var socket = "unix:///run/confidential-containers/attestation-agent/attestation-agent.sock"

    @Option(
        help: ArgumentHelp(
            "Seconds to wait for the answer (sent to the agent as the call's deadline).", valueName: "SECONDS"))
    var timeout: Double = 30

    func validate() throws {
        do { _ = try SocketURI(parsing: socket) } catch { throw ValidationError("--socket: \(error)") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    /// Calls `method` and decodes the answer; exits 1 on a ttrpc error, 2 on a transport error.
    func call<Request, Response>(_ typed: TypedMethod<Request, Response>, _ request: Request) async throws -> Response {
        switch await attempt(typed, request) {
        case .success(let response): return response
        case .failure(let failure):
            printError(failure.message)
            throw ExitCode(failure.exitCode)
        }
    }

    /// Why a call got no answer: a ttrpc error (exit status 1) or the transport (2).
    struct CallFailure: Error {
        let message: String
        let exitCode: Int32
        /// The agent's status code; nil when there was no answer.
        var code: StatusCode? = nil
    }

    /// Calls `method` and decodes the answer, or says why not.
    func attempt<Request, Response>(
        _ typed: TypedMethod<Request, Response>, _ request: Request
    ) async -> Result<Response, CallFailure> {
        let method = typed.method
        // aactl's event loops are NIO's shared ones (for the agent, the KBS
        // and DNS alike); the connection is closed before this returns.
        let answer: Result<[UInt8], any Error>
        do {
            let client = try await TTRPCClient.connect(
                to: try SocketURI(parsing: socket), group: MultiThreadedEventLoopGroup.singleton)
            do {
                answer = .success(
                    try await client.call(
                        service: AttestationAgentMethod.service, method: method.rawValue,
                        payload: request.protobufBytes(), timeout: .nanoseconds(Int64(timeout * 1e9))))
            } catch {
                answer = .failure(error)
            }
            await client.close()
        } catch {
            answer = .failure(error)
        }
        let payload: [UInt8]
        do {
            payload = try answer.get()
        } catch let error as TTRPCError {
            return .failure(CallFailure(message: error.description, exitCode: 1, code: error.code))
        } catch {
            return .failure(CallFailure(message: "\(error)", exitCode: 2))
        }
        do {
            return .success(try Response(protobufBytes: payload))
        } catch {
            return .failure(
                CallFailure(message: "the agent's answer to \(method.rawValue) does not decode: \(error)", exitCode: 2))
        }
    }
}

func printError(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func printJSON(_ value: JSON) {
    print(value.prettyPrinted())
}

/// Evidence and tokens are JSON text from every TEE; anything else is shown as base64.
func jsonOrBase64(_ bytes: [UInt8]) -> JSON {
    if bytes.isEmpty { return .null }
    if let text = String(validating: bytes, as: UTF8.self), let value = try? JSON(parsing: text) { return value }
    return .object([("base64", .string(Base64.encode(bytes)))])
}

func hexArgument(_ text: String, name: String) throws -> [UInt8] {
    guard let bytes = Hex.decode(text) else { throw ValidationError("\(name) '\(text)' is not hex") }
    return bytes
}

struct GetTeeType: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The TEE the agent runs in.")
    @OptionGroup var connection: ConnectionOptions
    func run() async throws {
        let response = try await connection.call(AttestationAgentMethods.getTeeType, EmptyMessage())
        printJSON(.object([("tee", .string(response.tee))]))
    }
}

struct GetAdditionalTees: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Further TEEs (devices) that add evidence.")
    @OptionGroup var connection: ConnectionOptions
    func run() async throws {
        let response = try await connection.call(AttestationAgentMethods.getAdditionalTees, EmptyMessage())
        printJSON(.object([("additional_tees", .array(response.additionalTees.map { .string($0) }))]))
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The agent's state, how initdata was bound, and where its configuration came from.")
    @OptionGroup var connection: ConnectionOptions
    func run() async throws {
        let s = try await connection.call(AttestationAgentMethods.getStatus, EmptyMessage())
        printJSON(
            .object([
                ("state", .string(s.state)), ("binding", .string(s.binding)), ("tee", .string(s.tee)),
                ("config_source", .string(s.configSource)), ("init_data_digest", .string(s.initDataDigest)),
                ("init_data_field", .string(s.initDataField)), ("kbs_url", .string(s.kbsURL)),
                ("kbs_cert", .string(s.kbsCert)),
            ]))
    }
}

struct GetEvidence: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The primary TEE's evidence over the given report data.")
    @OptionGroup var evidence: EvidenceOptions
    func run() async throws { try await evidence.run(AttestationAgentMethods.getEvidence) }
}

struct GetAdditionalEvidence: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The additional TEEs' evidence (null when there are none).")
    @OptionGroup var evidence: EvidenceOptions
    func run() async throws { try await evidence.run(AttestationAgentMethods.getAdditionalEvidence) }
}

/// GetEvidence and GetAdditionalEvidence take and answer the same messages.
struct EvidenceOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions
    @Option(help: ArgumentHelp("Report data, hex.", valueName: "HEX")) var runtimeData = ""

    func run(_ method: TypedMethod<GetEvidenceRequest, GetEvidenceResponse>) async throws {
        let request = GetEvidenceRequest(runtimeData: try hexArgument(runtimeData, name: "--runtime-data"))
        let response = try await connection.call(method, request)
        printJSON(.object([("evidence", jsonOrBase64(response.evidence))]))
    }
}

struct GetToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A token from the configured KBS or attestation service.")
    @OptionGroup var connection: ConnectionOptions
    @Option(name: .customLong("type"), help: ArgumentHelp("kbs or coco_as.", valueName: "TYPE")) var tokenType: String
    func run() async throws {
        let response = try await connection.call(
            AttestationAgentMethods.getToken, GetTokenRequest(tokenType: tokenType))
        printJSON(.object([("token", jsonOrBase64(response.token))]))
    }
}

struct BindInitData: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Binds initdata: its digest is checked against the hardware field.")
    @OptionGroup var digest: DigestOptions
    func run() async throws { try await digest.run(AttestationAgentMethods.bindInitData) }
}

struct CheckInitData: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "BindInitData under its 2024 name.")
    @OptionGroup var digest: DigestOptions
    func run() async throws { try await digest.run(AttestationAgentMethods.checkInitData) }
}

/// BindInitData and CheckInitData take the same message.
struct DigestOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions
    @Option(help: ArgumentHelp("The initdata digest, hex (empty: no initdata).", valueName: "HEX")) var digest = ""

    func run(_ method: TypedMethod<InitDataDigestRequest, EmptyMessage>) async throws {
        let request = InitDataDigestRequest(digest: try hexArgument(digest, name: "--digest"))
        _ = try await connection.call(method, request)
        printJSON(.object([]))
    }
}

struct UpdateConfiguration: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Configures the agent once, with an aa.toml text.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: ArgumentHelp("The configuration text (TOML).", valueName: "TEXT")) var config: String?
    @Option(help: ArgumentHelp("A file holding it.", valueName: "PATH")) var configFile: String?

    func validate() throws {
        guard (config == nil) != (configFile == nil) else {
            throw ValidationError("give exactly one of --config and --config-file")
        }
    }

    func run() async throws {
        var text = config ?? ""
        if let configFile {
            do { text = try LocalFile.readText(configFile) } catch { throw ValidationError("cannot read \(error)") }
        }
        _ = try await connection.call(
            AttestationAgentMethods.updateConfiguration, UpdateConfigurationRequest(config: text))
        printJSON(.object([]))
    }
}

struct ExtendRuntimeMeasurement: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Records an event and extends a runtime measurement register.")
    @OptionGroup var connection: ConnectionOptions
    @Option var domain: String
    @Option var operation: String
    @Option var content: String
    @Option(help: "The PCR index (default: the configured init_pcr).") var registerIndex: UInt64?
    func run() async throws {
        let request = ExtendRuntimeMeasurementRequest(
            domain: domain, operation: operation, content: content, registerIndex: registerIndex)
        let response = try await connection.call(AttestationAgentMethods.extendRuntimeMeasurement, request)
        printJSON(.object([("result", .string(response.result?.name ?? "UNKNOWN(\(response.rawResult))"))]))
    }
}

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Decodes a TDX quote (v4, v5), a TDREPORT, an SNP report or a CCA token: TEE, report data, launch measurement, init-data field."
    )
    @Argument(help: "The evidence file.") var file: String

    func run() async throws {
        let bytes: [UInt8]
        do { bytes = try LocalFile.read(file) } catch { throw ValidationError("cannot read \(error)") }
        do {
            printJSON(try EvidenceInspector.inspect(bytes).json)
        } catch {
            printError("\(file): \(error)")
            throw ExitCode(1)
        }
    }
}

struct InitData: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "initdata", abstract: "Works with initdata documents.", subcommands: [Digest.self, RTMREvent.self])

    static func document(_ file: String) throws -> InitDataDocument {
        do {
            return try InitDataDocument(text: try LocalFile.readText(file))
        } catch let error as InitDataError {
            printError("\(file): \(error)")
            throw ExitCode(1)
        } catch {
            printError("cannot read \(error)")
            throw ExitCode(1)
        }
    }

    struct RTMREvent: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rtmr-event",
            abstract:
                "Prints the AAEL event that anchors this document in TDX's RTMR3 (attestation-agent --initdata-rtmr), for a verifier's policy.",
            discussion:
                "A verifier replays the evidence's cc_eventlog to the quoted RTMR3 (trustee does) and requires the first AAEL event on CC measurement register 4 to be this text; trustee does not check that itself."
        )
        @Argument(help: "The initdata TOML document.") var file: String

        func run() async throws {
            let document = try InitData.document(file)
            let text = InitDataEvent.text(digest: document.digest, algorithm: document.algorithm.rawValue)
            printJSON(
                .object([
                    ("event", .string(text)), ("cc_mr_index", .unsigned(UInt64(InitDataEvent.register))),
                    ("rtmr", .unsigned(UInt64(InitDataEvent.register - 1))),
                    ("digest_sha384", .string(Hex.encode(EventLogAlgorithm.sha384.digest(AAEventLog.tagged(text))))),
                ]))
        }
    }

    struct Digest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Prints the value a host must set in the TEE's init-data field for this document (hex, or base64 as QEMU and kata take it)."
        )
        @Argument(help: "The initdata TOML document.") var file: String
        @Option(help: "tdx, snp, cca, se or sgx.") var tee: String
        @Flag(help: "Standard base64, the form of QEMU's mrconfigid=/host-data= and kata's digest.") var base64 = false

        static var tees: [TEEType] { TEEType.allCases.filter { $0.hostDigestSize != nil } }

        func run() async throws {
            guard let type = TEEType(rawValue: tee), let size = type.hostDigestSize else {
                throw ValidationError("--tee must be one of \(Self.tees.map(\.rawValue).joined(separator: ", "))")
            }
            let document = try InitData.document(file)
            let value = InitDataDigest.fitted(document.digest, to: size)
            print(base64 ? Base64.encode(value) : Hex.encode(value))
        }
    }
}
