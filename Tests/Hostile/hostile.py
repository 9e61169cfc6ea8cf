#!/usr/bin/env python3
"""Hostile clients against the real agent, while an honest client keeps calling.

    python3 Tests/Hostile/hostile.py BIN_DIR [CASE ...]

Starts BIN_DIR/attestation-agent (sample TEE) with an open and a restricted
Unix listener. For each case an attacker process does its worst while the
honest client (its own connection, opened before the attack) times
GetStatus calls. Prints one line per case: the honest client's p99 alone and
during the attack, the agent's RSS before and after. A case fails when an
honest call fails or takes over a second, the agent dies, the attack does
not get the answer ttrpc's rules give it, or the agent's RSS stays more than
RSS_SLACK_KIB above what it was before the case once the attacker is gone.
"Idle" is measured after a warm-up in which 8 well-behaved clients make
pipelined GetEvidence and GetTeeType calls at once, as a busy guest would: the
first such load grows the C allocator's per-thread arenas once (about
1.5 MiB), and later loads reuse that memory; the bound is on what an attack
adds beyond it. The p99 ratio is reported against its goal (under 2x), not enforced: this
machine is shared, and one noisy neighbour would make it fail at random.

Standard library only; frames and envelopes are encoded by hand from
containerd's ttrpc wire format (Scripts/aa_support.py), not with the agent's code.
"""
import multiprocessing
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Scripts"))
from aa_support import DATA, REQUEST, RESPONSE, frame, read_frame, rss_kib, status_code  # noqa: E402
from aa_support import bytes_field as field_bytes  # noqa: E402
from aa_support import request as request_envelope  # noqa: E402

RSS_SLACK_KIB = 2048
HONEST_CALLS = 1500
METHODS = ["GetEvidence", "GetAdditionalEvidence", "GetToken", "ExtendRuntimeMeasurement", "BindInitData",
           "CheckInitData", "UpdateConfiguration", "GetTeeType", "GetAdditionalTees", "GetStatus"]
HOST_ALLOWED = {"GetTeeType", "GetAdditionalTees", "GetStatus"}
CODES = {0: "OK", 1: "CANCELLED", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
         7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 12: "UNIMPLEMENTED",
         13: "INTERNAL", 14: "UNAVAILABLE"}


def connect(path, timeout=5.0):
    """A connection; waits while the listen backlog is full, as a blocking client would."""
    deadline = time.time() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            return sock
        except BlockingIOError:
            sock.close()
            if time.time() > deadline:
                raise
            time.sleep(0.001)


def call(sock, stream_id, method, payload=b""):
    sock.sendall(frame(stream_id, REQUEST, request_envelope(method, payload)))
    got_id, kind, data = read_frame(sock)
    if got_id != stream_id or kind != RESPONSE:
        raise AssertionError(f"answer on stream {got_id} type {kind}, expected a response on {stream_id}")
    return status_code(data)


# --- the agent ----------------------------------------------------------------

class Agent:
    def __init__(self, bin_dir, directory):
        self.open_path = os.path.join(directory, "aa.sock")
        self.restricted_path = os.path.join(directory, "host.sock")
        self.process = subprocess.Popen(
            [os.path.join(bin_dir, "attestation-agent"), "--attestation_sock", "unix://" + self.open_path,
             "--restricted_sock", "unix://" + self.restricted_path, "--log-level", os.environ.get("AA_HOSTILE_LOG", "error")],
            env={**os.environ, "AA_PLATFORM_ROOT": os.path.join(directory, "root")},
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(directory, "agent.log"), "wb"))
        deadline = time.time() + 10
        while not (os.path.exists(self.open_path) and os.path.exists(self.restricted_path)):
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError("the agent did not start listening")
            time.sleep(0.01)

    def rss_kib(self):
        kib = rss_kib(self.process.pid)
        if not kib:
            raise RuntimeError("no VmRSS: the agent is gone")
        return kib

    def settled_rss_kib(self):
        """RSS once the agent has had time to close what the attacker left."""
        time.sleep(1.5)
        return self.rss_kib()

    def alive(self):
        return self.process.poll() is None

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)


