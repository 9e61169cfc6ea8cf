import AttestationFormats
import DataEncoding

/// `--initdata-rtmr`: whether the event log can be opened with a document's
/// InitData event (Sources/AttestationFormats/InitDataEvent.swift), is
/// already opened with it (a restart: nothing is extended again), or must be
/// refused. No I/O: the agent reads the log and the register and does what
/// this decides.
enum InitDataLogAnchor {
    /// The PCR whose register on TDX is RTMR3 (CC measurement register 4).
    static let pcr: UInt64 = 17

    enum Decision: Equatable {
        case record
        case alreadyAnchored
        case refuse(String)
    }

    /// `entries` is the agent's event log; `live` the register now;
    /// `replayed` what the firmware's log and `entries` make of it.
    static func decide(entries: [AAEventLog.Entry], text: String, live: [UInt8], replayed: [UInt8]) -> Decision {
        guard live == replayed else {
            return .refuse(
                "RTMR3 holds \(Hex.encode(live)), but the firmware's event log and the agent's replay to \(Hex.encode(replayed)): something extended it outside the agent's event log"
            )
        }
        if entries.first?.text == text { return .alreadyAnchored }
        if let other = entries.first(where: { InitDataEvent.isInitData($0.text) }) {
            return .refuse("the event log already anchors '\(other.text)', not '\(text)'")
        }
        if let first = entries.first {
            return .refuse(
                "\(entries.count) runtime measurement(s) were recorded before it (the first: '\(first.text)'), so it can no longer be the first event of this boot"
            )
        }
        return .record
    }

    /// `start` extended by each entry of `register`, in order.
    static func replay(
        from start: [UInt8], entries: [AAEventLog.Entry], register: UInt32, algorithm: EventLogAlgorithm
    ) -> [UInt8] {
        entries.filter { $0.register == register }.reduce(start) { algorithm.digest($0 + $1.digest) }
    }
}
