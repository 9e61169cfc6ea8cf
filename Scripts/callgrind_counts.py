#!/usr/bin/env python3
"""Instructions and heap allocations per call of a ttrpc server, counted by
valgrind's callgrind: figures that do not move with the machine's noise.

    Scripts/callgrind_counts.py PEER SERVER_ARGV... -- METHOD...

Starts the server under callgrind (PEER's `count` mode is the client: the
Rust ttrpc client), makes 300 calls of each METHOD to warm it up, zeroes the
counters, makes CALLS calls on one connection, and dumps them. The dump's
total instructions (every thread of the server) and its calls to malloc,
calloc, realloc and the aligned allocators, divided by CALLS, are printed as
`METHOD instructions allocations`. Used by Scripts/bench-vs-rust.py.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

CALLS = 2000
WARM_UP = 300
ALLOCATORS = {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign"}


def totals(dump):
    """(instructions, allocation calls) of one callgrind dump."""
    names = {}
    callee = None
    instructions = 0
    allocations = 0
    with open(dump) as lines:
        for line in lines:
            named = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if named:
                kind, number, name = named.groups()
                if name:
                    names[number] = name
                if kind == "cfn":
                    callee = names.get(number)
                continue
            if line.startswith("calls=") and callee in ALLOCATORS:
                allocations += int(line.split()[0][len("calls="):])
            elif line.startswith("summary:"):
                instructions = int(line.split()[1])
    return instructions, allocations


def count(peer, server_argv, methods, socket_path, directory):
    out = os.path.join(directory, "callgrind.out")
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + server_argv,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(socket_path):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{server_argv[0]} did not start under valgrind")
            time.sleep(0.1)
        control = lambda command: subprocess.run(["callgrind_control", command, str(server.pid)],
                                                 check=True, capture_output=True)
        results = {}
        for part, method in enumerate(methods, start=1):
            calls = lambda n: subprocess.run([peer, "count", socket_path, method, str(n)], check=True,
                                             capture_output=True)
            calls(WARM_UP)
            control("-z")
            calls(CALLS)
            control("-d")
            instructions, allocations = totals(f"{out}.{part}")
            results[method] = (instructions / CALLS, allocations / CALLS)
        return results
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()


def main():
    split = sys.argv.index("--")
    peer, server_argv, methods = sys.argv[1], sys.argv[2:split], sys.argv[split + 1:]
    socket_path = next(a for a in server_argv if a.endswith(".sock")).removeprefix("unix://")
    with tempfile.TemporaryDirectory(prefix="aa-callgrind-") as directory:
        for method, (instructions, allocations) in count(peer, server_argv, methods, socket_path, directory).items():
            print(method, f"{instructions:.0f}", f"{allocations:.1f}")


if __name__ == "__main__":
    main()
