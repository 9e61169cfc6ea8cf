#!/usr/bin/env python3
"""Judges the guest test's serial consoles (Scripts/guest-test.sh).

    check_guest.py INITDATA_TOML WORK_DIR AK_DER

WORK_DIR holds the consoles, console-MODE.log, of the boots initdata,
absent, systemd, extension, tamper-data and tamper-hash.

The expected values come from the rules of the agent's consumers, not from
its code: kata waits 6 s for the socket; on a TPM the initdata digest (the
document's SHA-256, as its `algorithm` says) is extended into PCR 8 of the
SHA-256 bank, so a fresh PCR 8 reads SHA-256(0^32 || digest), which is what
trustee's TPM verifier and the kernel's sysfs file see; the quote is signed by
the attestation key provisioned at 0x81010002 before the boot (AK_DER, its
public part as tpm2_readpublic wrote it), as upstream's TPM attester signs
it, and by no other; the host-facing vsock
listener answers GetTeeType, GetAdditionalTees and GetStatus and refuses the
rest with PERMISSION_DENIED; under systemd a Type=notify unit is started
(and units after it run) only once it has said READY=1, which the agent may
say only when its socket listens, and `systemctl stop` ends it cleanly. With
kata's CoCo extension, kata-agent starts the agent from the extension's
manifest: from /run/kata-extensions/coco, with kata's socket, with
`--initdata-toml` only when initdata was delivered and `-c` only when aa.toml
exists, the `nvidia` variant when KATA_ATTESTER_VARIANT=nvidia; and an
extension whose file system or verity parameters were changed never starts
an agent (dm-verity refuses to open or to read it).
Prints one line per check; exits 1 if any fails.
"""
import base64
import hashlib
import json
import sys

failures = []
SOCKET = "unix:///run/confidential-containers/attestation-agent/attestation-agent.sock"
INITDATA = "/run/confidential-containers/initdata"
KATA_ARGV = f"--attestation_sock {SOCKET}"  # kata-agent's vector, before the initdata flags


