#!/usr/bin/env python3
"""Synthetic NVIDIA Hopper attestation material, for the stand-in NVML
(Tests/NVML/fake_nvml.c), laid out as trustee's nvidia verifier reads it
(deps/verifier/src/nvidia: SPDM 1.1 GET_MEASUREMENTS, NVIDIA's opaque data,
a raw ECDSA P-384 signature, a PEM chain whose leaf carries the FWID) and
written from that layout, not from the agent's code. The keys are this
test's own: a verifier trusts them only when told their root.

    hopper_report.py chain DIR        a root CA, an intermediate and the GPU's
                                      attestation key: DIR/chain.pem (leaf
                                      first), DIR/root.pem, DIR/leaf.key, DIR/fwid
    hopper_report.py report DIR NONCE the report for NONCE (hex), printed in hex
"""
import datetime
import os
import struct
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

FWID_OID = x509.ObjectIdentifier("2.23.133.5.4.1")  # TCG DICE TcbInfo
GET_MEASUREMENTS, MEASUREMENTS = 0xE0, 0x60


def name(common):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "attestation-agent tests")])


def certificate(subject, key, issuer, issuer_key, ca, extensions=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(issuer_key, hashes.SHA384())


def make_chain(folder):
    os.makedirs(folder, exist_ok=True)
    root_key, intermediate_key, leaf_key = (ec.generate_private_key(ec.SECP384R1()) for _ in range(3))
    fwid = os.urandom(48)
    # The TcbInfo value ends with the FWID digest: trustee reads its last 48 bytes.
    tcb_info = bytes([0x30, 0x32, 0x04, 0x30]) + fwid
    root = certificate("test GPU root CA", root_key, "test GPU root CA", root_key, True)
    intermediate = certificate("test GPU intermediate", intermediate_key, "test GPU root CA", root_key, True)
    leaf = certificate("test GPU attestation key", leaf_key, "test GPU intermediate", intermediate_key, False,
                       [x509.UnrecognizedExtension(FWID_OID, tcb_info)])
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    with open(os.path.join(folder, "chain.pem"), "wb") as f:
        f.write(pem(leaf) + pem(intermediate) + pem(root))
    with open(os.path.join(folder, "root.pem"), "wb") as f:
        f.write(pem(root))
    with open(os.path.join(folder, "leaf.key"), "wb") as f:
        f.write(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    with open(os.path.join(folder, "fwid"), "w") as f:
        f.write(fwid.hex())


def opaque(kind, data):
    return struct.pack("<HH", kind, len(data)) + data


def make_report(folder, nonce):
    with open(os.path.join(folder, "leaf.key"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    fwid = bytes.fromhex(open(os.path.join(folder, "fwid")).read())
    request = bytes([0x11, GET_MEASUREMENTS, 0x01, 0xFF]) + nonce + bytes([0])
    blocks = b""
    for index in range(1, 5):  # DMTF measurement blocks: index, spec 1, size; type, size, value
        value = bytes([index]) * 48
        dmtf = struct.pack("<BH", 0x00, len(value)) + value
        blocks += struct.pack("<BBH", index, 1, len(dmtf)) + dmtf
    opaque_data = (opaque(3, b"550.90.07\0") + opaque(6, bytes([0x00, 0x00, 0x1c, 0x96, 0x00, 0x01, 0x00, 0x00]))
                   + opaque(20, fwid))
    response = (bytes([0x11, MEASUREMENTS, 0x00, 0x00, 4]) + len(blocks).to_bytes(3, "little") + blocks
                + os.urandom(32) + struct.pack("<H", len(opaque_data)) + opaque_data)
    r, s = decode_dss_signature(key.sign(request + response, ec.ECDSA(hashes.SHA384())))
    return request + response + r.to_bytes(48, "big") + s.to_bytes(48, "big")


def main():
    if sys.argv[1] == "chain":
        make_chain(sys.argv[2])
    elif sys.argv[1] == "report":
        print(make_report(sys.argv[2], bytes.fromhex(sys.argv[3])).hex())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
