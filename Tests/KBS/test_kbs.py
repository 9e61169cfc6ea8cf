#!/usr/bin/env python3
"""A KBS for the tests, after trustee's KBS attestation protocol 0.4.0, on
loopback, with Python's standard library only.

    test_kbs.py --key-out KEY [--tls CERT PRIVKEY] [--record FILE]
                [--deny REASON] [--malformed] [--delay SECONDS] [--select-hash NAME]
                [--fail-first N] [--lone-surrogate] [--protocol VERSION]

Prints "listening PORT" once ready. /kbs/v0/auth answers a nonce and sets
the kbs-session-id cookie; /kbs/v0/attest checks the session, the nonce and
that the sample evidence's report data is the hash of the canonical JSON of
the runtime data, that each additional evidence (`sampledevice`, and
`nvidia` with --nvidia-root, by Tests/Oracles/nvidia_evidence.py) carries
the hash of the canonical JSON of {tee-pubkey, nonce} as trustee's KBS
verifies it (az-snp-vtpm and az-tdx-vtpm evidence: checked by
Tests/Oracles/azure_vtpm.py, tpm evidence by Tests/Oracles/tpm_evidence.py,
with that hash as report data), then returns an HS256 JWT signed with a key
written to KEY. --fail-first N answers the first N attestations with 401, as
trustee does for transient failures. --lone-surrogate answers the challenge
with a nonce holding an unpaired UTF-16 surrogate escape. /attestation answers as a CoCo attestation service. Every request is
appended to FILE as one JSON line.
"""
import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import secrets
import ssl
import struct
import sys
import threading
import time
import tomllib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Oracles"))
import azure_vtpm  # noqa: E402
import nvidia_evidence  # noqa: E402
import tpm_evidence  # noqa: E402

AZURE_TEES = ("az-snp-vtpm", "az-tdx-vtpm")