def check(what, ok, detail=""):
    print(f"  {'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else ""))
    if not ok:
        failures.append(what)


def read_console(path):
    """AA-GUEST lines as {key: [values]}, in order."""
    results = {}
    with open(path, errors="replace") as console:
        for line in console:
            line = line.rstrip("\r\n")
            at = line.find("AA-GUEST ")
            if at < 0:
                continue
            key, _, value = line[at + len("AA-GUEST "):].partition(" ")
            results.setdefault(key, []).append(value)
    return results


def value(results, key):
    return results.get(key, [None])[0]


def call_result(results, key):
    """(exit status, output) of an aactl call the guest reported."""
    text = value(results, key)
    if text is None:
        return None, ""
    status, _, output = text.partition(" ")
    return int(status), output


def json_of(output):
    try:
        return json.loads(output)
    except ValueError:
        return None


def check_listening(guest, key, what):
    """kata-agent waits 6 s for the socket (launch_process_timeout)."""
    listening = value(guest, key)
    check(what, listening not in (None, "timeout") and int(listening) <= 6000, f"{listening} ms after exec")


EXTENSION = "/run/kata-extensions/coco"
EXTENSION_AGENT = f"{EXTENSION}/usr/local/bin/attestation-agent"
EXTENSION_LIBRARIES = f"LD_LIBRARY_PATH={EXTENSION}/usr/local/lib"
GPU_LIBRARIES = "/run/kata-extensions/gpu/usr/lib"


def process_value(guest, key):
    """A kata-launch line's value after its process id."""
    line = value(guest, key) or ""
    return line.split(" ", 1)[1] if line.startswith("attestation-agent") and " " in line else None


def check_extension(guest, digest, expected_pcr8, attestation_key):
    check("the guest ran the scenario to its end", value(guest, "done") is not None)
    check("the extension (serial extension-coco) opened through dm-verity and mounted",
          (value(guest, "mounted") or "").startswith("yes"), value(guest, "mounted"))
    for launch, initdata in (("absent", False), ("initdata", True), ("nvidia", True)):
        check(f"{launch}: started from the extension", process_value(guest, f"{launch}-plan-path") == EXTENSION_AGENT,
              value(guest, f"{launch}-plan-path"))
        args = process_value(guest, f"{launch}-launch-args") or ""
        expected = KATA_ARGV + (f" --initdata-toml {INITDATA}/initdata.toml -c {INITDATA}/aa.toml" if initdata else "")
        check(f"{launch}: kata's arguments (--initdata-toml only with initdata, -c only when aa.toml exists)",
              args == expected, args)
        waited = process_value(guest, f"{launch}-launch-socket-ms")
        check(f"{launch}: the socket appeared within kata's polls (6 s more after the first second)",
              value(guest, f"{launch}-launch-status") == "0" and waited is not None and int(waited) <= 7000,
              f"{waited} ms; {value(guest, f'{launch}-error')}")
        libraries = f"{EXTENSION_LIBRARIES}:{GPU_LIBRARIES}" if launch == "nvidia" else EXTENSION_LIBRARIES
        environment = (value(guest, f"{launch}-environment") or "").strip()
        check(f"{launch}: the {'nvidia' if launch == 'nvidia' else 'default'} variant's library path",
              environment == libraries, environment)
    status, output = call_result(guest, "absent-status")
    state = json_of(output) or {}
    check("without initdata: InitDataVerified, absent (PCR 8 zero)",
          status == 0 and state.get("state") == "InitDataVerified" and state.get("binding") == "absent", output[:300])
    for launch in ("initdata", "nvidia"):
        status, output = call_result(guest, f"{launch}-status")
        state = json_of(output) or {}
        check(f"{launch}: Configured, PCR 8 measured with the delivered document's digest",
              status == 0 and state.get("state") == "Configured" and state.get("binding") == "measured"
              and state.get("init_data_digest") == digest.hex(), output[:300])
    status, output = call_result(guest, "initdata-evidence")
    evidence = (json_of(output) or {}).get("evidence", {})
    quote = evidence.get("tpm_quote", {}) if isinstance(evidence, dict) else {}
    pcrs = quote.get("pcrs", [])
    check("GetEvidence through the extension's tpm2-tss: PCR 8 is SHA-256(0^32 || digest), the provisioned key signs",
          status == 0 and len(pcrs) == 24 and pcrs[8].lower() == expected_pcr8
          and evidence.get("ak_public") == attestation_key, output[:200])
    check("the kernel's PCR 8 shows the same", (value(guest, "pcr8") or "").lower() == expected_pcr8, value(guest, "pcr8"))


def check_refused(guest, what):
    check("the guest ran the scenario to its end", value(guest, "done") is not None)
    mounted = value(guest, "mounted") or ""
    error = value(guest, "absent-error") or ""
    check(f"{what}: refused when mounted or when read",
          mounted.startswith("no") or "Input/output error" in error, f"mounted: {mounted}; launch: {error}")
    check(f"{what}: no agent started", value(guest, "absent-launch-pid") is None
          and value(guest, "absent-launch-status") == "1", value(guest, "absent-launch-pid") or error)
    check(f"{what}: the kernel's dm-verity said so", "verity" in (value(guest, "kernel-log") or "").lower()
          or "verif" in mounted.lower(), value(guest, "kernel-log"))


def main():
    document, work, ak_der = sys.argv[1:4]
    console = {mode: f"{work}/console-{mode}.log"
               for mode in ("initdata", "absent", "systemd", "extension", "tamper-data", "tamper-hash")}
    initdata_log, absent_log, systemd_log = console["initdata"], console["absent"], console["systemd"]
    attestation_key = base64.b64encode(open(ak_der, "rb").read()).decode()
    digest = hashlib.sha256(open(document, "rb").read()).digest()
    expected_pcr8 = hashlib.sha256(bytes(32) + digest).hexdigest()

    print("boot with initdata:")
    guest = read_console(initdata_log)
    check("the guest ran the scenario to its end", value(guest, "done") is not None)
    check("the kernel's TPM driver gives /dev/tpmrm0", "/dev/tpmrm0" in (value(guest, "tpm-devices") or ""),
          value(guest, "tpm-devices") or "no TPM device")
    check("no AA_TPM_TCTI in the environment", value(guest, "environment-tcti") == "unset")
    check("started with kata's argument vector",
          value(guest, "argv") == f"{KATA_ARGV} --initdata-toml {INITDATA}/initdata.toml -c {INITDATA}/aa.toml",
          value(guest, "argv"))
    check_listening(guest, "listening-ms", "the socket listens within kata's 6 s")
    status, output = call_result(guest, "status")
    state = json_of(output) or {}
    check("GetStatus: Configured, bound to PCR 8 with the document's digest",
          status == 0 and state.get("state") == "Configured" and state.get("init_data_digest") == digest.hex(),
          output[:300])
    status, output = call_result(guest, "evidence")
    evidence = (json_of(output) or {}).get("evidence", {})
    pcrs = evidence.get("tpm_quote", {}).get("pcrs", []) if isinstance(evidence, dict) else []
    quoted_pcr8 = pcrs[8].lower() if len(pcrs) > 8 else None
    check("GetEvidence over the Unix socket", status == 0 and quoted_pcr8 is not None, output[:200])
    check("PCR 8 in the evidence is SHA-256(0^32 || digest)", quoted_pcr8 == expected_pcr8,
          f"{quoted_pcr8} vs {expected_pcr8}")
    ak_public = evidence.get("ak_public") if isinstance(evidence, dict) else None
    check("the quote's key is the attestation key provisioned at 0x81010002", ak_public == attestation_key,
          f"{(ak_public or '')[:40]}... vs {attestation_key[:40]}...")
    sysfs_pcr8 = (value(guest, "pcr8") or "").lower()
    check("the kernel's /sys/class/tpm/tpm0/pcr-sha256/8 shows the same", sysfs_pcr8 == expected_pcr8, sysfs_pcr8)
    check("SIGTERM: exit status 0", value(guest, "exit-after-sigterm") == "0", value(guest, "exit-after-sigterm"))
    check("SIGTERM: the socket file is removed", value(guest, "socket-left") == "no")
    check_listening(guest, "restart-listening-ms", "restart (PCR 8 already holds the digest) listens within 6 s")
    status, output = call_result(guest, "restart-status")
    check("restart: Configured again", status == 0 and (json_of(output) or {}).get("state") == "Configured", output[:300])
    for method in ("get-tee-type", "get-additional-tees", "status"):
        status, output = call_result(guest, f"vsock-{method}")
        check(f"vsock (CID 1, a real AF_VSOCK connection): {method} answered", status == 0, output[:200])
    for method in ("get-evidence", "get-token"):
        status, output = call_result(guest, f"vsock-{method}")
        check(f"vsock: {method} refused with PERMISSION_DENIED", status == 1 and "PERMISSION_DENIED" in output,
              output[:200])
    check("restart: SIGTERM exit status 0", value(guest, "restart-exit-after-sigterm") == "0")
    if failures:
        print("  agent log:", value(guest, "agent-log"))

    print("boot without initdata:")
    guest = read_console(absent_log)
    check("the guest ran the scenario to its end", value(guest, "done") is not None)
    check("started with kata's argument vector, no initdata", value(guest, "argv") == KATA_ARGV, value(guest, "argv"))
    check_listening(guest, "listening-ms", "the socket listens within 6 s")
    status, output = call_result(guest, "status")
    state = json_of(output) or {}
    check("GetStatus: initdata absent (PCR 8 is zero after the reboot)",
          status == 0 and state.get("binding") == "absent" and state.get("state") == "InitDataVerified", output[:300])
    check("PCR 8 reads zero", (value(guest, "pcr8") or "").strip("0") == "", value(guest, "pcr8"))
    if failures:
        print("  agent log:", value(guest, "agent-log"))

    print("boot with systemd (deploy/attestation-agent.service):")
    guest = read_console(systemd_log)
    check("the guest ran the checks to their end", value(guest, "done") is not None)
    check("the unit after the agent's found its socket listening (READY=1 after listen)",
          value(guest, "socket-when-ready") == "yes", value(guest, "socket-when-ready"))
    unit = value(guest, "unit") or ""
    check("systemctl: Type=notify, active (running)",
          all(part in unit for part in ("Type=notify", "ActiveState=active", "SubState=running")), unit)
    status, output = call_result(guest, "status")
    state = json_of(output) or {}
    check("GetStatus: Configured from the initdata the unit found",
          status == 0 and state.get("state") == "Configured" and state.get("init_data_digest") == digest.hex(),
          output[:300])
    stopped = value(guest, "after-stop") or ""
    check("systemctl stop: inactive, result success, exit status 0",
          all(part in stopped for part in ("ActiveState=inactive", "Result=success", "ExecMainStatus=0")), stopped)
    check("systemctl stop: the socket file is removed", value(guest, "socket-left") == "no")

    print("boot with kata's CoCo extension (deploy/build-extension.sh):")
    guest = read_console(console["extension"])
    check_extension(guest, digest, expected_pcr8, attestation_key)
    if failures:
        print("  agent log:", value(guest, "agent-log"))

    print("boot with one byte of the extension's file system changed:")
    check_refused(read_console(console["tamper-data"]), "a changed byte")
    print("boot with another root hash in the verity parameters:")
    check_refused(read_console(console["tamper-hash"]), "another root hash")

    print(f"guest checks: {'all passed' if not failures else f'{len(failures)} failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
