"""What the project's Python scripts and test helpers share, standard library
only: the ttrpc wire format and protobuf fields, encoded by hand from
containerd's ttrpc and the protobuf encoding rules (never with the agent's
code, so that what they check stays independent of it); a process's RSS; and
waiting for the agent's socket.

Scripts import it from this folder; Tests/ helpers put Scripts/ on sys.path.
"""
import socket
import struct
import time

SERVICE = "attestation_agent.AttestationAgentService"
# ttrpc frame types.
REQUEST, RESPONSE, DATA = 1, 2, 3
HEADER_SIZE = 10


# --- protobuf -----------------------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, wire, value):
    """One field: a varint (wire type 0) or length-delimited bytes (2)."""
    key = varint(number << 3 | wire)
    if wire == 0:
        return key + varint(value)
    return key + varint(len(value)) + value


def string(number, text):
    """A proto3 string field, left out when empty."""
    return field(number, 2, text.encode()) if text else b""


def bytes_field(number, data):
    """A proto3 bytes field, left out when empty."""
    return field(number, 2, data) if data else b""


def read_varint(data, offset):
    shift = value = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, offset


def fields(data):
    """(number, wire type, value) of a message's fields, in order."""
    offset, out = 0, []
    while offset < len(data):
        key, offset = read_varint(data, offset)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, offset = read_varint(data, offset)
        elif wire == 2:
            length, offset = read_varint(data, offset)
            value, offset = data[offset:offset + length], offset + length
        else:
            raise ValueError(f"wire type {wire}")
        out.append((number, wire, value))
    return out


# --- ttrpc --------------------------------------------------------------------

def request(method, payload=b"", timeout_nano=0, metadata=(), service=SERVICE):
    """A ttrpc Request envelope: service, method, payload, timeout, metadata."""
    body = string(1, service) + string(2, method) + bytes_field(3, payload)
    if timeout_nano:
        body += field(4, 0, timeout_nano)
    for key, value in metadata:
        body += field(5, 2, string(1, key) + string(2, value))
    return body


def frame(stream, kind, data, flags=0):
    """A frame: length, stream ID, type and flags, big-endian, then the data."""
    return struct.pack(">IIBB", len(data), stream, kind, flags) + data


def status_code(response_data):
    """The google.rpc.Status code of a ttrpc Response, 0 when absent."""
    for number, _, value in fields(response_data):
        if number == 1:
            for inner, _, code in fields(value):
                if inner == 1:
                    return code
    return 0


def recv_exact(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return bytes(data)


def read_frame(sock):
    """(stream ID, type, data) of the next frame on a blocking socket."""
    length, stream_id, kind, _ = struct.unpack(">IIBB", recv_exact(sock, HEADER_SIZE))
    return stream_id, kind, recv_exact(sock, length)


# --- processes ----------------------------------------------------------------

def rss_kib(pid):
    """The resident set of a process, in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def wait_for_socket(path, process, limit=10.0):
    """Waits until a connection to the Unix socket `path` succeeds; raises if
    `process` (a subprocess.Popen) exits first or `limit` seconds pass."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if process.poll() is not None:
            raise RuntimeError(f"the agent exited with {process.returncode}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
                return
        except OSError:
            time.sleep(0.001)
    raise RuntimeError(f"not listening on {path} after {limit} s")
