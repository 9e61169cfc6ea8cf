#!/usr/bin/env python3
"""Azure's side of a confidential VM, for the tests: the paravisor (HCL) that
keeps its report in the vTPM, and the instance metadata service (IMDS).

    paravisor.py --tcti TCTI --tee snp|tdx --record FILE [--workdir DIR]
                 [--no-ak] [--stale] [--malformed] [--vanish] [--imds-status CODE] [--imds-delay SECONDS]

Against a swtpm reached through tpm2-tools, as Azure's paravisor provisions
a vTPM: an RSA-2048 restricted signing key (RSASSA-SHA256) made persistent
at 0x81000003, and an HCL report in NV index 0x01400001. Whenever NV index
0x01400002 changes, the HCL report is made again: its variable data (JSON)
carries the key's public half (kid HCLAkPub) and the new contents as
`user-data` (upper-case hex, padded to 64 bytes), and its hardware report (an
SNP report, or a TDREPORT) carries SHA-256(variable data) as report data.
Nothing here signs like AMD or Intel: the hardware reports are unsigned.

The IMDS on loopback answers GET /metadata/THIM/amd/certification with a
self-signed certificate named VCEK (PEM), and POST /acc/tdquote {"report":
base64url TDREPORT} with a version-4 TD quote whose body copies the
TDREPORT's measurements and report data. Both want the header Metadata:
true. Every request is appended to FILE as one JSON line.

Prints "listening PORT" (the IMDS) once the vTPM is provisioned.
--no-ak provisions no key; --stale never refreshes the report; --malformed
writes a report whose variable data is not JSON on the first refresh;
--vanish undefines the report's NV index instead.
"""
import argparse
import base64
import datetime
import hashlib
import http.server
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

AK_HANDLE = "0x81000003"
REPORT_INDEX = "0x1400001"
REPORT_DATA_INDEX = "0x1400002"
REPORT_NV_SIZE = 2048  # libtpms caps an NV index at 2048 bytes
HW_REPORT_ROOM = 1184


