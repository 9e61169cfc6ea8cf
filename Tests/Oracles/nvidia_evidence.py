#!/usr/bin/env python3
"""Checks `nvidia` evidence the way trustee's local nvidia verifier does
(deps/verifier/src/nvidia: mod.rs, report.rs, spdm_request.rs,
spdm_response.rs, cert_chain.rs), written from its rules and not from the
agent's code:

    nvidia_evidence.py EVIDENCE --report-data HEX [--root PEM]

1. The evidence is {"device_evidence_list": [{arch, uuid, evidence,
   certificate}]}; locally only HOPPER is verified.
2. The expected nonce is the report data cut or zero-padded to 32 bytes.
3. evidence is the report in hex, else in base64; certificate is the base64
   of a PEM chain, leaf first, root last, at least two certificates.
4. The report is an SPDM 1.1 GET_MEASUREMENTS request (version 0x11, code,
   two parameters, a 32-byte nonce, a slot) and the response: version 0x11,
   code, parameters, block count, a 24-bit record length, DMTF measurement
   blocks, a nonce, a 16-bit opaque length, NVIDIA's opaque data (type,
   size, data; driver_version 3 and vbios_version 6 required, fwid 20), and a
   96-byte raw ECDSA P-384 signature over SHA-384 of everything before it.
5. The signature verifies with the leaf certificate's key.
6. The chain's root is the trusted root (by SHA-1 fingerprint: NVIDIA's
   device identity CA, or the root given with --root), each certificate is
   signed by the next and is valid now, and the leaf's FWID extension
   (2.23.133.5.4.1, its last 48 bytes) is the report's fwid.
7. The request's nonce is the expected nonce.
Prints "ok N" (N devices) or the first rule broken, and exits 1 then.
"""
import argparse
import base64
import binascii
import datetime
import json
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# SHA-1 of NVIDIA's device identity CA ("NVIDIA Device Identity CA", O=NVIDIA),
# the root trustee's verifier trusts (deps/verifier/src/nvidia/nvidia_device_root.pem).
NVIDIA_DEVICE_ROOT_SHA1 = "72be15b8b2c8d3f482f84237a6fcc45b8a1354e8"
FWID_OID = x509.ObjectIdentifier("2.23.133.5.4.1")
REQUEST_SIZE = 37
SIGNATURE_SIZE = 96
DRIVER_VERSION, VBIOS_VERSION, FWID = 3, 6, 20


class Broken(Exception):
    pass


def take(data, at, size, what):
    if at + size > len(data):
        raise Broken(f"the report ends inside {what}")
    return data[at:at + size], at + size


def parse_report(report):
    """(request nonce, opaque data by type, signed bytes, signature)."""
    request, at = take(report, 0, REQUEST_SIZE, "the SPDM request")
    if request[0] != 0x11:
        raise Broken(f"the request speaks SPDM {request[0]:#x}, not 1.1")
    header, at = take(report, at, 8, "the response header")
    if header[0] != 0x11:
        raise Broken(f"the response speaks SPDM {header[0]:#x}, not 1.1")
    blocks, record_length = header[4], int.from_bytes(header[5:8], "little")
    record, at = take(report, at, record_length, "the measurement record")
    offset = 0
    for _ in range(blocks):
        if record[offset + 1] != 1:
            raise Broken("a measurement block is not in DMTF's layout")
        (size,) = struct.unpack_from("<H", record, offset + 2)
        offset += 4 + size
    if offset > record_length:
        raise Broken("the measurement blocks run past their record")
    _, at = take(report, at, 32, "the response nonce")
    length_bytes, at = take(report, at, 2, "the opaque data length")
    opaque_bytes, at = take(report, at, struct.unpack("<H", length_bytes)[0], "the opaque data")
    opaque, offset = {}, 0
    while offset + 4 < len(opaque_bytes):
        kind, size = struct.unpack_from("<HH", opaque_bytes, offset)
        if kind in opaque:
            raise Broken(f"opaque data type {kind} appears twice")
        opaque[kind] = opaque_bytes[offset + 4:offset + 4 + size]
        offset += 4 + size
    if DRIVER_VERSION not in opaque or VBIOS_VERSION not in opaque:
        raise Broken("the opaque data lacks driver_version or vbios_version")
    signature, at = take(report, at, SIGNATURE_SIZE, "the signature")
    return request[4:36], opaque, report[:at - SIGNATURE_SIZE], signature


