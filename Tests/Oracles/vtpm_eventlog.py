#!/usr/bin/env python3
"""Replays the cc_eventlog of az-snp-vtpm evidence against the PCRs of its
TPM quote, as trustee's az-snp-vtpm verifier does since trustee PR 1565,
written from that rule and the TCG PC Client Platform Firmware Profile
(crypto-agile event log); it shares no code with the agent.

The rules:
1. The log is a TCG_EfiSpecIdEvent (EV_NO_ACTION, its digest sizes by
   algorithm), then TCG_PCR_EVENT2 entries up to an eight-byte stop marker
   (all 0xFF, or all zero). Every digest's algorithm must have a size in the
   spec ID event.
2. Each entry names the register it extends; on a vTPM that is the PCR
   number itself. Every register an entry names is replayed on its own:
   from its reset value (all 0xFF for the dynamic-launch PCRs 17-22, all
   zero for the others) each SHA-256 digest extends it in log order.
3. Each replayed register must equal that PCR in the quote.
EV_EVENT_TAG entries tagged AAEL carry "domain operation content"; their
SHA-256 digest is over the tagged event.

    vtpm_eventlog.py EVIDENCE_JSON [AAEL_TEXT ...]

Prints a JSON summary ({"registers", "aael"}) and exits 0 when every
register replays (and the AAEL texts are the ones given, in order);
otherwise prints why and exits 1.
"""
import base64
import hashlib
import json
import struct
import sys

EV_NO_ACTION = 0x3
EV_EVENT_TAG = 0x6
AAEL_TAG = 0x4141454C
SHA256 = 0x000B


class Broken(Exception):
    pass


def reset_value(pcr):
    return b"\xff" * 32 if 17 <= pcr <= 22 else bytes(32)


def parse(log):
    """The entries of a crypto-agile log: (register, type, {alg: digest}, data)."""
    try:
        _, event_type = struct.unpack_from("<II", log, 0)
        (size,) = struct.unpack_from("<I", log, 28)
    except struct.error:
        raise Broken("the log is shorter than a spec ID event")
    spec = log[32:32 + size]
    if event_type != EV_NO_ACTION or not spec.startswith(b"Spec ID Event03\0"):
        raise Broken("the log does not start with a TCG_EfiSpecIdEvent")
    (count,) = struct.unpack_from("<I", spec, 24)
    sizes = dict(struct.unpack_from("<HH", spec, 28 + 4 * i) for i in range(count))
    offset, entries = 32 + size, []
    while True:
        marker = log[offset:offset + 8]
        if len(marker) < 8:
            raise Broken("the log has no stop marker")
        if marker in (b"\xff" * 8, b"\x00" * 8):
            return entries, offset
        register, event_type, digest_count = struct.unpack_from("<III", log, offset)
        offset += 12
        digests = {}
        for _ in range(digest_count):
            (algorithm,) = struct.unpack_from("<H", log, offset)
            if algorithm not in sizes:
                raise Broken(f"missing digest size for algorithm {algorithm:#x} in the spec ID event")
            digests[algorithm] = log[offset + 2:offset + 2 + sizes[algorithm]]
            offset += 2 + sizes[algorithm]
        (data_size,) = struct.unpack_from("<I", log, offset)
        data = log[offset + 4:offset + 4 + data_size]
        if len(data) != data_size:
            raise Broken("an event runs past the end of the log")
        offset += 4 + data_size
        entries.append((register, event_type, digests, data))


def replay(evidence):
    """The replayed registers and the AAEL texts; raises Broken on a rule broken."""
    pcrs = [bytes.fromhex(p) for p in evidence["tpm_quote"]["pcrs"]]
    encoded = evidence.get("cc_eventlog")
    if encoded is None:
        return {}, []
    log = base64.b64decode(encoded)
    entries, end = parse(log)
    replayed, aael = {}, []
    for register, event_type, digests, data in entries:
        if event_type == EV_NO_ACTION:
            continue
        digest = digests.get(SHA256)
        if digest is None:
            raise Broken(f"an event for PCR {register} has no SHA-256 digest")
        if register >= len(pcrs):
            raise Broken(f"an event names PCR {register}, the quote has {len(pcrs)}")
        if event_type == EV_EVENT_TAG:
            tag, size = struct.unpack_from("<II", data, 0)
            if hashlib.sha256(data).digest() != digest:
                raise Broken("an EV_EVENT_TAG digest is not SHA-256 of its event data")
            if tag == AAEL_TAG:
                aael.append(data[8:8 + size].decode())
        replayed[register] = hashlib.sha256(replayed.get(register, reset_value(register)) + digest).digest()
    for register, value in replayed.items():
        if value != pcrs[register]:
            raise Broken(f"PCR {register} replays to {value.hex()}, the quote has {pcrs[register].hex()}")
    return replayed, aael


def main():
    evidence = json.load(open(sys.argv[1]))
    try:
        replayed, aael = replay(evidence)
    except (Broken, KeyError, ValueError, struct.error) as error:
        print(f"broken: {error}")
        return 1
    if len(sys.argv) > 2 and aael != sys.argv[2:]:
        print(f"broken: AAEL entries {aael}, expected {sys.argv[2:]}")
        return 1
    print(json.dumps({"registers": sorted(replayed), "aael": aael}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
