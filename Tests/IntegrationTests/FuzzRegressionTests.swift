import Foundation
import TestSupport
import Testing

/// Every fuzz target over its seeds, the fixtures and every input that once
/// crashed it (Tests/Fuzz/regressions/TARGET), through `aa-fuzz` built
/// without libFuzzer: a crash there kills the process and fails the test.
@Suite struct FuzzRegressionTests {
    static let targets: [String] = {
        let listed = (try? CommandResult.run("aa-fuzz", ["--list"]))?.stdout ?? ""
        return listed.split(separator: "\n").map(String.init)
    }()

    static func inputs(_ target: String) -> [String] {
        let root = PackagePaths.root
        var paths = ["\(root)/Tests/Fuzz/seeds/\(target)", "\(root)/Tests/Fuzz/regressions/\(target)"]
        switch target {
        case "json", "frames", "envelope", "messages": paths.append("\(root)/Tests/Fixtures/frames")
        case "toml", "initdata", "config": paths += ["\(root)/Tests/Fixtures/initdata", "\(root)/deploy/aa.toml"]
        case "inspect", "snp-evidence", "cca-token", "hcl", "ccel", "tpm-attest":
            paths.append("\(root)/Tests/Fixtures/reports")
        default: break
        }
        return paths.filter { FileManager.default.fileExists(atPath: $0) }
    }

    @Test func everyTargetIsListed() {
        #expect(Self.targets.count >= 15, "\(Self.targets)")
    }

    @Test(arguments: FuzzRegressionTests.targets)
    func replaysWithoutACrash(_ target: String) throws {
        let result = try CommandResult.run("aa-fuzz", [target] + Self.inputs(target))
        #expect(result.status == 0, "\(target): \(result.stderr)")
        #expect(result.stdout.contains("no crash"))
    }
}
