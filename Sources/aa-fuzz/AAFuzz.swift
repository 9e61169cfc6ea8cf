import FuzzTargets

#if canImport(Glibc)
import Glibc
#endif

#if FUZZING
import CFuzzDriver

/// The target AA_FUZZ_TARGET names (built by Scripts/fuzz.sh with
/// -sanitize=fuzzer and -DFUZZING).
private let target: FuzzTargets.Target = {
    let name = getenv("AA_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTargets.named(name) else {
        fatalError("AA_FUZZ_TARGET '\(name)' is not one of \(FuzzTargets.all.map(\.name).joined(separator: ", "))")
    }
    return target
}()

/// The entry libFuzzer's runtime expects to exist.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

/// libFuzzer's driver, from a main of our own: SwiftPM renames an
/// executable's main, so libFuzzer's could not be the entry point.
@main
struct AAFuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzzOne($0, $1) })
    }
}
#else
/// Without libFuzzer: `aa-fuzz TARGET PATH...` runs every file (a folder:
/// every file below it) through the target, so the seeds and every input that
/// once crashed are regression tests. `aa-fuzz --list` names the targets.
@main
struct AAFuzz {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--list" {
            print(FuzzTargets.all.map(\.name).joined(separator: "\n"))
            return
        }
        guard let name = arguments.first, let target = FuzzTargets.named(name) else {
            complain("usage: aa-fuzz TARGET PATH... | --list")
            exit(64)
        }
        var count = 0
        for path in arguments.dropFirst() {
            for file in files(path) {
                guard let bytes = read(file) else {
                    complain("cannot read \(file)")
                    exit(66)
                }
                target(bytes)
                count += 1
            }
        }
        print("\(name): \(count) inputs, no crash")
    }

    static func complain(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = write(2, bytes, bytes.count)
    }

    static func files(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [path] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(path + "/" + name) }
        }
        return names.sorted().flatMap(files)
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return bytes
    }
}
#endif
