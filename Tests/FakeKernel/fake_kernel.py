#!/usr/bin/env python3
"""A kernel's /sys for one confidential VM, served by FUSE, so the real
binary runs GetEvidence end to end under AA_PLATFORM_ROOT. It behaves as the
kernel's interfaces do, not as the agent's code expects:

- configfs-tsm (kernel/config/tsm/report): mkdir makes an entry with
  provider, generation, inblob, outblob and auxblob (SNP); writing inblob
  bumps generation and makes a report over it; rmdir removes the entry.
- TDX (devices/virtual/misc/tdx_guest/measurements): mrconfigid, and
  rtmr0..3:sha384 that extend on write (new = SHA-384(old || data)).
- TDX CCEL (firmware/acpi/tables/data/CCEL) with --ccel: a firmware log
  whose boot events the RTMRs start from, and 512 unused bytes.

Reports come from the project's synthetic fixtures with the report data,
the init-data field and (TDX) the current RTMRs written in.

    fake_kernel.py MOUNTPOINT --tee tdx|snp|cca [--field HEX] [--ccel] [--dump DIR]

--dump writes each report's outblob and auxblob to DIR as well, for checkers.

Needs libfuse3 (Debian's fuse3) and mfusepy. Runs in the foreground until
unmounted (fusermount3 -u MOUNTPOINT) or killed.
"""
import argparse
import errno
import hashlib
import os
import stat
import struct
import sys

from mfusepy import FUSE, FuseOSError, Operations

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "reports")
REPORT_DIR = "/kernel/config/tsm/report"
MEASUREMENTS = "/devices/virtual/misc/tdx_guest/measurements"
CCEL = "/firmware/acpi/tables/data/CCEL"
PROVIDERS = {"tdx": "tdx_guest", "snp": "sev_guest", "cca": "arm_cca_guest"}
# The sev crate's GUIDs (RFC 4122 byte order) for VCEK, ASK and ARK.
CERT_GUIDS = [bytes.fromhex("63da758de6644564adc5f4b93be8accd"), bytes.fromhex("4ab7b379bbac4fe4a02f05aef327c782"),
              bytes.fromhex("c0b406a4a80349529743" "3fb6014cd0ae")]


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def padded(data, size):
    return (bytes(data) + bytes(size))[:size]


def ccel_table():
    """A firmware log (crypto-agile, SHA-384) with one boot event each into
    RTMR0 and RTMR1, then unused room; and the RTMRs it leaves."""
    spec = b"Spec ID Event03\0" + struct.pack("<IBBBBIHH", 0, 0, 2, 0, 2, 1, 0x0C, 48) + b"\0"
    table = struct.pack("<II", 0, 3) + bytes(20) + struct.pack("<I", len(spec)) + spec
    rtmrs = [bytes(48)] * 4
    for register, data in [(1, b"firmware"), (2, b"kernel")]:
        digest = hashlib.sha384(data).digest()
        table += struct.pack("<IIIH", register, 0x80000001, 1, 0x0C) + digest + struct.pack("<I", len(data)) + data
        rtmrs[register - 1] = hashlib.sha384(rtmrs[register - 1] + digest).digest()
    return table + b"\xff" * 512, rtmrs


