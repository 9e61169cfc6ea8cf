import Crypto
import Foundation
import LocalFiles
import NIOConcurrencyHelpers
import PlatformInterface

@testable import Platform

/// An in-memory stand-in for the kernel's files, for what a folder cannot
/// imitate: a configfs-tsm entry that produces a report when `inblob` is
/// written. It sits behind `KernelFiles`, the interface `PlatformRoot` implements.
final class FakeKernel: KernelFiles, @unchecked Sendable {
    struct State {
        var files: [String: [UInt8]] = [:]
        var directories: Set<String> = []
    }

    let state = NIOLockedValueBox(State())
    let provider: String
    /// Builds the provider's report for an inblob, seeing the kernel's files
    /// (so a TDX quote can carry the RTMRs as they are at that moment).
    let makeReport: @Sendable ([UInt8], [String: [UInt8]]) -> [UInt8]
    /// Extra generations a racing writer adds on each inblob write.
    var racingWrites = 0
    /// What `auxblob` holds after a report (SNP's certificate table), if anything.
    var auxblob: [UInt8]?

    convenience init(provider: String, makeReport: @escaping @Sendable ([UInt8]) -> [UInt8]) {
        self.init(provider: provider, makeReportFromFiles: { inblob, _ in makeReport(inblob) })
    }

    init(provider: String, makeReportFromFiles: @escaping @Sendable ([UInt8], [String: [UInt8]]) -> [UInt8]) {
        self.provider = provider
        self.makeReport = makeReportFromFiles
        _ = state.withLockedValue { $0.directories.insert(ConfigfsTSM.reportDirectory) }
    }

    func set(_ path: String, _ bytes: [UInt8]) { state.withLockedValue { $0.files[path] = bytes } }

    func read(_ path: String) throws(FileError) -> [UInt8] {
        guard let bytes = state.withLockedValue({ $0.files[path] }) else {
            throw FileError(path: path, reason: "No such file or directory")
        }
        return bytes
    }

    func write(_ path: String, _ bytes: [UInt8]) throws(FileError) {
        let directory = (path as NSString).deletingLastPathComponent
        guard state.withLockedValue({ $0.directories.contains(directory) || $0.files[path] != nil }) else {
            throw FileError(path: path, reason: "No such file or directory")
        }
        state.withLockedValue { state in
            // An RTMR attribute extends: new = SHA-384(old || digest).
            if path.hasSuffix(":sha384") {
                let old = state.files[path] ?? [UInt8](repeating: 0, count: 48)
                state.files[path] = Array(SHA384.hash(data: old + bytes))
                return
            }
            state.files[path] = bytes
            if path.hasSuffix("/inblob") {
                let generation = Int(String(decoding: state.files[directory + "/generation"] ?? [], as: UTF8.self)) ?? 0
                state.files[directory + "/generation"] = Array("\(generation + 1 + racingWrites)\n".utf8)
                state.files[directory + "/outblob"] = makeReport(bytes, state.files)
                if let auxblob { state.files[directory + "/auxblob"] = auxblob }
            }
        }
    }

    func exists(_ path: String) -> Bool {
        state.withLockedValue { $0.files[path] != nil || $0.directories.contains(path) }
    }

    func makeDirectory(_ path: String) throws(FileError) {
        state.withLockedValue { state in
            state.directories.insert(path)
            if (path as NSString).deletingLastPathComponent == ConfigfsTSM.reportDirectory {
                state.files[path + "/provider"] = Array("\(provider)\n".utf8)
                state.files[path + "/generation"] = Array("0\n".utf8)
            }
        }
    }

    func removeDirectory(_ path: String) throws(FileError) {
        state.withLockedValue { state in
            state.directories.remove(path)
            state.files = state.files.filter { !$0.key.hasPrefix(path + "/") }
        }
    }

    var entriesLeft: Int {
        state.withLockedValue { $0.directories.filter { $0.hasPrefix(ConfigfsTSM.reportDirectory + "/") }.count }
    }
}
