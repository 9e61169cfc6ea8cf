import AttestationFormats
import DataEncoding

/// A fresh GetEvidence checked the way trustee's verifier for the TEE checks
/// it, signatures aside: the report data it was asked for, the init-data
/// field or PCR 8 against the bound digest, and (TDX) the RTMRs replayed
/// from the event log sent beside the quote.
public enum EvidenceDiagnosis {
    /// What the evidence carries, in the TEE's own form.
    struct Contents {
        var reportData: [UInt8]
        var expectedReportData: [UInt8]
        /// The init-data field and what the bound digest makes of it; nil where there is none.
        var field: (name: String, seen: [UInt8], expected: [UInt8])?
        /// TDX: the quote's RTMRs and the log sent beside it (nil when none).
        var rtmrs: (quoted: [[UInt8]], log: [UInt8]?)?
    }

    /// `digest` is the bound initdata digest (empty when none was bound);
    /// `anchoredInRTMR3` when the agent bound it by the event log's InitData
    /// event (GetStatus's binding `rtmr3`) rather than by the field.
    public static func check(
        tee: String, evidence: [UInt8], reportData: [UInt8], digest: [UInt8], anchoredInRTMR3: Bool = false
    ) -> [DoctorCheck] {
        var contents: Contents
        do { contents = try read(tee: tee, evidence: evidence, reportData: reportData, digest: digest) } catch {
            return [
                .fail(
                    "evidence", "the \(tee) evidence does not parse as trustee's verifier reads it: \(error)",
                    fix: "this agent's evidence is broken for \(tee): report it with the output of aactl get-evidence")
            ]
        }
        var checks: [DoctorCheck] = []
        checks.append(
            contents.reportData == contents.expectedReportData
                ? .pass("evidence report data", "\(tee) evidence carries the report data it was asked for")
                : .fail(
                    "evidence report data",
                    "asked for \(Hex.encode(contents.expectedReportData)), the evidence carries \(Hex.encode(contents.reportData))",
                    fix: "this agent does not bind report data on \(tee) as trustee expects: report it"))
        if anchoredInRTMR3, let rtmrs = contents.rtmrs {
            contents.field = nil
            checks.append(initDataEvent(log: rtmrs.log, digest: digest))
        }
        if let field = contents.field, !digest.isEmpty {
            checks.append(
                field.seen == field.expected
                    ? .pass("evidence init-data", "\(field.name) in the evidence is the bound digest")
                    : .fail(
                        "evidence init-data",
                        "\(field.name) is \(Hex.encode(field.seen)), the bound digest makes \(Hex.encode(field.expected))",
                        fix:
                            "the host set another value (or another program extended PCR 8): launch the VM with the initdata the guest was given"
                    ))
        }
        if let rtmrs = contents.rtmrs { checks.append(replay(rtmrs.quoted, log: rtmrs.log)) }
        return checks
    }

    /// On a (v)TPM, whether the agent quotes with the attestation key
    /// provisioned for the machine (it makes none of its own): nil elsewhere,
    /// and when evidence failed for another reason. `refusal` is GetEvidence's
    /// error, nil when it answered; `notProvisioned` when its code was
    /// FAILED_PRECONDITION, the agent's code for a missing key.
    public static func attestationKeyCheck(tee: String, refusal: String?, notProvisioned: Bool) -> DoctorCheck? {
        let name = "TPM attestation key"
        guard ["tpm", "az-snp-vtpm", "az-tdx-vtpm"].contains(tee) else { return nil }
        guard let refusal else {
            return .pass(name, "the quote is signed by the key provisioned at the agent's persistent handle")
        }
        guard notProvisioned else { return nil }
        return .fail(
            name, refusal,
            fix: tee == "tpm"
                ? "provision the machine's attestation key at the handle named (tpm2_createek -c ek.ctx; tpm2_createak -C ek.ctx -c ak.ctx -G rsa -g sha256 -s rsassa; tpm2_evictcontrol -C o -c ak.ctx HANDLE) before the agent quotes, or set AA_TPM_AK_HANDLE in the agent's environment to the handle of the key the machine has"
                : "Azure's paravisor provisions this key: if this is an Azure confidential VM, remove a wrong AA_TPM_AK_HANDLE from the agent's environment; else the agent took an ordinary vTPM for Azure's"
        )
    }

    /// With the RTMR3 anchor: the first AAEL event on RTMR3 is the InitData
    /// event of the bound digest.
    static func initDataEvent(log: [UInt8]?, digest: [UInt8]) -> DoctorCheck {
        let name = "evidence init-data"
        let events = log.flatMap { try? CCEventLog.aaelEvents($0) } ?? []
        let first = events.first { $0.register == InitDataEvent.register }
        guard let first, InitDataEvent.isInitData(first.text) else {
            return .fail(
                name,
                "the first AAEL event on RTMR3 is \(first.map { "'\($0.text)'" } ?? "missing"), not an InitData event",
                fix: "the agent bound initdata by an event the evidence does not show first: start a new VM")
        }
        guard first.text.hasSuffix(":" + Hex.encode(digest)) else {
            return .fail(
                name, "the InitData event is '\(first.text)', the bound digest is \(Hex.encode(digest))",
                fix: "the log and the agent disagree on initdata: start a new VM")
        }
        return .pass(name, "the first AAEL event on RTMR3 anchors the bound digest: '\(first.text)'")
    }

