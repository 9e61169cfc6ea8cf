#!/usr/bin/env python3
"""Writes Tests/Fixtures/reports/: synthetic TDX quotes (v4, v5), a TDREPORT,
an SNP report and a CCA token laid out by hand from Intel's, AMD's and Arm's
documented layouts, with known field values (non-zero init-data fields
included) listed in expected.json. They are the twins of the hardware captures
docs/testing.md lists, so the parser tests run where those are absent.
Run: python3 Scripts/make-report-fixtures.py"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "reports")


def pattern(seed, n):
    return bytes((seed + 7 * i) % 256 for i in range(n))


def tdx_measurements(seed):
    """TDATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0-3."""
    fields = {
        "td_attributes": bytes(8), "xfam": bytes.fromhex("e742060000000000"), "mrtd": pattern(seed, 48),
        "mrconfigid": pattern(seed + 1, 48), "mrowner": bytes(48), "mrownerconfig": bytes(48),
    }
    blob = b"".join(fields.values()) + b"".join(pattern(seed + 10 + i, 48) for i in range(4))
    return blob, fields


def td_report_body(seed, v15=False):
    measurements, fields = tdx_measurements(seed)
    report_data = pattern(seed + 2, 64)
    body = pattern(seed + 3, 16) + bytes(48) + bytes(48) + bytes(8) + measurements + report_data
    assert len(body) == 584
    if v15:
        body += bytes(16) + bytes(48)
    return body, fields, report_data


def quote(version, seed):
    header = struct.pack("<HHI", version, 2, 0x81) + bytes(4) + pattern(99, 16) + bytes(20)
    assert len(header) == 48
    body, fields, report_data = td_report_body(seed, v15=(version == 5))
    if version == 5:
        body = struct.pack("<HI", 3, len(body)) + body
    signature = pattern(5, 100)
    return header + body + struct.pack("<I", len(signature)) + signature, fields, report_data


def tdreport(seed):
    report_data = pattern(seed + 2, 64)
    mac = bytes([0x81]) + bytes(15) + bytes(16) + bytes(48) + bytes(48) + report_data + bytes(32) + bytes(32)
    assert len(mac) == 256
    measurements, fields = tdx_measurements(seed)
    tdinfo = measurements + bytes(512 - len(measurements))
    return mac + bytes(256) + tdinfo, fields, report_data


def snp_report(version, seed):
    r = bytearray(1184)
    struct.pack_into("<IIQ", r, 0, version, 3, 0x30000)
    struct.pack_into("<II", r, 0x30, 0, 1)
    report_data, measurement, host_data = pattern(seed, 64), pattern(seed + 1, 48), pattern(seed + 2, 32)
    r[0x50:0x90], r[0x90:0xC0], r[0xC0:0xE0] = report_data, measurement, host_data
    if version >= 3:
        r[0x188:0x18B] = bytes([0x19, 0x11, 0x01])  # CPUID family, model, stepping: Genoa
    r[0x1A0:0x1E0] = pattern(seed + 3, 64)
    r[0x38:0x40] = bytes([3, 0, 0, 0, 0, 0, 8, 115])  # CURRENT_TCB: bootloader 3, snp 8, microcode 115
    r[0x1E8:0x1EB] = bytes([21, 55, 1])  # CURRENT build 21, minor 55, major 1
    return bytes(r), report_data, measurement, host_data


def cbor_head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")


def cbor(value):
    if isinstance(value, int):
        return cbor_head(0, value) if value >= 0 else cbor_head(1, -1 - value)
    if isinstance(value, bytes):
        return cbor_head(2, len(value)) + value
    if isinstance(value, str):
        return cbor_head(3, len(value.encode())) + value.encode()
    if isinstance(value, list):
        return cbor_head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return cbor_head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    if isinstance(value, tuple):  # (tag, item)
        return cbor_head(6, value[0]) + cbor(value[1])
    raise TypeError(value)


def cose_sign1(claims):
    return cbor((18, [cbor({1: -7}), {}, cbor(claims), pattern(1, 64)]))


def cca_token(seed):
    challenge, personalization, rim = pattern(seed, 64), pattern(seed + 1, 64), pattern(seed + 2, 64)
    realm = {10: challenge, 44235: personalization, 44236: "sha-512", 44237: pattern(4, 97),
             44238: rim, 44239: [pattern(seed + 5 + i, 64) for i in range(4)], 44240: "sha-256"}
    platform = {265: "http://arm.com/CCA-SSD/1.0.0", 10: pattern(6, 32), 2396: pattern(7, 32)}
    token = cbor((399, {44234: cose_sign1(platform), 44241: cose_sign1(realm)}))
    return token, challenge, personalization, rim


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    def write(name, data, fields):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        expected[name] = {k: v.hex() if isinstance(v, bytes) else v for k, v in fields.items()}

    for version, seed in ((4, 10), (5, 40)):
        data, fields, report_data = quote(version, seed)
        write(f"tdx-quote-v{version}.bin", data, {"tee": "tdx", "version": version, "mrtd": fields["mrtd"],
              "mrconfigid": fields["mrconfigid"], "report_data": report_data})
    data, fields, report_data = tdreport(70)
    write("tdx-tdreport.bin", data, {"tee": "tdx", "mrtd": fields["mrtd"], "mrconfigid": fields["mrconfigid"],
          "report_data": report_data, "xfam": fields["xfam"]})
    for version, seed in ((2, 100), (3, 130)):
        data, report_data, measurement, host_data = snp_report(version, seed)
        write(f"snp-report-v{version}.bin", data, {"tee": "snp", "version": version, "report_data": report_data,
              "measurement": measurement, "host_data": host_data})
    data, challenge, personalization, rim = cca_token(160)
    write("cca-token.cbor", data, {"tee": "cca", "challenge": challenge, "personalization_value": personalization,
          "initial_measurement": rim, "hash_algorithm": "sha-512"})
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
