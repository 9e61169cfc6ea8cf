#!/usr/bin/env python3
"""Replays the cc_eventlog of TDX evidence against the RTMRs of its quote, as
trustee's TDX verifier does, written from the TCG PC Client Platform Firmware
Profile (crypto-agile event log) and Intel's TDX DCAP quote layout. It shares
no code with the agent.

Usage: tdx_eventlog.py EVIDENCE_JSON [AAEL_TEXT ...]
Each AAEL_TEXT is an expected AAEL event ("domain operation content"), in
order. Prints a JSON summary and exits 0 when every RTMR replays; otherwise
prints why and exits 1."""
import base64
import hashlib
import json
import struct
import sys

EV_NO_ACTION = 0x3
EV_EVENT_TAG = 0x6
AAEL_TAG = 0x4141454C
SHA384 = 0x000C


def fail(message):
    print(message)
    sys.exit(1)


def quote_rtmrs(quote):
    """RTMR0-3 from a DCAP quote: a 48-byte header, then (version 5) a body
    descriptor of type and size, then the TD report, whose RTMRs start 328
    bytes in (TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, SEAMATTRIBUTES, TDATTRIBUTES,
    XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG come first)."""
    version, _, tee_type = struct.unpack_from("<HHI", quote, 0)
    if tee_type != 0x81:
        fail(f"quote TEE type {tee_type:#x} is not TDX")
    body = 48 if version == 4 else 48 + 6
    return [quote[body + 328 + 48 * i: body + 376 + 48 * i] for i in range(4)]


def parse_log(log):
    """The spec ID event (TCG_PCR_EVENT), then TCG_PCR_EVENT2 entries up to
    an eight-byte stop marker (all 0xFF, or all zero as trustee also stops)."""
    _, event_type = struct.unpack_from("<II", log, 0)
    (size,) = struct.unpack_from("<I", log, 28)
    spec = log[32:32 + size]
    if event_type != EV_NO_ACTION or not spec.startswith(b"Spec ID Event03\0"):
        fail("the log does not start with a TCG_EfiSpecIdEvent")
    (count,) = struct.unpack_from("<I", spec, 24)
    sizes = {}
    for i in range(count):
        algorithm, digest_size = struct.unpack_from("<HH", spec, 28 + 4 * i)
        sizes[algorithm] = digest_size
    if sizes.get(SHA384) != 48:
        fail(f"the spec ID event does not announce SHA-384: {sizes}")
    offset = 32 + size
    entries = []
    while True:
        if offset + 8 > len(log):
            fail("the log has no stop marker")
        marker = log[offset:offset + 8]
        if marker in (b"\xff" * 8, b"\x00" * 8):
            break
        register, event_type, digest_count = struct.unpack_from("<III", log, offset)
        offset += 12
        digests = {}
        for _ in range(digest_count):
            (algorithm,) = struct.unpack_from("<H", log, offset)
            digests[algorithm] = log[offset + 2:offset + 2 + sizes[algorithm]]
            offset += 2 + sizes[algorithm]
        (data_size,) = struct.unpack_from("<I", log, offset)
        data = log[offset + 4:offset + 4 + data_size]
        offset += 4 + data_size
        entries.append((register, event_type, digests, data))
    return entries, offset


def main():
    evidence = json.load(open(sys.argv[1]))
    expected_aael = sys.argv[2:]
    rtmrs = quote_rtmrs(base64.b64decode(evidence["quote"]))
    if evidence.get("cc_eventlog") is None:
        if any(r != bytes(48) for r in rtmrs) or expected_aael:
            fail("no cc_eventlog, but the RTMRs are not all zero")
        print(json.dumps({"entries": 0, "aael": []}))
        return
    log = base64.b64decode(evidence["cc_eventlog"])
    entries, end = parse_log(log)
    if log[end:] != b"\xff" * 8:
        fail(f"the log continues after its stop marker at byte {end}: {len(log) - end} bytes")
    aael = []
    replayed = {index: bytes(48) for index in range(1, 5)}
    for register, event_type, digests, data in entries:
        digest = digests.get(SHA384)
        if digest is None:
            fail(f"an event for register {register} has no SHA-384 digest")
        if event_type == EV_EVENT_TAG:
            tag, size = struct.unpack_from("<II", data, 0)
            if hashlib.sha384(data).digest() != digest:
                fail("an EV_EVENT_TAG digest is not the SHA-384 of its event data")
            if tag == AAEL_TAG:
                aael.append(data[8:8 + size].decode())
        if register in replayed:
            replayed[register] = hashlib.sha384(replayed[register] + digest).digest()
    for index in range(1, 5):
        if replayed[index] != rtmrs[index - 1]:
            fail(f"RTMR{index - 1} replays to {replayed[index].hex()}, the quote has {rtmrs[index - 1].hex()}")
    if expected_aael and aael != expected_aael:
        fail(f"AAEL entries {aael}, expected {expected_aael}")
    print(json.dumps({"entries": len(entries), "aael": aael}))


if __name__ == "__main__":
    main()