class Honest:
    """One connection, opened before any attack, calling GetStatus in turn."""

    def __init__(self, path):
        self.sock = connect(path)
        self.stream_id = 1

    def run(self, calls):
        latencies, failures = [], []
        for _ in range(calls):
            start = time.perf_counter()
            try:
                code = call(self.sock, self.stream_id, "GetStatus")
            except Exception as error:  # noqa: BLE001 - reported, not hidden
                failures.append(str(error))
                break
            latencies.append(time.perf_counter() - start)
            self.stream_id += 2
            if code != 0:
                failures.append(f"GetStatus answered {CODES.get(code, code)}")
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("inf")
        slowest = latencies[-1] if latencies else float("inf")
        return p99, slowest, failures


# --- the attacks ----------------------------------------------------------------
# Each runs in its own process until `stop` is set, and puts what it saw
# (a list of problems, empty when the agent behaved) on `report`.

def warm_up(agent):
    """Eight clients at once, each 20 rounds of 64 pipelined calls, all read."""
    import threading

    def client():
        sock = connect(agent.open_path, timeout=30)
        stream_id = 1
        for round_number in range(20):
            method, payload = (("GetEvidence", field_bytes(1, b"\x07" * 64)) if round_number % 2 == 0
                               else ("GetTeeType", b""))
            batch = [frame(stream_id + 2 * k, REQUEST, request_envelope(method, payload)) for k in range(64)]
            stream_id += 128
            sock.sendall(b"".join(batch))
            for _ in batch:
                read_frame(sock)
        sock.close()

    clients = [threading.Thread(target=client) for _ in range(8)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()


def attack_oversized(agent, stop, report):
    problems = []
    while not stop.is_set():
        sock = connect(agent.open_path)
        try:
            # ttrpc skips the whole frame, then answers on its stream.
            sock.sendall(struct.pack(">IIBB", 5 * 1024 * 1024, 1, REQUEST, 0) + b"\0" * (5 * 1024 * 1024))
            stream_id, kind, data = read_frame(sock)
            if stream_id != 1 or status_code(data) != 8:
                problems.append(f"a 5 MiB frame got code {status_code(data)} on stream {stream_id}, expected RESOURCE_EXHAUSTED on 1")
        except (ConnectionError, OSError) as error:
            problems.append(f"a 5 MiB frame got no answer: {error}")
        sock.close()
        if problems:
            break
    report.put(problems)


def attack_header_then_silence(agent, stop, report):
    socks = []
    while not stop.is_set() and len(socks) < 100:
        sock = connect(agent.open_path)
        sock.sendall(struct.pack(">IIBB", 100, 1, REQUEST, 0))
        socks.append(sock)
        time.sleep(0.01)
    stop.wait()
    report.put([])


def attack_body_cut_short(agent, stop, report):
    body = request_envelope("GetStatus")
    while not stop.is_set():
        sock = connect(agent.open_path)
        sock.sendall(frame(1, REQUEST, body)[:10 + len(body) // 2])
        sock.close()
    report.put([])


def expect_codes(agent, frames, expected, what, path=None):
    """Sends `frames` on one connection; every answer must carry a code in `expected`."""
    sock = connect(path or agent.open_path)
    sock.sendall(b"".join(frames))
    problems = []
    try:
        for _ in frames:
            stream_id, kind, data = read_frame(sock)
            code = status_code(data)
            if code not in expected:
                problems.append(f"{what}: stream {stream_id} answered {CODES.get(code, code)}")
                break
    except (ConnectionError, OSError) as error:
        problems.append(f"{what}: no answer ({error})")
    sock.close()
    return problems


def repeat(agent, stop, report, body):
    problems = []
    while not stop.is_set() and not problems:
        problems = body(agent)
    report.put(problems)


def attack_reserved_flags(agent, stop, report):
    # Flag bits ttrpc does not define are ignored: the call is answered.
    repeat(agent, stop, report, lambda a: expect_codes(
        a, [frame(1, REQUEST, request_envelope("GetStatus"), flags=0xF8)], {0}, "unknown flag bits"))


def attack_unknown_frame_type(agent, stop, report):
    def body(a):
        sock = connect(a.open_path)
        sock.sendall(frame(1, 0x7F, b"\x01\x02") + frame(3, REQUEST, request_envelope("GetStatus")))
        problems = []
        try:
            while True:
                stream_id, kind, data = read_frame(sock)
                if stream_id == 3:
                    if status_code(data) != 0:
                        problems.append("the call after an unknown frame type failed")
                    break
        except (ConnectionError, OSError):
            pass  # closing a connection that sent an unknown type is allowed
        sock.close()
        return problems
    repeat(agent, stop, report, body)


def attack_even_stream(agent, stop, report):
    repeat(agent, stop, report, lambda a: expect_codes(
        a, [frame(2, REQUEST, request_envelope("GetStatus"))], {3}, "even stream ID"))


def attack_reused_stream(agent, stop, report):
    def body(a):
        sock = connect(a.open_path)
        sock.sendall(frame(5, REQUEST, request_envelope("GetStatus")) + frame(3, REQUEST, request_envelope("GetStatus")))
        codes = {}
        try:
            for _ in range(2):
                stream_id, _, data = read_frame(sock)
                codes[stream_id] = status_code(data)
        except (ConnectionError, OSError) as error:
            return [f"reused stream ID: no answer ({error})"]
        finally:
            sock.close()
        return [] if codes == {5: 0, 3: 3} else [f"reused stream ID answered {codes}, expected 5: OK, 3: INVALID_ARGUMENT"]
    repeat(agent, stop, report, body)


def attack_data_unknown_stream(agent, stop, report):
    repeat(agent, stop, report, lambda a: expect_codes(a, [frame(9, DATA, b"\x01")], {3}, "data frame on an unknown stream"))


def attack_garbage(agent, stop, report):
    rng = random.Random(9)
    while not stop.is_set():
        sock = connect(agent.open_path)
        try:
            sock.sendall(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096))))
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except (ConnectionError, OSError):
            pass
        sock.close()
    report.put([])


