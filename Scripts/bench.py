#!/usr/bin/env python3
"""Measures the release agent: start-up, memory, and calls per second over
ttrpc on a Unix socket. Prints numbers; asserts nothing.
Usage: Scripts/bench.py BIN_DIR [--calls N]"""
import argparse
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time

import aa_support as frames
from aa_support import rss_kib


def read_frame(sock, buffer):
    """Reads through one frame of a pipelined stream; returns what follows it."""
    while len(buffer) < 10:
        buffer += sock.recv(65536)
    length, stream, _, _ = struct.unpack(">IIBB", buffer[:10])
    while len(buffer) < 10 + length:
        buffer += sock.recv(65536)
    return stream, buffer[10 + length:]


def run_calls(path, method, payload, calls, window):
    """`calls` requests on one connection, at most `window` in flight."""
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    buffer = b""
    sent = received = 0
    stream = 1
    start = time.perf_counter()
    while received < calls:
        while sent < calls and sent - received < window:
            sock.sendall(frames.frame(stream, 1, frames.request(method, payload)))
            stream += 2
            sent += 1
        _, buffer = read_frame(sock, buffer)
        received += 1
    elapsed = time.perf_counter() - start
    sock.close()
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    binary = os.path.join(args.bin_dir, "attestation-agent")
    print(f"binary: {os.path.getsize(binary) / 2**20:.1f} MiB ({binary})")

    workdir = tempfile.mkdtemp(prefix="aa-bench-")
    path = os.path.join(workdir, "aa.sock")
    env = {"PATH": "/usr/bin:/bin", "AA_PLATFORM_ROOT": workdir}
    started = time.perf_counter()
    agent = subprocess.Popen([binary, "--attestation_sock", "unix://" + path, "--log-level", "error"], env=env)
    while True:
        try:
            probe = socket.socket(socket.AF_UNIX)
            probe.connect(path)
            probe.close()
            break
        except OSError:
            time.sleep(0.001)
    print(f"exec to accepting: {(time.perf_counter() - started) * 1000:.1f} ms")
    time.sleep(0.5)
    print(f"idle RSS: {rss_kib(agent.pid) / 1024:.1f} MiB")

    evidence = frames.bytes_field(1, b"\x00" * 64)
    for method, payload, window in [("GetStatus", b"", 1), ("GetStatus", b"", 64), ("GetEvidence", evidence, 64)]:
        elapsed = run_calls(path, method, payload, args.calls, window)
        print(f"{method} x{args.calls}, 1 connection, {window} in flight: "
              f"{args.calls / elapsed:,.0f} calls/s ({elapsed / args.calls * 1e6:.1f} us/call)")

    threads = []
    results = []
    start = time.perf_counter()
    for _ in range(8):
        t = threading.Thread(target=lambda: results.append(run_calls(path, "GetStatus", b"", args.calls // 8, 16)))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    print(f"GetStatus x{args.calls}, 8 connections, 16 in flight each: {args.calls / elapsed:,.0f} calls/s")
    print(f"RSS after load: {rss_kib(agent.pid) / 1024:.1f} MiB")

    agent.terminate()
    agent.wait()
    print(f"exit status after SIGTERM: {agent.returncode}")


if __name__ == "__main__":
    main()
