import NIOEmbedded

/// Makes a test's EmbeddedChannels and finishes them when the test's suite
/// value goes away: an unfinished EmbeddedChannel keeps its pipeline alive,
/// which LeakSanitizer reports (Scripts/sanitize.sh).
final class EmbeddedChannels {
    private var made: [EmbeddedChannel] = []

    func make() -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        made.append(channel)
        return channel
    }

    deinit {
        for channel in made { _ = try? channel.finish(acceptAlreadyClosed: true) }
    }
}
