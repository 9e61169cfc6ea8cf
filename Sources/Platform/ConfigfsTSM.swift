import LocalFiles
import PlatformInterface

/// Reports through the kernel's configfs-tsm interface
/// (`/sys/kernel/config/tsm/report`), shared by TDX (`tdx_guest`), SEV-SNP
/// (`sev_guest`) and Arm CCA (`arm_cca_guest`): create an entry, write
/// `inblob`, read `outblob`, check `generation` for a racing writer, remove it.
public struct ConfigfsTSM: Sendable {
    public static let reportDirectory = "/sys/kernel/config/tsm/report"

    let files: any KernelFiles

    public init(files: any KernelFiles) {
        self.files = files
    }

    public var isPresent: Bool { files.exists(Self.reportDirectory) }

    /// The provider if configfs-tsm is there and answers, for detection.
    public func presentProvider() -> String? {
        isPresent ? try? provider() : nil
    }

    /// The provider behind configfs-tsm (e.g. `tdx_guest`), read from a fresh entry.
    public func provider() throws(PlatformError) -> String {
        try withEntry { entry throws(PlatformError) in try readProvider(entry) }
    }

    /// A report and, where the provider has one, its auxiliary blob (SNP's certificate table).
    public struct Report: Sendable {
        public let outblob: [UInt8]
        public let auxblob: [UInt8]?

        public init(outblob: [UInt8], auxblob: [UInt8]?) {
            self.outblob = outblob
            self.auxblob = auxblob
        }
    }

    /// The provider's report over `inblob` (the report data); `provider`
    /// must answer, so that a quote is never taken from the wrong TEE.
    public func report(inblob: [UInt8], provider expected: String) throws(PlatformError) -> [UInt8] {
        try reportWithAuxiliaryData(inblob: inblob, provider: expected).outblob
    }

    public func reportWithAuxiliaryData(inblob: [UInt8], provider expected: String) throws(PlatformError) -> Report {
        try withEntry { entry throws(PlatformError) in
            let provider = try readProvider(entry)
            guard provider == expected else {
                throw PlatformError(.deviceFailure, "configfs-tsm provider is '\(provider)', expected '\(expected)'")
            }
            let before = try generation(entry)
            try io { () throws(FileError) in try files.write(entry + "/inblob", inblob) }
            let report = try io { () throws(FileError) in try files.read(entry + "/outblob") }
            let auxblob = try? files.read(entry + "/auxblob")
            let after = try generation(entry)
            guard after == before + 1 else {
                throw PlatformError(
                    .deviceFailure,
                    "configfs-tsm entry \(entry) was written by someone else meanwhile (generation \(before) -> \(after)); retry"
                )
            }
            guard !report.isEmpty else { throw PlatformError(.deviceFailure, "configfs-tsm returned an empty outblob") }
            return Report(outblob: report, auxblob: auxblob.flatMap { $0.isEmpty ? nil : $0 })
        }
    }

    private func withEntry<T>(_ body: (String) throws(PlatformError) -> T) throws(PlatformError) -> T {
        let entry = Self.reportDirectory + "/aa-\(UInt64.random(in: 0...UInt64.max))"
        try io { () throws(FileError) in try files.makeDirectory(entry) }
        defer { try? files.removeDirectory(entry) }
        return try body(entry)
    }

    private func readProvider(_ entry: String) throws(PlatformError) -> String {
        let bytes = try io { () throws(FileError) in try files.read(entry + "/provider") }
        return String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
    }

    private func generation(_ entry: String) throws(PlatformError) -> UInt64 {
        let bytes = try io { () throws(FileError) in try files.read(entry + "/generation") }
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        guard let value = UInt64(text) else {
            throw PlatformError(.deviceFailure, "configfs-tsm generation '\(text)' is not a number")
        }
        return value
    }

    private func io<T>(_ body: () throws(FileError) -> T) throws(PlatformError) -> T {
        do { return try body() } catch { throw PlatformError(.deviceFailure, "configfs-tsm: \(error)", cause: error) }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let last = scalars.last, last == " " || last == "\n" || last == "\t" || last == "\0" {
            scalars.removeLast()
        }
        while let first = scalars.first, first == " " || first == "\n" || first == "\t" { scalars.removeFirst() }
        return String(String.UnicodeScalarView(scalars))
    }
}
