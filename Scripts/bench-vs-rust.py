#!/usr/bin/env python3
"""The agent beside the Rust ttrpc 0.5.2 server of Tests/Interop/rust, in one run.

    Scripts/bench-vs-rust.py AGENT_BIN_DIR PEER [--rounds N] [--seconds S]

Both servers answer the sample TEE; one load generator drives both (PEER's
`load` mode: the Rust ttrpc client kata's crates use, calls back to back on
each connection). Rounds alternate between the servers and the medians are
compared, so that a noisy neighbour hits both alike. Then each server runs
under valgrind's callgrind for instructions and heap allocations per call
(Scripts/callgrind_counts.py), figures that repeat on a noisy machine where
calls per second do not. Prints a table of figures and ratios (agent /
Rust); asserts nothing.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

import callgrind_counts
from aa_support import rss_kib


class Server:
    def __init__(self, name, argv_for):
        self.name = name
        self.argv_for = argv_for
        self.process = None
        self.path = None

    def start(self, directory):
        """Starts the server; returns the time from exec to an accepting socket."""
        self.path = os.path.join(directory, self.name + ".sock")
        if os.path.exists(self.path):
            os.unlink(self.path)
        started = time.perf_counter()
        self.process = subprocess.Popen(self.argv_for(self.path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.connect(self.path)
                    return time.perf_counter() - started
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited before listening")
                time.sleep(0.0002)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=15)


def load(peer, path, method, connections, seconds):
    out = subprocess.run([peer, "load", path, method, str(connections), str(seconds)],
                         capture_output=True, text=True, check=True).stdout.split()
    values = dict(zip(out[::2], out[1::2]))
    return {"calls": int(values["calls"]), "rate": float(values["calls_per_s"]),
            "p50": float(values["p50_us"]), "p99": float(values["p99_us"])}


def sequential(peer, path, calls=20000):
    """Calls per second of one connection whose client makes its calls one
    after another from its main task (PEER's `count` mode), a second client
    behaviour beside `load`'s spawned tasks: at one connection the rate is
    set by how the two processes' threads are woken more than by either's work."""
    started = time.perf_counter()
    subprocess.run([peer, "count", path, "GetTeeType", str(calls)], capture_output=True, check=True)
    return calls / (time.perf_counter() - started)


def libraries(binary):
    result = subprocess.run(["ldd", binary], capture_output=True, text=True)
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    usual = ("linux-vdso", "libc.so", "libm.so", "ld-linux", "libgcc_s", "libpthread", "libdl.so", "librt.so")
    return [n for n in names if not n.startswith(usual) and "ld-linux" not in n]


def stripped_size(binary, directory):
    copy = os.path.join(directory, os.path.basename(binary) + ".stripped")
    shutil.copy(binary, copy)
    subprocess.run(["strip", copy], check=True)
    return os.path.getsize(copy)


# Extra launches per server and round for the start-up figure.
LAUNCHES = 10

# The calls counted under callgrind.
COUNTED = ("GetTeeType", "GetStatus", "GetEvidence")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("agent_bin_dir")
    parser.add_argument("peer")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    agent_binary = os.path.join(args.agent_bin_dir, "attestation-agent")
    servers = [
        Server("agent", lambda path: [agent_binary, "--attestation_sock", "unix://" + path, "--log-level", "error"]),
        Server("rust", lambda path: [args.peer, "serve", path]),
    ]
    loads = [("GetTeeType", 1), ("GetTeeType", 16), ("GetEvidence", 1), ("GetEvidence", 16), ("Mixed", 1), ("Mixed", 16)]
    results = {s.name: {"start": [], "idle": [], "after": [], "sequential": []} for s in servers}
    for s in servers:
        for method, connections in loads:
            results[s.name][(method, connections)] = []

    with tempfile.TemporaryDirectory(prefix="aa-bench-") as directory:
        for _ in range(args.rounds):
            for s in servers:
                results[s.name]["start"].append(s.start(directory) * 1000)
                load(args.peer, s.path, "GetTeeType", 1, 0.2)  # warm up
                time.sleep(0.5)
                results[s.name]["idle"].append(rss_kib(s.process.pid))
                for method, connections in loads:
                    results[s.name][(method, connections)].append(load(args.peer, s.path, method, connections, args.seconds))
                results[s.name]["sequential"].append(sequential(args.peer, s.path))
                results[s.name]["after"].append(rss_kib(s.process.pid))
                s.stop()
                # Start-up alone, more launches: one per round is too few on a noisy machine.
                for _ in range(LAUNCHES):
                    results[s.name]["start"].append(s.start(directory) * 1000)
                    s.stop()
        sizes = {"agent": stripped_size(agent_binary, directory), "rust": stripped_size(args.peer, directory)}
        counted = {}
        for s in servers:
            path = os.path.join(directory, s.name + "-callgrind.sock")
            counted[s.name] = callgrind_counts.count(args.peer, s.argv_for(path), COUNTED, path, directory)

    def median(name, key, field=None):
        values = results[name][key]
        return statistics.median(v[field] for v in values) if field else statistics.median(values)

    rows = []
    for method in COUNTED:
        rows.append((f"{method}: instructions per call", counted["agent"][method][0], counted["rust"][method][0]))
        rows.append((f"{method}: heap allocations per call", counted["agent"][method][1], counted["rust"][method][1]))
    for method, connections in loads:
        for field, label, better in (("rate", "calls/s", "higher"), ("p50", "p50 latency (us)", "lower")):
            rows.append((f"{method}, {connections} connection{'s' if connections > 1 else ''}: {label}",
                         median("agent", (method, connections), field), median("rust", (method, connections), field)))
    rows += [
        ("GetTeeType, 1 connection, calls one after another (count mode): calls/s",
         median("agent", "sequential"), median("rust", "sequential")),
        ("idle RSS (KiB)", median("agent", "idle"), median("rust", "idle")),
        ("RSS after the loads (KiB)", median("agent", "after"), median("rust", "after")),
        (f"exec to accepting (ms), median of {args.rounds * (LAUNCHES + 1)} launches",
         median("agent", "start"), median("rust", "start")),
        ("binary, stripped (MiB)", sizes["agent"] / 1048576, sizes["rust"] / 1048576),
    ]
    print(f"{args.rounds} rounds, {args.seconds:g} s per load, medians; one load generator (Rust ttrpc client); "
          f"instructions and allocations: callgrind, {callgrind_counts.CALLS} calls after {callgrind_counts.WARM_UP}")
    print(f"| measure | this agent | Rust ttrpc 0.5.2 | agent / Rust |")
    print(f"| --- | --- | --- | --- |")
    for label, agent, rust in rows:
        print(f"| {label} | {agent:,.1f} | {rust:,.1f} | {agent / rust:.2f}x |")
    print(f"| libraries besides glibc (libc, libm) and libgcc_s | {', '.join(libraries(agent_binary)) or 'none'} "
          f"| {', '.join(libraries(args.peer)) or 'none'} | |")


if __name__ == "__main__":
    main()