def attack_one_byte_a_second(agent, stop, report):
    data = frame(1, REQUEST, request_envelope("GetStatus"))
    sock = connect(agent.open_path)
    for byte in data:
        if stop.wait(1.0):
            break
        try:
            sock.send(bytes([byte]))
        except OSError:
            break  # the frame deadline closed it
    report.put([])


def attack_idle_connections(agent, stop, report):
    socks, refused = [], 0
    for _ in range(1000):
        try:
            socks.append(connect(agent.open_path))
        except OSError:
            refused += 1
    stop.wait()
    report.put([])


def attack_idle_then_newcomer(agent, stop, report):
    """200 idle connections hold the Unix socket's 128 places; a new client
    (kata-agent, the confidential-data-hub) must still be served: the agent
    closes the connection idle longest to take it."""
    socks = []
    for _ in range(200):
        try:
            socks.append(connect(agent.open_path))
        except OSError:
            pass
    problems = []
    try:
        newcomer = connect(agent.open_path, timeout=10)
        newcomer.sendall(frame(1, REQUEST, request_envelope("GetTeeType")))
        _, _, data = read_frame(newcomer)
        if status_code(data) != 0:
            problems.append(f"a new client's GetTeeType answered {CODES.get(status_code(data))}")
        newcomer.close()
    except (ConnectionError, OSError) as error:
        problems.append(f"a new client after 200 idle connections: {error}")
    stop.wait()
    for sock in socks:
        sock.close()
    report.put(problems)


def attack_connect_close(agent, stop, report):
    for _ in range(10_000):
        if stop.is_set():
            break
        connect(agent.open_path).close()
    report.put([])


def attack_never_reads(agent, stop, report):
    request = request_envelope("GetEvidence", field_bytes(1, b"\x07" * 64))
    socks = [connect(agent.open_path) for _ in range(8)]
    for sock in socks:
        sock.setblocking(False)
    stream_ids = [1] * len(socks)
    while not stop.is_set():
        blocked = 0
        for index, sock in enumerate(socks):
            batch = b"".join(frame(stream_ids[index] + 2 * k, REQUEST, request) for k in range(64))
            try:
                sock.send(batch)
                stream_ids[index] += 128
            except BlockingIOError:
                blocked += 1
        time.sleep(0.01 if blocked == len(socks) else 0.0005)
    for sock in socks:
        sock.close()
    report.put([])


def attack_pipelined(agent, stop, report):
    sock = connect(agent.open_path, timeout=30)
    payload = b"".join(frame(1 + 2 * k, REQUEST, request_envelope("GetTeeType")) for k in range(10_000))
    import threading
    sender = threading.Thread(target=sock.sendall, args=(payload,))
    sender.start()
    problems, answered = [], 0
    try:
        for _ in range(10_000):
            _, _, data = read_frame(sock)
            if status_code(data) != 0:
                problems.append(f"pipelined GetTeeType answered {CODES.get(status_code(data))}")
                break
            answered += 1
    except (ConnectionError, OSError) as error:
        problems.append(f"10,000 pipelined requests: {answered} answered, then {error}")
    sender.join()
    sock.close()
    stop.wait()
    report.put(problems)


