import DataEncoding
import Testing

/// The byte-wise search against the standard library's own (which the
/// product avoids for its size, and the tests may use).
@Suite struct StringSearchTests {
    static let samples = ["", ":", "::", ":::", "a::b", "cc_kbc::http://1.2.3.4:8080", "::x::", "a:b", "ä::ö::", "x"]

    @Test func splitAgreesWithTheStandardLibrary() {
        for text in Self.samples {
            #expect(
                text.splitBytes(separator: "::")
                    == text.split(separator: "::", omittingEmptySubsequences: false).map(String.init), "\(text)")
        }
    }

    @Test func containsAgreesWithTheStandardLibrary() {
        for text in Self.samples {
            for needle in ["", ":", "::", "b", "ä::", "http", "zz"] {
                #expect(text.containsBytes(of: needle) == text.contains(needle), "\(needle) in \(text)")
            }
        }
    }
}