def b64url(data, padded=False):
    text = base64.urlsafe_b64encode(data).decode()
    return text if padded else text.rstrip("=")


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VTPM:
    def __init__(self, tcti, workdir):
        self.env = dict(os.environ, TPM2TOOLS_TCTI=tcti)
        self.workdir = workdir

    def tool(self, *args, check=True):
        result = subprocess.run(list(args), env=self.env, cwd=self.workdir, capture_output=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {result.stderr.decode()}")
        return result

    def provision_ak(self):
        self.tool("tpm2_createprimary", "-Q", "-C", "e", "-G", "rsa2048:rsassa-sha256:null",
                  "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign", "-c", "ak.ctx")
        self.tool("tpm2_evictcontrol", "-Q", "-C", "o", "-c", "ak.ctx", AK_HANDLE)
        # Without a resource manager the transient key stays loaded: free its slot.
        self.tool("tpm2_flushcontext", "-t")
        self.tool("tpm2_readpublic", "-Q", "-c", AK_HANDLE, "-f", "der", "-o", "ak.der")
        with open(os.path.join(self.workdir, "ak.der"), "rb") as f:
            return serialization.load_der_public_key(f.read()).public_numbers()

    def nv_read(self, index):
        result = self.tool("tpm2_nvread", "-C", "o", index, check=False)
        return result.stdout if result.returncode == 0 else None

    def nv_write(self, index, data, size):
        path = os.path.join(self.workdir, "nv.bin")
        with open(path, "wb") as f:
            f.write(data)
        if self.tool("tpm2_nvreadpublic", index, check=False).returncode != 0:
            self.tool("tpm2_nvdefine", index, "-C", "o", "-s", str(size), "-a", "ownerread|ownerwrite")
        self.tool("tpm2_nvwrite", index, "-C", "o", "-i", "nv.bin")


def snp_report(report_data):
    report = bytearray(HW_REPORT_ROOM)
    struct.pack_into("<I", report, 0x00, 2)          # version
    struct.pack_into("<Q", report, 0x08, 0x30000)    # policy
    struct.pack_into("<I", report, 0x30, 0)          # vmpl: the paravisor's reports come from VMPL 0
    struct.pack_into("<I", report, 0x34, 1)          # signature algorithm: ECDSA P-384
    report[0x50:0x90] = report_data
    report[0x90:0xC0] = bytes([0x5A]) * 48           # measurement
    return bytes(report)


def td_report(report_data):
    report = bytearray(HW_REPORT_ROOM)               # a TDREPORT is 1024 bytes; the rest stays zero
    report[0] = 0x81                                 # REPORTTYPE.type: TDX
    report[128:192] = report_data
    info = 512
    report[info + 16:info + 64] = bytes([0x11]) * 48       # MRTD
    report[info + 64:info + 112] = bytes([0x22]) * 48      # MRCONFIGID
    for i in range(4):                                      # RTMRs
        report[info + 208 + 48 * i:info + 256 + 48 * i] = bytes([0x30 + i]) * 48
    return bytes(report)


def hcl_report(tee, ak, user_data, malformed=False):
    keys = [{"kid": "HCLAkPub", "key_ops": ["sign"], "kty": "RSA",
             "e": b64url(ak.e.to_bytes((ak.e.bit_length() + 7) // 8, "big")),
             "n": b64url(ak.n.to_bytes((ak.n.bit_length() + 7) // 8, "big"))}] if ak else []
    variable = json.dumps({"keys": keys, "vm-configuration": {"secure-boot": True, "tpm-enabled": True},
                           "user-data": user_data.ljust(64, b"\0").hex().upper()}).encode()
    if malformed:
        variable = b"{not json"
    report_data = hashlib.sha256(variable).digest() + bytes(32)
    hardware = snp_report(report_data) if tee == "snp" else td_report(report_data)
    report_type = 2 if tee == "snp" else 4
    igvm = struct.pack("<5I", 20 + len(variable), 1, report_type, 1, len(variable)) + variable
    header = b"HCLA" + struct.pack("<7I", 2, 32 + len(hardware) + len(igvm), 2, 0, 0, 0, 0)
    return header + hardware + igvm


def td_quote(report):
    header = struct.pack("<HHI", 4, 2, 0x81) + bytes(4) + bytes(16) + bytes(20)
    info = 512
    body = (bytes(16) + bytes(48) * 2 + bytes(8)                  # TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, SEAMATTRIBUTES
            + report[info:info + 16]                               # TDATTRIBUTES, XFAM
            + report[info + 16:info + 208]                         # MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG
            + report[info + 208:info + 400]                        # RTMR0-3
            + report[128:192])                                     # REPORTDATA
    assert len(body) == 584
    signature = bytes(64) + bytes(64) + struct.pack("<HI", 6, 0)   # unsigned: zero signature and key
    return header + body + struct.pack("<I", len(signature)) + signature


def vcek_pem():
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "VCEK")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA384()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class IMDS(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def answer(self, method):
        options = self.server.options
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with open(options.record, "a") as f:
            f.write(json.dumps({"method": method, "path": self.path, "metadata": self.headers.get("Metadata"),
                                "body": body.decode(errors="replace")}) + "\n")
        if options.imds_delay:
            time.sleep(options.imds_delay)
        if options.imds_status != 200:
            return self.reply(options.imds_status, {"error": "unavailable for the test"})
        if self.headers.get("Metadata") != "true":
            return self.reply(400, {"error": "Bad request. Required metadata header not specified"})
        if method == "GET" and self.path == "/metadata/THIM/amd/certification":
            return self.reply(200, {"vcekCert": self.server.vcek, "certificateChain": "", "tcbm": "0"})
        if method == "POST" and self.path == "/acc/tdquote":
            report = unb64url(json.loads(body)["report"])
            if len(report) != 1024:
                return self.reply(400, {"error": f"a TD report is 1024 bytes, got {len(report)}"})
            return self.reply(200, {"quote": b64url(td_quote(report))})
        self.reply(404, {"error": "not found"})

    def do_GET(self):
        self.answer("GET")

    def do_POST(self):
        self.answer("POST")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tcti", required=True)
    parser.add_argument("--tee", choices=["snp", "tdx"], required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--workdir", help="where tpm2-tools' files go (default: a new temporary folder)")
    parser.add_argument("--no-ak", action="store_true")
    parser.add_argument("--stale", action="store_true")
    parser.add_argument("--malformed", action="store_true")
    parser.add_argument("--vanish", action="store_true")
    parser.add_argument("--imds-status", type=int, default=200)
    parser.add_argument("--imds-delay", type=float, default=0)
    options = parser.parse_args()

    workdir = options.workdir or tempfile.mkdtemp(prefix="paravisor-")
    os.makedirs(workdir, exist_ok=True)
    vtpm = VTPM(options.tcti, workdir)
    ak = None if options.no_ak else vtpm.provision_ak()
    vtpm.nv_write(REPORT_INDEX, hcl_report(options.tee, ak, b"").ljust(REPORT_NV_SIZE, b"\0"), REPORT_NV_SIZE)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), IMDS)
    server.options = options
    server.vcek = vcek_pem()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"listening {server.server_address[1]}", flush=True)

    seen = None
    while True:
        time.sleep(0.05)
        data = vtpm.nv_read(REPORT_DATA_INDEX)
        if data is None or data == seen or options.stale:
            continue
        seen = data
        if options.vanish:
            vtpm.tool("tpm2_nvundefine", REPORT_INDEX, "-C", "o")
            continue
        report = hcl_report(options.tee, ak, data, malformed=options.malformed)
        vtpm.nv_write(REPORT_INDEX, report.ljust(REPORT_NV_SIZE, b"\0"), REPORT_NV_SIZE)


if __name__ == "__main__":
    sys.exit(main())
