import NIOPosix
import PlatformInterface

/// Where work that blocks its thread runs: configfs-tsm, the TDX and SNP
/// ioctls, sysfs registers, the TPM and the event log's files. SwiftNIO's
/// thread pool is made for it; Swift's cooperative pool (one thread per
/// core) never waits on a device, so other calls go on meanwhile. Work not
/// yet started when its task is cancelled does not start.
public enum DeviceThreads {
    public static func run<T: Sendable>(
        _ body: @escaping @Sendable () throws(PlatformError) -> T
    ) async throws(PlatformError) -> T {
        let outcome: Result<T, PlatformError>
        do {
            outcome = try await NIOThreadPool.singleton.runIfActive { () -> Result<T, PlatformError> in
                do throws(PlatformError) { return .success(try body()) } catch { return .failure(error) }
            }
        } catch {
            throw PlatformError(.cancelled, "the call was cancelled before its device work began")
        }
        return try outcome.get()
    }
}