def attack_forbidden_methods(agent, stop, report):
    forbidden = [m for m in METHODS if m not in HOST_ALLOWED]
    frames = [frame(1 + 2 * k, REQUEST, request_envelope(m)) for k, m in enumerate(forbidden)]
    allowed = [frame(1 + 2 * k, REQUEST, request_envelope(m)) for k, m in enumerate(sorted(HOST_ALLOWED))]

    def body(a):
        return (expect_codes(a, frames, {7}, "forbidden method on the restricted listener", a.restricted_path)
                + expect_codes(a, allowed, {0}, "allowed method on the restricted listener", a.restricted_path))
    repeat(agent, stop, report, body)


CASES = [
    ("frame over 4 MiB", attack_oversized),
    ("header then silence", attack_header_then_silence),
    ("body cut short, then close", attack_body_cut_short),
    ("unknown flag bits", attack_reserved_flags),
    ("unknown frame type", attack_unknown_frame_type),
    ("even stream ID", attack_even_stream),
    ("reused stream ID", attack_reused_stream),
    ("data frame on an unknown stream", attack_data_unknown_stream),
    ("random garbage", attack_garbage),
    ("one byte a second", attack_one_byte_a_second),
    ("1,000 idle connections", attack_idle_connections),
    ("200 idle connections, then a new client", attack_idle_then_newcomer),
    ("10,000 connect/close", attack_connect_close),
    ("8 clients that never read", attack_never_reads),
    ("10,000 pipelined requests", attack_pipelined),
    ("restricted listener, every forbidden method", attack_forbidden_methods),
]


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    bin_dir, only = sys.argv[1], set(sys.argv[2:])
    failed = []
    with tempfile.TemporaryDirectory(prefix="aa-hostile-") as directory:
        agent = Agent(bin_dir, directory)
        honest = Honest(agent.open_path)
        honest.run(300)
        warm_up(agent)
        alone_p99, _, failures = honest.run(HONEST_CALLS)
        if failures:
            print(f"honest client alone failed: {failures[0]}")
            return 1
        idle = agent.settled_rss_kib()
        print(f"honest client alone: p99 {alone_p99 * 1e6:.0f} us over {HONEST_CALLS} GetStatus; agent RSS {idle} KiB idle")
        print(f"{'case':46} {'p99 alone':>10} {'p99 attack':>10} {'ratio':>6} {'RSS before':>11} {'RSS after':>10}  result")
        ctx = multiprocessing.get_context("fork")
        for name, attack in CASES:
            if only and name not in only and attack.__name__.removeprefix("attack_") not in only:
                continue
            alone_p99, _, _ = honest.run(HONEST_CALLS)
            before = agent.settled_rss_kib()
            stop, report = ctx.Event(), ctx.Queue()
            attacker = ctx.Process(target=attack, args=(agent, stop, report))
            attacker.start()
            time.sleep(0.5)
            p99, slowest, failures = honest.run(HONEST_CALLS)
            stop.set()
            try:
                problems = report.get(timeout=60)
            except Exception:  # noqa: BLE001
                problems = ["the attacker did not finish"]
            attacker.join(timeout=10)
            if attacker.is_alive():
                attacker.kill()
            after = agent.settled_rss_kib()
            if failures:
                problems.append(f"honest client: {failures[0]}")
            if slowest > 1.0:
                problems.append(f"an honest call took {slowest:.2f} s")
            if not agent.alive():
                problems.append("the agent died")
            if after - before > RSS_SLACK_KIB:
                problems.append(f"RSS stayed {after - before} KiB above its level before the case")
            ratio = p99 / alone_p99 if alone_p99 else float("inf")
            result = "ok" if not problems else "FAIL: " + "; ".join(problems)
            print(f"{name:46} {alone_p99 * 1e6:8.0f}us {p99 * 1e6:8.0f}us {ratio:5.1f}x {before:8d}KiB {after:7d}KiB  {result}",
                  flush=True)
            if problems:
                failed.append(name)
            if not agent.alive():
                break
        code = agent.stop() if agent.alive() else "dead"
        if code != 0:
            failed.append(f"agent exit status {code}")
    print(f"hostile clients: {len(CASES) - len(failed) if not only else '-'} ok, {len(failed)} failed" +
          (f" ({', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
