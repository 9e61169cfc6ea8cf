import ArgumentParser
import AttestationAgentAPI
import Doctor
import LocalFiles

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `aactl doctor`: gathers what it can see (the agent's answers, the files
/// kata left) and prints the checklist `Doctor` makes of it.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Checks why attestation would fail here, and says what to do about it.",
        discussion:
            "One line per check: PASS, WARN or FAIL, what was seen and, for a warning or a failure, the fix. Exit status 0 when nothing fails, 1 otherwise."
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("The initdata document kata delivered.", valueName: "PATH"))
    var initdata = InitDataDiagnosis.defaultPath

    @Option(help: ArgumentHelp("The TEE whose interfaces to check when the agent does not answer.", valueName: "TEE"))
    var tee: String?

    @Option(
        help: ArgumentHelp(
            "Where the machine's files are (the agent's AA_PLATFORM_ROOT, which is also the default).",
            valueName: "PATH"))
    var root = getenv("AA_PLATFORM_ROOT").map { String(cString: $0) } ?? ""

    @Flag(help: "Print the checklist as JSON.")
    var json = false

    func run() async throws {
        let status = await connection.attempt(.getStatus, EmptyMessage(), as: GetStatusResponse.self)
            .mapError { DoctorFailure($0.message) }
        var checks = AgentDiagnosis.check(socket: connection.socket, status: status)
        if let tee = (try? status.get())?.tee ?? tee {
            let kernel = (try? LocalFile.readText(root + "/proc/sys/kernel/osrelease"))?.split(separator: "\n").first
            checks += MachineDiagnosis.check(tee: tee, kernel: kernel.map(String.init)) { access(root + $0, F_OK) == 0 }
        } else {
            checks.append(
                .warn(
                    "TEE interfaces", "not checked: the agent did not say which TEE this is",
                    fix: "pass --tee tdx|snp|cca|tpm|az-snp-vtpm|az-tdx-vtpm"))
        }
        checks += InitDataDiagnosis.check(path: initdata, text: Self.readIfPresent(initdata), status: try? status.get())
        let report = DoctorReport(checks)
        if json { printJSON(report.json) } else { print(report.text) }
        if report.failed { throw ExitCode(1) }
    }

    /// The file's text, nil when there is no file.
    static func readIfPresent(_ path: String) -> Result<String?, DoctorFailure> {
        guard access(path, F_OK) == 0 else { return .success(nil) }
        do { return .success(try LocalFile.readText(path)) } catch { return .failure(DoctorFailure(error.reason)) }
    }
}