class Kernel(Operations):
    """Served single-threaded (nothreads), so no operation races another."""
    use_ns = True

    def __init__(self, tee, field, with_ccel, dump):
        self.tee, self.field, self.dump = tee, field, dump
        self.files = {}
        self.dirs = {"/"}
        for path in [REPORT_DIR]:
            self.add_dir(path)
        if tee == "tdx":
            self.add_dir(MEASUREMENTS)
            rtmrs = [bytes(48)] * 4
            if with_ccel:
                table, rtmrs = ccel_table()
                self.add_dir(os.path.dirname(CCEL))
                self.files[CCEL] = table
            self.files[MEASUREMENTS + "/mrconfigid"] = padded(field, 48)
            for index, value in enumerate(rtmrs):
                self.files[MEASUREMENTS + f"/rtmr{index}:sha384"] = value

    def add_dir(self, path):
        while path not in self.dirs:
            self.dirs.add(path)
            path = os.path.dirname(path)

    def report(self, inblob):
        data = padded(inblob, 64)
        if self.tee == "tdx":
            quote = bytearray(fixture("tdx-quote-v4.bin"))
            quote[568:632] = data
            quote[232:280] = padded(self.field, 48)
            for index in range(4):
                quote[376 + 48 * index:424 + 48 * index] = self.files[MEASUREMENTS + f"/rtmr{index}:sha384"]
            return bytes(quote), b""
        if self.tee == "snp":
            report = bytearray(fixture("snp-report-v3.bin"))
            report[0x50:0x90] = data
            report[0xC0:0xE0] = padded(self.field, 32)
            header = 24 * (len(CERT_GUIDS) + 1)
            table = b"".join(g + struct.pack("<II", header + 4 * i, 4) for i, g in enumerate(CERT_GUIDS)) + bytes(24)
            return bytes(report), table + b"".join(bytes([i]) * 4 for i in range(len(CERT_GUIDS)))
        token = bytearray(fixture("cca-token.cbor"))
        for key, value in [(b"\x0a\x58\x40", data), (b"\x19\xac\xcb\x58\x40", padded(self.field, 64))]:
            at = token.index(key) + len(key)
            token[at:at + 64] = value
        return bytes(token), b""

    # FUSE operations

    def getattr(self, path, fh=None):
        if path in self.dirs:
            return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2}
        if path in self.files:
            return {"st_mode": stat.S_IFREG | 0o644, "st_nlink": 1, "st_size": len(self.files[path])}
        raise FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        names = {p[len(path):].lstrip("/").split("/")[0] for p in self.dirs | set(self.files)
                 if p != path and p.startswith(path.rstrip("/") + "/")}
        return [".", ".."] + sorted(names)

    def mkdir(self, path, mode):
        if os.path.dirname(path) != REPORT_DIR:
            raise FuseOSError(errno.EPERM)
        self.dirs.add(path)
        self.files[path + "/provider"] = (PROVIDERS[self.tee] + "\n").encode()
        self.files[path + "/generation"] = b"0\n"
        for name in ["inblob", "outblob", "auxblob"]:
            self.files[path + "/" + name] = b""
        return 0

    def rmdir(self, path):
        if path not in self.dirs:
            raise FuseOSError(errno.ENOENT)
        self.dirs.discard(path)
        for name in [p for p in self.files if p.startswith(path + "/")]:
            del self.files[name]
        return 0

    def open(self, path, flags):
        if path not in self.files:
            raise FuseOSError(errno.ENOENT)
        return 0

    def truncate(self, path, length, fh=None):
        return 0

    def read(self, path, size, offset, fh):
        return self.files[path][offset:offset + size]

    def write(self, path, data, offset, fh):
        name = os.path.basename(path)
        if name == "inblob" and os.path.dirname(os.path.dirname(path)) == REPORT_DIR:
            entry = os.path.dirname(path)
            self.files[path] = bytes(data)
            self.files[entry + "/generation"] = f"{int(self.files[entry + '/generation']) + 1}\n".encode()
            self.files[entry + "/outblob"], self.files[entry + "/auxblob"] = self.report(data)
            if self.dump:
                for blob in ["outblob", "auxblob"]:
                    with open(os.path.join(self.dump, blob), "wb") as f:
                        f.write(self.files[entry + "/" + blob])
        elif name.startswith("rtmr") and name.endswith(":sha384"):
            if len(data) != 48:
                raise FuseOSError(errno.EINVAL)
            self.files[path] = hashlib.sha384(self.files[path] + bytes(data)).digest()
        else:
            raise FuseOSError(errno.EACCES)
        return len(data)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mountpoint")
    parser.add_argument("--tee", choices=sorted(PROVIDERS), required=True)
    parser.add_argument("--field", default="")
    parser.add_argument("--ccel", action="store_true")
    parser.add_argument("--dump")
    options = parser.parse_args()
    os.makedirs(options.mountpoint, exist_ok=True)
    kernel = Kernel(options.tee, bytes.fromhex(options.field), options.ccel, options.dump)
    # direct_io and no attribute cache: every read and write reaches this
    # process, as a sysfs or configfs attribute does in the kernel.
    FUSE(kernel, options.mountpoint, foreground=True, nothreads=True, direct_io=True,
         attr_timeout=0, entry_timeout=0, negative_timeout=0)


if __name__ == "__main__":
    sys.exit(main())
