#!/usr/bin/env python3
"""Checks SNP evidence JSON the way trustee's SNP verifier reads it, from the
report bytes alone: AMD's SEV-SNP ABI offsets (struct) for the numbers, and
the sev crate's rule for the certificate table (GUIDs read with
uuid.UUID(bytes=...), i.e. RFC 4122 byte order). It shares no code with the
agent. Usage: snp_evidence.py REPORT EVIDENCE_JSON [AUXBLOB]; prints "ok" or
the first difference and exits 1."""
import json
import struct
import sys
import uuid

# The sev crate's CertType names for the GUIDs of the GHCB certificate table.
CERT_TYPES = {
    "c0b406a4-a803-4952-9743-3fb6014cd0ae": "ARK",
    "4ab7b379-bbac-4fe4-a02f-05aef327c782": "ASK",
    "63da758d-e664-4564-adc5-f4b93be8accd": "VCEK",
    "a8074bc2-a25a-483e-aae6-39c045a0b8a1": "VLEK",
    "92f81bc3-5811-4d3d-97ff-d19f88dc67ea": "CRL",
}


def fail(message):
    print(message)
    sys.exit(1)


def expect(name, got, want):
    # json.loads keeps integers exact; a float here means the writer rounded.
    if type(got) is not type(want) or got != want:
        fail(f"{name}: evidence has {got!r}, the report has {want!r}")


def check_report(report, evidence):
    u32 = lambda off: struct.unpack_from("<I", report, off)[0]
    u64 = lambda off: struct.unpack_from("<Q", report, off)[0]
    version = u32(0x00)
    fields = {
        "version": version, "guest_svn": u32(0x04), "policy": u64(0x08), "vmpl": u32(0x30),
        "sig_algo": u32(0x34), "plat_info": u64(0x40), "key_info": u32(0x48),
    }
    if version >= 5:
        fields["launch_mit_vector"] = u64(0x1F8)
        fields["current_mit_vector"] = u64(0x200)
    for name, want in fields.items():
        expect(name, evidence.get(name), want)
    for name, off, size in [("report_data", 0x50, 64), ("measurement", 0x90, 48), ("host_data", 0xC0, 32),
                            ("chip_id", 0x1A0, 64)]:
        expect(name, evidence.get(name), list(report[off:off + size]))
    for name, off in [("current_tcb", 0x38), ("reported_tcb", 0x180), ("committed_tcb", 0x1E0), ("launch_tcb", 0x1F0)]:
        expect(name + ".microcode", evidence.get(name, {}).get("microcode"), report[off + 7])


def check_chain(auxblob, chain):
    entries = []
    index = 0
    while True:
        guid = auxblob[index * 24:index * 24 + 16]
        offset, length = struct.unpack_from("<II", auxblob, index * 24 + 16)
        if guid == bytes(16) and offset == 0 and length == 0:
            break
        text = str(uuid.UUID(bytes=bytes(guid)))
        cert_type = CERT_TYPES.get(text, {"OTHER": text})
        entries.append({"cert_type": cert_type, "data": list(auxblob[offset:offset + length])})
        index += 1
    expect("cert_chain", chain, entries)


def main():
    report = open(sys.argv[1], "rb").read()
    evidence = json.load(open(sys.argv[2]))
    check_report(report, evidence["attestation_report"])
    if len(sys.argv) > 3:
        check_chain(open(sys.argv[3], "rb").read(), evidence["cert_chain"])
    elif evidence["cert_chain"] is not None:
        fail("cert_chain: expected null without an auxblob")
    print("ok")


if __name__ == "__main__":
    main()