def check_chain(pem, fwid, trusted_root_sha1):
    certificates = x509.load_pem_x509_certificates(pem) if hasattr(x509, "load_pem_x509_certificates") else None
    if certificates is None:
        certificates = [x509.load_pem_x509_certificate(b"-----BEGIN CERTIFICATE-----" + part)
                        for part in pem.split(b"-----BEGIN CERTIFICATE-----")[1:]]
    if len(certificates) < 2:
        raise Broken("the certificate chain needs at least the root and the signing certificate")
    root = certificates[-1]
    if root.fingerprint(hashes.SHA1()).hex() != trusted_root_sha1:
        raise Broken("the chain's root is not the trusted root")
    now = datetime.datetime.now(datetime.timezone.utc)

    def validity(certificate):
        if hasattr(certificate, "not_valid_before_utc"):
            return certificate.not_valid_before_utc, certificate.not_valid_after_utc
        utc = datetime.timezone.utc
        return certificate.not_valid_before.replace(tzinfo=utc), certificate.not_valid_after.replace(tzinfo=utc)

    for certificate, issuer in zip(certificates, certificates[1:] + [root]):
        start, end = validity(certificate)
        if not start <= now <= end:
            raise Broken(f"{certificate.subject.rfc4514_string()} is not valid now")
        try:
            issuer.public_key().verify(certificate.signature, certificate.tbs_certificate_bytes,
                                       ec.ECDSA(certificate.signature_hash_algorithm))
        except Exception:
            raise Broken(f"{certificate.subject.rfc4514_string()} is not signed by {issuer.subject.rfc4514_string()}")
    try:
        extension = certificates[0].extensions.get_extension_for_oid(FWID_OID).value
    except x509.ExtensionNotFound:
        raise Broken("the signing certificate has no FWID extension")
    if extension.value[-48:] != fwid:
        raise Broken("the signing certificate's FWID is not the report's")
    return certificates[0]


def check(evidence, report_data, trusted_root_sha1=NVIDIA_DEVICE_ROOT_SHA1):
    devices = evidence.get("device_evidence_list")
    if not isinstance(devices, list) or not devices:
        raise Broken("no device_evidence_list")
    expected_nonce = (report_data + bytes(32))[:32]
    for device in devices:
        if device.get("arch") != "HOPPER":
            raise Broken(f"architecture {device.get('arch')!r} cannot be verified locally")
        try:
            report = bytes.fromhex(device["evidence"])
        except ValueError:
            report = base64.b64decode(device["evidence"], validate=True)
        chain = base64.b64decode(device["certificate"], validate=True)
        nonce, opaque, signed, signature = parse_report(report)
        if FWID not in opaque:
            raise Broken("the report has no fwid")
        leaf = check_chain(chain, opaque[FWID], trusted_root_sha1)
        der = encode_dss_signature(int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big"))
        try:
            leaf.public_key().verify(der, signed, ec.ECDSA(hashes.SHA384()))
        except Exception:
            raise Broken(f"the report of {device.get('uuid')} is not signed by its attestation key")
        if nonce != expected_nonce:
            raise Broken(f"the report's nonce {nonce.hex()} is not {expected_nonce.hex()}")
    return len(devices)


def root_fingerprint(path):
    """The SHA-1 fingerprint of the root certificate (PEM) at `path`."""
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).fingerprint(hashes.SHA1()).hex()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("evidence")
    parser.add_argument("--report-data", required=True)
    parser.add_argument("--root", help="trust this root (PEM) instead of NVIDIA's")
    options = parser.parse_args()
    with open(options.evidence) as f:
        evidence = json.load(f)
    root = root_fingerprint(options.root) if options.root else NVIDIA_DEVICE_ROOT_SHA1
    try:
        count = check(evidence, bytes.fromhex(options.report_data), root)
    except (Broken, KeyError, ValueError, binascii.Error, struct.error, IndexError) as error:
        print(f"broken: {error}")
        return 1
    print(f"ok {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