    static func replay(_ quoted: [[UInt8]], log: [UInt8]?) -> DoctorCheck {
        let name = "event log replay"
        guard let log else {
            return .warn(
                name, "the evidence carries no cc_eventlog: trustee cannot replay the RTMRs",
                fix:
                    "enable the event log ([eventlog_config] enable_eventlog = true) and use firmware with a CCEL table"
            )
        }
        let replayed: [[UInt8]]
        do { replayed = try CCEventLog.replayedRTMRs(log) } catch {
            return .fail(name, "the cc_eventlog does not parse: \(error)", fix: "report it with the evidence")
        }
        let differing = (0..<4).filter { replayed[$0] != quoted[$0] }
        guard let first = differing.first else {
            return .pass(name, "RTMR 0-3 in the quote replay from the cc_eventlog")
        }
        return .fail(
            name,
            "RTMR \(differing.map(String.init).joined(separator: ", ")) do not replay: RTMR \(first) is \(Hex.encode(quoted[first])), the log gives \(Hex.encode(replayed[first]))",
            fix:
                "something extended an RTMR without logging it through the agent (or the agent's event log was lost): measure only with ExtendRuntimeMeasurement, and start a new VM"
        )
    }

    static func read(tee: String, evidence: [UInt8], reportData: [UInt8], digest: [UInt8]) throws -> Contents {
        let json = try JSON(parsing: String(decoding: evidence, as: UTF8.self))
        func field(_ key: String) throws -> JSON {
            guard let value = json[key] else { throw ReportParseError("no \(key)") }
            return value
        }
        func base64(_ value: JSON, _ name: String) throws -> [UInt8] {
            guard let text = value.string, let bytes = Base64.decode(text) else {
                throw ReportParseError("\(name) is not base64")
            }
            return bytes
        }
        func byteArray(_ value: JSON?, _ name: String) throws -> [UInt8] {
            guard case .array(let items)? = value else { throw ReportParseError("\(name) is not an array of bytes") }
            return try items.map { item in
                guard let number = item.unsigned ?? item.number.map({ UInt64($0) }), number < 256 else {
                    throw ReportParseError("\(name) holds a value that is not a byte")
                }
                return UInt8(number)
            }
        }
        func pcr8(_ pcrs: JSON?) throws -> [UInt8] {
            guard case .array(let values)? = pcrs, values.count == 24, let hex = values[8].string,
                let pcr = Hex.decode(hex)
            else {
                throw ReportParseError("pcrs is not 24 hex PCRs")
            }
            return pcr
        }
        let extendedPCR8 = SHA2.sha256([UInt8](repeating: 0, count: 32) + InitDataDigest.fitted(digest, to: 32))
        switch tee {
        case "sample":
            return Contents(
                reportData: try base64(try field("report_data"), "report_data"), expectedReportData: reportData)
        case "tdx":
            let quote = try TDXQuote(parsing: try base64(try field("quote"), "quote"))
            let log = try json["cc_eventlog"].flatMap { $0 == .null ? nil : try base64($0, "cc_eventlog") }
            return Contents(
                reportData: quote.reportData, expectedReportData: InitDataDigest.fitted(reportData, to: 64),
                field: ("MRCONFIGID", quote.measurements.mrConfigID, InitDataDigest.fitted(digest, to: 48)),
                rtmrs: (quote.measurements.rtmrs, log))
        case "snp":
            let report = try field("attestation_report")
            return Contents(
                reportData: try byteArray(report["report_data"], "report_data"),
                expectedReportData: InitDataDigest.fitted(reportData, to: 64),
                field: (
                    "HOST_DATA", try byteArray(report["host_data"], "host_data"), InitDataDigest.fitted(digest, to: 32)
                ))
        case "cca":
            let token = try CCAToken(parsing: try byteArray(try field("token"), "token"))
            return Contents(
                reportData: token.challenge, expectedReportData: InitDataDigest.fitted(reportData, to: 64),
                field: ("the personalization value", token.personalizationValue, InitDataDigest.fitted(digest, to: 64)))
        case "tpm":
            let quote = try field("tpm_quote")
            let attest = try TPMQuoteAttest(parsing: try base64(quote["message"] ?? .null, "tpm_quote.message"))
            return Contents(
                reportData: attest.extraData, expectedReportData: InitDataDigest.fitted(reportData, to: 32),
                field: ("PCR 8", try pcr8(quote["pcrs"]), extendedPCR8))
        case "az-snp-vtpm", "az-tdx-vtpm":
            let quote = try field("tpm_quote")
            guard let message = quote["message"]?.string.flatMap(Hex.decode) else {
                throw ReportParseError("tpm_quote.message is not hex")
            }
            return Contents(
                reportData: try TPMQuoteAttest(parsing: message).extraData, expectedReportData: reportData,
                field: ("PCR 8", try pcr8(quote["pcrs"]), extendedPCR8))
        default:
            throw ReportParseError("doctor does not read \(tee) evidence")
        }
    }
}