SESSIONS = {}
LOCK = threading.Lock()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def jwt(claims, key):
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, detail):
        self.reply(401, {"type": "https://github.com/confidential-containers/kbs/errors/AttestationFailed", "detail": detail})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        options = self.server.options
        if options.record:
            with LOCK, open(options.record, "a") as f:
                f.write(json.dumps({"path": self.path, "cookie": self.headers.get("Cookie"),
                                    "body": body.decode("utf-8", "replace")}) + "\n")
        try:
            request = json.loads(body)
        except ValueError:
            return self.reply(400, {"type": "bad-request", "detail": "body is not JSON"})
        if self.path == "/kbs/v0/auth":
            return self.auth(request)
        if self.path == "/kbs/v0/attest":
            if options.delay:
                time.sleep(options.delay)
            if options.malformed:
                return self.reply(200, b"<html>not a token</html>")
            return self.attest(request)
        if self.path == "/attestation":
            return self.coco_as(request)
        self.reply(404, {"type": "not-found", "detail": self.path})

    def auth(self, request):
        if request.get("version") != self.server.options.protocol or not isinstance(request.get("tee"), str):
            return self.reply(400, {"type": "bad-request", "detail": f"unexpected request {request}"})
        session, nonce = secrets.token_hex(16), b64url(secrets.token_bytes(32))
        with LOCK:
            SESSIONS[session] = {"nonce": nonce, "tee": request["tee"]}
        if self.server.options.lone_surrogate:
            return self.reply(200, b'{"nonce": "\\ud800\\u0041", "extra-params": {}}',
                              [("Set-Cookie", f"kbs-session-id={session}; Path=/kbs/v0; HttpOnly")])
        extra = {"selected-hash-algorithm": self.server.options.select_hash} if self.server.options.select_hash else {}
        self.reply(200, {"nonce": nonce, "extra-params": extra},
                   [("Set-Cookie", f"kbs-session-id={session}; Path=/kbs/v0; HttpOnly")])

    def attest(self, request):
        cookie = self.headers.get("Cookie", "")
        session_id = cookie.split("kbs-session-id=", 1)[-1].split(";")[0] if "kbs-session-id=" in cookie else None
        with LOCK:
            session = SESSIONS.pop(session_id, None)
        if session is None:
            return self.refuse("unknown or missing kbs-session-id")
        runtime = request.get("runtime-data", {})
        if runtime.get("nonce") != session["nonce"]:
            return self.refuse("the runtime data does not carry the session's nonce")
        evidence = request.get("tee-evidence", {})
        primary, additional = evidence.get("primary_evidence"), evidence.get("additional_evidence", "")
        bound = {"tee-pubkey": runtime.get("tee-pubkey"), "nonce": session["nonce"], "additional-evidence": additional}
        algorithm = self.server.options.select_hash or "sha384"
        expected = hashlib.new(algorithm, canonical(bound)).digest()
        if session["tee"] in AZURE_TEES + ("tpm",):
            # trustee's Azure and TPM verifiers, as the independent oracles model them.
            init_data = request.get("init-data")
            digest = None
            if init_data:
                init_algorithm = tomllib.loads(init_data["body"]).get("algorithm", "sha384")
                digest = hashlib.new(init_algorithm, init_data["body"].encode()).digest()
            try:
                if session["tee"] == "tpm":
                    tpm_evidence.check(primary, expected, digest)
                else:
                    azure_vtpm.check(primary, session["tee"], expected, digest)
            except (azure_vtpm.Broken, KeyError, ValueError, struct.error) as error:
                return self.refuse(f"{session['tee']} evidence: {error}")
        elif session["tee"] != "sample" or base64.b64decode(primary.get("report_data", "")) != expected:
            return self.refuse("the evidence's report data is not the hash of the runtime data")
        verified = []
        if additional:
            runtime_only = {"tee-pubkey": runtime.get("tee-pubkey"), "nonce": session["nonce"]}
            expected_device = hashlib.new(algorithm, canonical(runtime_only)).digest()
            for tee, device in json.loads(additional).items():
                if tee == "nvidia" and self.server.options.nvidia_root:
                    try:
                        nvidia_evidence.check(device, expected_device, self.server.nvidia_root)
                    except (nvidia_evidence.Broken, KeyError, ValueError, struct.error) as error:
                        return self.refuse(f"nvidia evidence: {error}")
                elif tee != "sampledevice" or device.get("svn") != "2":
                    return self.refuse(f"unknown additional evidence {tee}")
                elif base64.b64decode(device.get("report_data", "")) != expected_device:
                    return self.refuse(f"the {tee} evidence's report data is not the hash of the runtime data")
                verified.append(tee)
        with LOCK:
            self.server.attestations += 1
            transient = self.server.attestations <= self.server.options.fail_first
        if transient:
            return self.refuse(f"transient failure {self.server.attestations}")
        if self.server.options.deny:
            return self.refuse(self.server.options.deny)
        init_data = request.get("init-data")
        claims = {
            "iss": "test-kbs", "iat": int(time.time()), "exp": int(time.time()) + 300, "tee": session["tee"],
            "tee-pubkey": runtime.get("tee-pubkey"), "evidence": primary, "additional": verified,
            "init-data": hashlib.sha384(init_data["body"].encode()).hexdigest() if init_data else None,
        }
        self.reply(200, {"token": jwt(claims, self.server.key)})

    def coco_as(self, request):
        entry = request["verification_requests"][0]
        evidence = json.loads(base64.urlsafe_b64decode(entry["evidence"] + "=" * (-len(entry["evidence"]) % 4)))
        token = jwt({"iss": "test-coco-as", "tee": entry["tee"], "evidence": evidence}, self.server.key)
        self.reply(200, token.encode())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--key-out", required=True)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--record")
    parser.add_argument("--deny")
    parser.add_argument("--malformed", action="store_true")
    parser.add_argument("--delay", type=float, default=0)
    parser.add_argument("--select-hash")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--lone-surrogate", action="store_true")
    parser.add_argument("--protocol", default="0.4.0", help="the KBS protocol version accepted")
    parser.add_argument("--nvidia-root", help="accept nvidia evidence whose chain ends at this root (PEM)")
    options = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.options = options
    server.attestations = 0
    server.key = secrets.token_bytes(32)
    if options.nvidia_root:
        server.nvidia_root = nvidia_evidence.root_fingerprint(options.nvidia_root)
    with open(options.key_out, "wb") as f:
        f.write(server.key)
    if options.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*options.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
