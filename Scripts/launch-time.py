#!/usr/bin/env python3
"""Measures exec-to-listening of attestation-agent with launch-time binding,
as kata-agent launches it (it waits 6 s for the socket), on each platform
that can be laid out on this machine: the sample TEE, a fake TDX tree whose
sysfs MRCONFIGID holds the document's digest, and swtpm (a first launch that
extends PCR 8, and a restart that recognises it). Prints the median and the
worst of ROUNDS launches each.

    launch-time.py BIN_DIR [ROUNDS]
"""
import hashlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from aa_support import wait_for_socket

DOCUMENT = 'version = "0.1.0"\nalgorithm = "{alg}"\n[data]\n"aa.toml" = \'\'\'\n[log]\nlevel = "warn"\n\'\'\'\n'


def launch(binary, folder, document, environment):
    """One launch with kata's flags; the seconds from exec to a connection."""
    sock = os.path.join(folder, "aa.sock")
    env = {"PATH": "/usr/bin:/bin", "AA_PLATFORM_ROOT": os.path.join(folder, "root")} | environment
    started = time.perf_counter()
    process = subprocess.Popen([binary, "--attestation_sock", "unix://" + sock, "--initdata-toml", document],
                               env=env, stderr=subprocess.DEVNULL)
    try:
        wait_for_socket(sock, process)
        return time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait()


def write_document(folder, algorithm):
    text = DOCUMENT.format(alg=algorithm)
    path = os.path.join(folder, "initdata.toml")
    with open(path, "w") as f:
        f.write(text)
    return path, hashlib.new(algorithm, text.encode()).digest()


def sample(binary, folder):
    path, digest = write_document(folder, "sha384")
    return lambda: launch(binary, folder, path, {"AA_SAMPLE_INITDATA": digest.hex()})


def tdx(binary, folder):
    path, digest = write_document(folder, "sha384")
    measurements = os.path.join(folder, "root/sys/devices/virtual/misc/tdx_guest/measurements")
    os.makedirs(measurements)
    os.makedirs(os.path.join(folder, "root/dev"))
    open(os.path.join(folder, "root/dev/tdx_guest"), "w").close()
    with open(os.path.join(measurements, "mrconfigid"), "w") as f:
        f.write(digest.hex() + "\n")
    return lambda: launch(binary, folder, path, {})


class SoftwareTPM:
    def __init__(self, folder):
        self.port = 20000 + (os.getpid() * 7 + int(time.time() * 1000)) % 30000 // 2 * 2
        state = os.path.join(folder, "tpm")
        os.makedirs(state, exist_ok=True)
        self.process = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--server", f"type=tcp,port={self.port},bindaddr=127.0.0.1",
             "--ctrl", f"type=tcp,port={self.port + 1},bindaddr=127.0.0.1", "--tpmstate", f"dir={state}",
             "--flags", "not-need-init,startup-clear"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("swtpm did not start")

    def close(self):
        self.process.kill()
        self.process.wait()


def tpm(binary, folder, restart):
    path, _ = write_document(folder, "sha256")

    def run():
        tpm = SoftwareTPM(folder)
        try:
            environment = {"AA_TPM_TCTI": f"swtpm:host=127.0.0.1,port={tpm.port}"}
            if restart:
                launch(binary, folder, path, environment)
            return launch(binary, folder, path, environment)
        finally:
            tpm.close()
            shutil.rmtree(os.path.join(folder, "tpm"), ignore_errors=True)
    return run


def main():
    binary = os.path.join(sys.argv[1], "attestation-agent")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    scenarios = [("sample, --initdata-toml", sample), ("tdx (fake sysfs MRCONFIGID), --initdata-toml", tdx)]
    if shutil.which("swtpm"):
        scenarios += [("tpm (swtpm), first launch: extends PCR 8", lambda b, f: tpm(b, f, False)),
                      ("tpm (swtpm), restart: PCR 8 already holds it", lambda b, f: tpm(b, f, True))]
    print(f"exec to listening, {rounds} launches each (kata waits 6000 ms):")
    for name, make in scenarios:
        folder = tempfile.mkdtemp(prefix="aa-launch-")
        try:
            run = make(binary, folder)
            times = [run() * 1000 for _ in range(rounds)]
            print(f"  {name}: median {statistics.median(times):.1f} ms, worst {max(times):.1f} ms")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
