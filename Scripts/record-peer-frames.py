#!/usr/bin/env python3
"""Records the exact frames a peer client sends and the agent answers.

    Scripts/record-peer-frames.py AGENT_BINARY PEER_BINARY OUT_DIR

Starts the agent on a simulated init-data field, puts a relay between it and
the peer client, runs the client through every method and the accepting path
of the state machine, and writes OUT_DIR/NN_Method.request.bin and
.response.bin per call with manifest.json. Tests/IntegrationTests replays
them byte for byte. Scripts/record-frames.sh re-records everything.
"""
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

FIELD = "c3" * 48
CONFIG = base64.b64encode(b'[token_configs.kbs]\nurl = "http://127.0.0.1:1"\n').decode()
COMMANDS = [
    "GetTeeType", "GetAdditionalTees", "GetStatus", "GetToken kbs", f"UpdateConfiguration {CONFIG}",
    f"BindInitData {FIELD}", "GetStatus", f"CheckInitData {FIELD}", f"UpdateConfiguration {CONFIG}",
    "GetStatus", "GetToken nope", "GetEvidence 010203", "GetAdditionalEvidence 010203",
    "ExtendRuntimeMeasurement domain op content 17", "ExtendRuntimeMeasurement domain op content",
]


def relay(source, sink, frames, lock):
    """Copies bytes from source to sink, splitting them into whole frames."""
    pending = b""
    while True:
        chunk = source.recv(65536)
        if not chunk:
            sink.shutdown(socket.SHUT_WR)
            return
        sink.sendall(chunk)
        pending += chunk
        while len(pending) >= 10:
            length, stream = struct.unpack(">II", pending[:8])
            if len(pending) < 10 + length:
                break
            with lock:
                frames.append((stream, pending[:10 + length]))
            pending = pending[10 + length:]


def main():
    agent_binary, peer_binary, out_dir = sys.argv[1:4]
    work = tempfile.mkdtemp(prefix="aa-record-")
    agent_path, proxy_path = os.path.join(work, "aa.sock"), os.path.join(work, "proxy.sock")
    environment = {"AA_SAMPLE_INITDATA": FIELD}
    agent = subprocess.Popen([agent_binary, "--attestation_sock", "unix://" + agent_path, "--log-level", "error"],
                             env={"PATH": "/usr/bin:/bin", "AA_PLATFORM_ROOT": work, **environment})
    while not os.path.exists(agent_path):
        time.sleep(0.01)

    listener = socket.socket(socket.AF_UNIX)
    listener.bind(proxy_path)
    listener.listen(1)
    requests, responses, lock = [], [], threading.Lock()

    def accept():
        client, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(agent_path)
        threads = [threading.Thread(target=relay, args=(client, upstream, requests, lock)),
                   threading.Thread(target=relay, args=(upstream, client, responses, lock))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    proxy = threading.Thread(target=accept)
    proxy.start()
    result = subprocess.run([peer_binary, "client", proxy_path], input="\n".join(COMMANDS) + "\n",
                            capture_output=True, text=True, timeout=60)
    proxy.join(timeout=10)
    agent.terminate()
    agent.wait()
    if len(requests) != len(COMMANDS) or len(responses) != len(COMMANDS):
        sys.exit(f"recorded {len(requests)} requests, {len(responses)} responses for {len(COMMANDS)} calls:\n{result.stdout}{result.stderr}")

    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, name))
    answers = dict(responses)
    manifest = {"agent_environment": environment, "source": os.path.basename(peer_binary), "cases": []}
    for index, ((stream, request), command) in enumerate(zip(requests, COMMANDS)):
        name = f"{index:02d}_{command.split()[0]}"
        with open(os.path.join(out_dir, name + ".request.bin"), "wb") as f:
            f.write(request)
        with open(os.path.join(out_dir, name + ".response.bin"), "wb") as f:
            f.write(answers[stream])
        manifest["cases"].append({"name": name, "about": command[:60], "client_output": result.stdout.splitlines()[index]})
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"recorded {len(requests)} calls of {os.path.basename(peer_binary)} into {out_dir}")


if __name__ == "__main__":
    main()
