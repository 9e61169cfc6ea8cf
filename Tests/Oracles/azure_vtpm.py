#!/usr/bin/env python3
"""Checks Azure confidential-VM evidence the way trustee's az-snp-vtpm and
az-tdx-vtpm verifiers do (deps/verifier/src/az_snp_vtpm, az_tdx_vtpm),
signatures of AMD and Intel aside, written from their rules and not from
the agent's code:

    azure_vtpm.py EVIDENCE --tee az-snp-vtpm|az-tdx-vtpm --report-data HEX [--init-data-digest HEX]

1. The evidence is version 2: tpm_quote {signature, message, pcrs} in hex,
   hcl_report and vcek / td_quote in base64url.
2. The quote (a TPMS_ATTEST) is signed, RSASSA PKCS #1 v1.5 with SHA-256, by
   the key whose JWK (kid HCLAkPub) is in the HCL report's variable data.
3. The quote's extra data (its nonce) is the report data, byte for byte.
4. SHA-256 over the 24 PCRs in order is the quote's PCR digest.
5. The hardware report's report data (SNP report, or the TD quote's body)
   begins with SHA-256 of the HCL variable data; SNP's VMPL is 0.
6. The variable data's user-data (hex) begins with the report data.
7. PCR 8 is SHA-256(32 zero bytes || init-data digest).
8. az-snp-vtpm: the cc_eventlog, when there is one, replays to the quoted
   PCRs (vtpm_eventlog.py, trustee PR 1565's rule).
Prints "ok" or the first rule broken, and exits 1 then.
"""
import argparse
import base64
import hashlib
import json
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import vtpm_eventlog


class Broken(Exception):
    pass


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tpm2b(data, at):
    (size,) = struct.unpack_from(">H", data, at)
    if at + 2 + size > len(data):
        raise Broken("a TPM2B runs past the end of the quote")
    return data[at + 2:at + 2 + size], at + 2 + size


def parse_attest(message):
    """TPMS_ATTEST (TPM 2.0 part 2, 10.12.12) of a quote: (extra data, PCR digest)."""
    magic, kind = struct.unpack_from(">IH", message, 0)
    if magic != 0xFF544347 or kind != 0x8018:
        raise Broken(f"the quote message is not a TPM-generated quote (magic {magic:#x}, type {kind:#x})")
    _, at = tpm2b(message, 6)            # qualifiedSigner
    extra, at = tpm2b(message, at)       # extraData
    at += 17 + 8                         # clockInfo, firmwareVersion
    (count,) = struct.unpack_from(">I", message, at)
    at += 4
    for _ in range(count):               # TPMS_PCR_SELECTION: hash, sizeofSelect, pcrSelect
        at += 2
        at += 1 + message[at]
    digest, at = tpm2b(message, at)
    return extra, digest


def parse_hcl(report):
    if report[:4] != b"HCLA":
        raise Broken("the HCL report does not start with HCLA")
    hardware = report[32:32 + 1184]
    _, _, report_type, hash_type, var_size = struct.unpack_from("<5I", report, 32 + 1184)
    var_data = report[32 + 1184 + 20:32 + 1184 + 20 + var_size]
    if len(var_data) != var_size:
        raise Broken("the HCL variable data is cut short")
    return hardware, report_type, hash_type, var_data


def ak_public(var_data):
    keys = json.loads(var_data).get("keys", [])
    for key in keys:
        if key.get("kid") == "HCLAkPub" and key.get("kty") == "RSA":
            n = int.from_bytes(unb64url(key["n"]), "big")
            e = int.from_bytes(unb64url(key["e"]), "big")
            return rsa.RSAPublicNumbers(e, n).public_key()
    raise Broken("the HCL variable data has no RSA key with kid HCLAkPub")


def td_quote_report_data(quote):
    version, _, tee_type = struct.unpack_from("<HHI", quote, 0)
    if version not in (4, 5) or tee_type != 0x81:
        raise Broken(f"the TD quote is not a TDX quote v4/v5 (version {version}, TEE type {tee_type:#x})")
    body = 48 + (6 if version == 5 else 0)
    return quote[body + 520:body + 584]


def check(evidence, tee, report_data, init_data_digest=None):
    if evidence.get("version") != 2:
        raise Broken(f"evidence version {evidence.get('version')!r}, not 2")
    quote = evidence["tpm_quote"]
    signature, message = bytes.fromhex(quote["signature"]), bytes.fromhex(quote["message"])
    pcrs = [bytes.fromhex(p) for p in quote["pcrs"]]
    hcl = unb64url(evidence["hcl_report"])
    hardware, report_type, hash_type, var_data = parse_hcl(hcl)
    if report_type != (2 if tee == "az-snp-vtpm" else 4) or hash_type != 1:
        raise Broken(f"the HCL report's type {report_type} / hash type {hash_type} do not fit {tee} and SHA-256")

    try:
        ak_public(var_data).verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except Broken:
        raise
    except Exception as error:
        raise Broken(f"the vTPM quote is not signed by HCLAkPub: {error!r}")

    nonce, pcr_digest = parse_attest(message)
    if nonce != report_data:
        raise Broken(f"the quote's nonce {nonce.hex()} is not the report data {report_data.hex()}")
    if len(pcrs) != 24 or any(len(p) != 32 for p in pcrs):
        raise Broken("the evidence does not carry 24 SHA-256 PCRs")
    if hashlib.sha256(b"".join(pcrs)).digest() != pcr_digest:
        raise Broken("the PCRs do not hash to the quote's PCR digest")

    if tee == "az-snp-vtpm":
        bound = hardware[0x50:0x90]
        if struct.unpack_from("<I", hardware, 0x30)[0] != 0:
            raise Broken("the SNP report is not from VMPL 0")
        if not unb64url(evidence["vcek"]).startswith(b"\x30"):
            raise Broken("the vcek is not a DER certificate")
    else:
        bound = td_quote_report_data(unb64url(evidence["td_quote"]))
        if hardware[128:192] != bound:
            raise Broken("the TD quote's report data is not the TD report's")
    if bound[:32] != hashlib.sha256(var_data).digest():
        raise Broken("the hardware report's report data is not SHA-256 of the HCL variable data")

    user_data = bytes.fromhex(json.loads(var_data)["user-data"])
    if user_data[:len(report_data)] != report_data:
        raise Broken(f"the HCL user-data {user_data.hex()} does not begin with the report data")

    if init_data_digest is not None:
        if hashlib.sha256(bytes(32) + init_data_digest).digest() != pcrs[8]:
            raise Broken(f"PCR 8 {pcrs[8].hex()} is not the init-data digest extended into zeros")

    if tee == "az-snp-vtpm":
        try:
            vtpm_eventlog.replay(evidence)
        except vtpm_eventlog.Broken as error:
            raise Broken(f"the cc_eventlog: {error}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("evidence")
    parser.add_argument("--tee", required=True, choices=["az-snp-vtpm", "az-tdx-vtpm"])
    parser.add_argument("--report-data", required=True)
    parser.add_argument("--init-data-digest")
    options = parser.parse_args()
    with open(options.evidence) as f:
        evidence = json.load(f)
    digest = bytes.fromhex(options.init_data_digest) if options.init_data_digest else None
    try:
        check(evidence, options.tee, bytes.fromhex(options.report_data), digest)
    except (Broken, KeyError, ValueError, struct.error) as error:
        print(f"broken: {error}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
