#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The agent's command line: the options kata-agent, systemd units and
/// people pass, each under upstream's name and its dashed twin. Written out
/// here rather than with swift-argument-parser, which brings Foundation into
/// the agent (aactl keeps it). `--name value`, `--name=value` and `-x value`
/// are accepted; usage errors exit 64 (EX_USAGE), as before.
enum AgentCommandLine {
    enum Outcome {
        case run(AttestationAgentCommand)
        case help
        case version
    }

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    /// One option: its names, the value it takes (nil for a flag), what it
    /// does, and how it sets the command.
    struct Option: Sendable {
        let names: [String]
        let value: String?
        let help: String
        let set: @Sendable (inout AttestationAgentCommand, String) -> Void
    }

    static let options: [Option] = [
        Option(
            names: ["-s", "--attestation_sock", "--attestation-sock"], value: "URI",
            help:
                "Where to listen: unix:///PATH or vsock://CID:PORT (CID -1 or any). Repeat to listen on several. Default: \(AttestationAgentCommand.defaultSocket)",
            set: { $0.attestationSock.append($1) }),
        Option(
            names: ["--restricted_sock", "--restricted-sock"], value: "URI",
            help:
                "Also listen at URI with the host-facing method allowlist of vsock listeners, e.g. a Unix socket a less trusted proxy reaches. Repeatable.",
            set: { $0.restrictedSock.append($1) }),
        Option(
            names: ["-c", "--config-file", "--config_file"], value: "PATH",
            help: "The agent's configuration, TOML (or JSON by the .json extension).",
            set: { $0.configFile = $1 }),
        Option(
            names: ["-i", "--initdata_digest", "--initdata-digest"], value: "BASE64",
            help: "The initdata digest to bind at launch, standard base64.",
            set: { $0.initdataDigest = $1 }),
        Option(
            names: ["-t", "--initdata_toml", "--initdata-toml"], value: "PATH",
            help: "The initdata document to bind at launch; wins over --initdata_digest.",
            set: { $0.initdataToml = $1 }),
        Option(
            names: ["--log-level"], value: "LEVEL",
            help: "trace, debug, info, warn, error; overrides RUST_LOG and [log] level of the configuration.",
            set: { $0.logLevel = $1 }),
        Option(
            names: ["--await-initdata", "--await_initdata"], value: nil,
            help:
                "Stay in Booting at launch until a BindInitData call, on every platform; on a TPM that call extends PCR 8 (for launchers that bind over the API).",
            set: { command, _ in command.awaitInitData = true }),
        Option(
            names: ["--initdata-rtmr", "--initdata_rtmr"], value: nil,
            help:
                "TDX whose MRCONFIGID the host could not set (all zero): anchor the initdata digest in RTMR3 by an InitData event that opens the event log, once per boot, instead of refusing it. Not checked by trustee itself: a KBS policy must.",
            set: { command, _ in command.initDataRTMR = true }),
        Option(
            names: ["--vsock-allow"], value: "METHOD",
            help:
                "Also allow METHOD on vsock listeners (repeatable; 'all' for every method). vsock faces the untrusted host: by default only GetTeeType, GetAdditionalTees and GetStatus are allowed.",
            set: { $0.vsockAllow.append($1) }),
    ]

    static func parse(_ arguments: [String]) throws(UsageError) -> Outcome {
        var command = AttestationAgentCommand()
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if argument == "-h" || argument == "--help" { return .help }
            if argument == "-V" || argument == "--version" { return .version }
            let (name, attached) = split(argument)
            guard let option = options.first(where: { $0.names.contains(name) }) else {
                throw UsageError(description: "unknown option '\(argument)'")
            }
            guard option.value != nil else {
                guard attached == nil else { throw UsageError(description: "\(name) takes no value") }
                option.set(&command, "")
                continue
            }
            guard let value = attached ?? rest.popFirst() else {
                throw UsageError(description: "\(name) needs a value (\(option.value!))")
            }
            option.set(&command, value)
        }
        try command.validate()
        return .run(command)
    }

    /// `--name=value` into its two halves; anything else as it is.
    private static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    static var help: String {
        var text = "The Attestation Agent of confidential containers, over ttrpc.\n\n"
        text += wrapped(
            "Proves that the initdata the host delivered hashes to the value the hardware signs into every report before anything trusts it, then serves evidence and tokens.",
            indent: 0)
        text += "\nUSAGE: attestation-agent [<options>]\n\nOPTIONS:\n"
        for option in options + [
            Option(names: ["-V", "--version"], value: nil, help: "Print the version and exit.", set: { _, _ in }),
            Option(names: ["-h", "--help"], value: nil, help: "Show this help.", set: { _, _ in }),
        ] {
            text += "  " + option.names.joined(separator: ", ") + (option.value.map { " <\($0)>" } ?? "") + "\n"
            text += wrapped(option.help, indent: 8)
        }
        text += "\nENVIRONMENT:\n"
        text += wrapped(
            "AA_PLATFORM_ROOT, AA_SAMPLE_INITDATA, AA_SAMPLE_EVIDENCE_DELAY_MS, AA_KBC_PARAMS, AA_TPM_TCTI, AA_TPM_DEVICE, AA_TPM_AK_HANDLE, AAEL_PATH, KATA_ATTESTER_VARIANT, ENABLE_SAMPLE_DEVICE, RUST_LOG, NOTIFY_SOCKET.",
            indent: 2)
        return text
    }

    /// `text` in lines of at most 80 columns, each indented by `indent`.
    private static func wrapped(_ text: String, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && pad.count + line.count + 1 + word.count > 80 {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines.map { pad + $0 + "\n" }.joined()
    }

    /// Parses the process's arguments and runs the agent; never returns.
    static func main() async -> Never {
        let command: AttestationAgentCommand
        do {
            switch try parse(Array(CommandLine.arguments.dropFirst())) {
            case .help:
                print(help, terminator: "")
                exit(0)
            case .version:
                print("attestation-agent \(AgentVersion.current)")
                exit(0)
            case .run(let parsed): command = parsed
            }
        } catch {
            printError("Error: \(error)\nUsage: attestation-agent [<options>]; see 'attestation-agent --help'.")
            exit(64)
        }
        do {
            try await command.run()
        } catch {
            printError("Error: \(error)")
            exit(1)
        }
        exit(0)
    }

    private static func printError(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
