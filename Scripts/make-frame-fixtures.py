#!/usr/bin/env python3
"""Writes Tests/Fixtures/frames/: ttrpc request frames as a client sends them
and the exact response frames the agent must answer, with a manifest.

The bytes are built here by hand from the protobuf wire format, apart from
the agent's own code, so that the replay test checks the agent against an
independent encoding. Frames recorded from the Go and Rust ttrpc clients join
them later. Run: python3 Scripts/make-frame-fixtures.py
"""
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aa_support import bytes_field, field, frame, request, string  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "frames", "handmade")
# The agent is started with this simulated init-data field (AA_SAMPLE_INITDATA).
FIELD = bytes([0x11] * 32)


def ok(payload=b""):
    return bytes_field(2, payload)


def error(code, message):
    return field(1, 2, field(1, 0, code) + string(2, message))


FAILED_PRECONDITION, UNIMPLEMENTED, INVALID_ARGUMENT = 9, 12, 3
status_booting = string(1, "Booting") + string(2, "pending") + string(3, "sample") + string(4, "none")
status_verified = (string(1, "InitDataVerified") + string(2, "matched") + string(3, "sample") + string(4, "none")
                   + string(5, FIELD.hex()))
evidence = json.dumps({"svn": "1", "report_data": base64.b64encode(b"\x01\x02\x03").decode()},
                      separators=(",", ":")).encode()

# In order: each case runs on a fresh connection to the same agent.
CASES = [
    ("get_tee_type", "GetTeeType in Booting",
     request("GetTeeType", timeout_nano=5_000_000_000, metadata=[("trace-id", "1")]), ok(string(1, "sample"))),
    ("get_additional_tees", "no additional TEEs: an empty response", request("GetAdditionalTees"), ok()),
    ("get_status_booting", "GetStatus before binding", request("GetStatus"), ok(status_booting)),
    ("get_token_booting", "GetToken before binding",
     request("GetToken", string(1, "kbs")),
     error(FAILED_PRECONDITION, "initdata is not verified yet: call BindInitData with the initdata digest first")),
    ("get_evidence", "sample evidence echoes the report data",
     request("GetEvidence", bytes_field(1, b"\x01\x02\x03")), ok(bytes_field(1, evidence))),
    ("extend_runtime_measurement", "event log off: NOT_ENABLED (RegisterIndex present)",
     request("ExtendRuntimeMeasurement", string(1, "d") + string(2, "o") + string(3, "c") + field(4, 0, 17)),
     ok(field(1, 0, 2))),
    ("unknown_method", "an unknown method", request("Nope"), error(UNIMPLEMENTED, "method Nope")),
    ("bind_init_data", "the right digest, 32 bytes zero-padded to the 64-byte field",
     request("BindInitData", bytes_field(1, FIELD)), ok()),
    ("get_status_verified", "GetStatus after binding", request("GetStatus"), ok(status_verified)),
    ("update_configuration", "configured once",
     request("UpdateConfiguration", string(1, '[token_configs.kbs]\nurl = "http://127.0.0.1:1"\n')), ok()),
    ("update_configuration_again", "a second configuration",
     request("UpdateConfiguration", string(1, "")),
     error(FAILED_PRECONDITION, "the configuration was already set (from update); it is set once")),
    ("get_token_unknown_type", "GetToken when configured, for a token type nobody knows",
     request("GetToken", string(1, "nope")),
     error(INVALID_ARGUMENT, "unknown token type 'nope': expected one of kbs, coco_as")),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {"agent_environment": {"AA_SAMPLE_INITDATA": FIELD.hex()}, "cases": []}
    for name, about, req, resp in CASES:
        with open(os.path.join(OUT, name + ".request.bin"), "wb") as f:
            f.write(frame(1, 1, req))
        with open(os.path.join(OUT, name + ".response.bin"), "wb") as f:
            f.write(frame(1, 2, resp))
        manifest["cases"].append({"name": name, "about": about, "source": "Scripts/make-frame-fixtures.py"})
    # A protocol violation: an even stream id is answered on that stream.
    with open(os.path.join(OUT, "even_stream_id.request.bin"), "wb") as f:
        f.write(frame(2, 1, request("GetStatus")))
    with open(os.path.join(OUT, "even_stream_id.response.bin"), "wb") as f:
        f.write(frame(2, 2, error(INVALID_ARGUMENT, "StreamID must be odd for client initiated streams")))
    manifest["cases"].append({"name": "even_stream_id", "about": "an even stream id",
                              "source": "Scripts/make-frame-fixtures.py"})
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
