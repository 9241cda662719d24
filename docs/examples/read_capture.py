#!/usr/bin/env python3
"""Print a wstap capture as JSON lines, as `wstap show --format jsonl` does.

Usage: read_capture.py FILE

A reference reader for the format in docs/capture-format.md. It needs only
the standard library plus `zstandard` and `cbor2` (Debian: python3-zstandard,
python3-cbor2). It walks the file frame by frame, checks every chunk's header
and data CRC-32C, decompresses each chunk, decodes its CBOR records and joins
payload chunks into whole messages. Damage in the middle of the file is
passed over as the spec's section 7.2 says (resynchronising on the next
good frame) with a warning on stderr; at a torn or corrupt tail it prints
what came before, warns on stderr and exits 0.

The output matches wstap's own (capture/jsonl.go, message.go's Assemble):
same records, same keys in the same order, same values. Frame records are
left out, as wstap does by default.
"""

import base64
import datetime
import io
import json
import re
import struct
import sys

import cbor2
import zstandard

FORMAT_VERSION = 1  # the newest format this script reads

MAGIC_HEADER = 0x184D2A50  # file header, at offset 0
MAGIC_CHUNK = 0x184D2A51  # chunk header; one zstd frame follows
MAGIC_INDEX = 0x184D2A52  # index checkpoint
MAGIC_FOOTER = 0x184D2A53  # footer of a cleanly closed file
MAX_FRAME = 64 << 20  # larger length fields mean damage
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1  # record time deltas are i64

OPEN, FRAME, CHUNK, CLOSE, EVENT, HTTP, END = 1, 2, 3, 4, 5, 6, 7
# The types of each record kind's elements after [kind, id, time] in format
# 1. Later elements are skipped; kinds not listed are skipped whole.
FIELDS = {
    OPEN: (dict,),  # handshake map
    FRAME: (int, int, bool, int),  # direction, header byte, masked, length
    CHUNK: (int, int, int, bytes),  # direction, opcode, flags, payload
    CLOSE: (int, int, bytes),  # direction, code, reason
    EVENT: (str, str),  # kind, detail
    HTTP: (dict,),  # exchange map
    END: (str,),  # error
}
FIRST, LAST, COMPRESSED, TRUNCATED, DROPPED = 1, 2, 4, 8, 512  # chunk flags
# Chunk flags 16 (Frame), 32 (Masked) and 64-256 (RSV) hold the facts of the
# one frame that carried a whole message. This script prints no frames, so it
# ignores them, as it ignores the reserved bits from 1024 up.


# CRC-32C (Castagnoli), as in iSCSI and ext4: reflected polynomial 0x82F63B78.
def _crc_table():
    table = []
    for n in range(256):
        for _ in range(8):
            n = (n >> 1) ^ 0x82F63B78 if n & 1 else n >> 1
        table.append(n)
    return table


CRC_TABLE = _crc_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class NotCapture(Exception):
    """The file is not a capture this script can read."""


class TornTail(Exception):
    """The file ends in data that is short or corrupt; all before is intact."""

    def __init__(self, offset, reason):
        super().__init__(f"torn or corrupt tail at offset {offset}: {reason}")


class Damage:
    """Damaged bytes in the middle of the file, passed over (section 7.2)."""

    def __init__(self, start, end, reason):
        self.start, self.end, self.reason = start, end, reason

    def __str__(self):
        return (f"damaged bytes {self.start}\u2013{self.end} ({self.end - self.start} bytes): "
                f"{self.reason}; reading on")


class Bad(Exception):
    """A bad frame; trusted_end is where it ends when its extent holds."""

    def __init__(self, reason, trusted_end=None):
        super().__init__(reason)
        self.reason, self.trusted_end = reason, trusted_end


def read_exact(f, offset, n):
    f.seek(offset)
    data = f.read(n)
    if len(data) != n:
        raise EOFError
    return data


def read_header(f):
    """Check the file header frame and return the offset just past it."""
    try:
        magic, size = struct.unpack("<II", read_exact(f, 0, 8))
        if magic != MAGIC_HEADER or size > 1 << 16:
            raise EOFError
        p = read_exact(f, 8, size)
    except EOFError:
        raise NotCapture("not a wstap capture") from None
    if len(p) < 16 or p[:8] != b"WSTAPCAP":
        raise NotCapture("not a wstap capture")
    version, _flags, meta_crc = struct.unpack_from("<HHI", p, 8)
    if version > FORMAT_VERSION:
        raise NotCapture(f"written by a newer wstap (format {version}); "
                         f"this reader reads format {FORMAT_VERSION} and older")
    if version < 1 or crc32c(p[16:]) != meta_crc:
        raise NotCapture("not a wstap capture (bad header)")
    return 8 + size


def records(f, size):
    """Yield the records of the capture in f, in file order, and a Damage
    for each damaged range passed over.

    Walks the frames after the file header. At a bad frame it looks for the
    next good one (section 7.2) and yields a Damage for the bytes between;
    when none follows, it raises TornTail at the bad frame. A chunk's
    records are all decoded before the first is yielded.
    """
    off = read_header(f)
    final = False
    while off < size:
        if final:
            raise TornTail(off, "data after the footer")
        try:
            recs, nxt, final = frame_at(f, size, off)
        except Bad as e:
            good = e.trusted_end if e.trusted_end is not None else resync(f, size, off + 1)
            if good is None:
                raise TornTail(off, e.reason) from None
            yield Damage(off, good, e.reason)
            off = good
            continue
        yield from recs
        off = nxt


def frame_at(f, size, off):
    """Check the frame at off; return its records, the offset after it and
    whether it is the footer. Raise Bad for a bad frame."""
    if size - off < 8:
        raise Bad(f"short frame header ({size - off} bytes)")
    magic, n = struct.unpack("<II", read_exact(f, off, 8))
    if magic == 0 and n == 0:
        raise Bad("zero-filled bytes")
    if magic & 0xFFFFFFF0 != MAGIC_HEADER:
        raise Bad(f"unknown frame magic {magic:#010x}")
    nxt = off + 8 + n
    if nxt > size:
        raise Bad(f"frame of {n} bytes runs past the end of the file")
    if magic == MAGIC_CHUNK:
        h = read_exact(f, off + 8, n) if n == 44 else b""
        if n != 44 or crc32c(h[:40]) != struct.unpack_from("<I", h, 40)[0]:
            raise Bad("chunk header checksum mismatch")
        clen, ulen, crc = struct.unpack_from("<III", h)
        (t0,) = struct.unpack_from("<q", h, 24)
        if clen > MAX_FRAME or ulen > MAX_FRAME:
            raise Bad("chunk header checksum mismatch")
        if nxt + clen > size:
            raise Bad(f"chunk of {clen} bytes runs past the end of the file")
        end = nxt + clen  # the header holds: so does the chunk's extent
        frame = read_exact(f, nxt, clen)
        if crc32c(frame) != crc:
            raise Bad("chunk checksum mismatch", end)
        try:  # read at most ulen + 1 bytes: a damaged frame cannot blow up
            raw = zstandard.ZstdDecompressor().stream_reader(frame).read(ulen + 1)
        except zstandard.ZstdError as e:
            raise Bad(f"chunk does not decompress: {e}", end) from None
        if len(raw) != ulen:
            raise Bad(f"chunk decompressed to {len(raw)} bytes, header says {ulen}", end)
        try:
            recs = decode_records(raw, t0)
        except (ValueError, cbor2.CBORDecodeError) as e:
            raise Bad(f"bad record in chunk: {e}", end) from None
        return recs, end, False
    if magic == MAGIC_INDEX:
        p = read_exact(f, off + 8, n) if 4 <= n <= MAX_FRAME else b""
        if not p or crc32c(p[4:]) != struct.unpack_from("<I", p)[0]:
            raise Bad("checkpoint checksum mismatch")
        try:
            if not isinstance(cbor2.loads(p[4:]), dict):
                raise ValueError("not a map")
        except (ValueError, cbor2.CBORDecodeError) as e:
            raise Bad(f"checkpoint does not decode: {e}", nxt) from None
        return [], nxt, False
    if magic == MAGIC_FOOTER:
        if n != 16:
            raise Bad(f"footer of {n} bytes")
        return [], nxt, True
    if magic == MAGIC_HEADER:
        raise Bad("a second file header")
    return [], nxt, False  # any other 0x184D2A5? frame is skipped


def resync(f, size, start):
    """Return the offset of the first good frame at or after start (a chunk
    whose header checksum holds and which lies in the file, a checkpoint
    whose checksum holds, or the footer), or None."""
    f.seek(start)
    data = f.read(size - start)
    i = 0
    while True:
        i = data.find(b"\x2a\x4d\x18", i + 1)
        if i < 1:
            return None
        at, kind = start + i - 1, data[i - 1]
        try:
            if kind == 0x51:
                n, = struct.unpack("<I", read_exact(f, at + 4, 4))
                h = read_exact(f, at + 8, 44)
                if n == 44 and crc32c(h[:40]) == struct.unpack_from("<I", h, 40)[0]:
                    clen, ulen = struct.unpack_from("<II", h)
                    if clen <= MAX_FRAME and ulen <= MAX_FRAME and at + 52 + clen <= size:
                        return at
            elif kind == 0x52:
                n, = struct.unpack("<I", read_exact(f, at + 4, 4))
                if 4 <= n <= MAX_FRAME and at + 8 + n <= size:
                    p = read_exact(f, at + 8, n)
                    if crc32c(p[4:]) == struct.unpack_from("<I", p)[0]:
                        return at
            elif kind == 0x53 and at + 24 == size:
                n, = struct.unpack("<I", read_exact(f, at + 4, 4))
                if n == 16 and read_exact(f, at + 16, 8) == b"WSTAPEND":
                    return at
        except EOFError:
            pass


def decode_records(raw, t0):
    """Decode a chunk's CBOR sequence (RFC 8742) into record lists, with
    times made absolute. Each record stores its time as the difference from
    the previous record's time (the first from the chunk header's t0), so
    the time is a running sum: t0 + delta_1 + ... + delta_i, in wrapping i64
    arithmetic. Records of kinds skipped here count in the sum too."""
    fp = io.BytesIO(raw)
    dec = cbor2.CBORDecoder(fp)
    records = []
    prev = t0  # the previous record's time
    while fp.tell() < len(raw):
        rec = dec.decode()
        if not (isinstance(rec, list) and len(rec) >= 3 and all(is_int(x) for x in rec[:3])
                and rec[0] >= 0 and rec[1] >= 0 and I64_MIN <= rec[2] <= I64_MAX):
            raise ValueError("record is not an array [kind, id, time, ...]")
        prev = rec[2] = wrap_i64(prev + rec[2])
        types = FIELDS.get(rec[0])
        if types is None:
            continue  # a kind from a newer format: skip it
        need = 3 + len(types)
        if len(rec) < need or not all(has_type(x, t) for x, t in zip(rec[3:], types)):
            raise ValueError(f"malformed record of kind {rec[0]}")
        out = rec[:need]  # elements a newer format appended are skipped, but for
        if rec[0] in (FRAME, CLOSE):  # the optional "dropped" of frames and closes
            out.append(len(rec) > need and rec[need] is True)
        records.append(out)
    return records


def wrap_i64(n):
    """Wrap n into the i64 range, as Go's int64 arithmetic does."""
    return (n - I64_MIN) % (1 << 64) + I64_MIN


def is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def has_type(x, t):
    return is_int(x) if t is int else isinstance(x, t)


# Rendering, as capture/jsonl.go does it.

EPOCH = datetime.datetime(1970, 1, 1)
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time; unix ns 0 means "none"


def rfc3339(ns):
    """Format unix nanoseconds like Go's time.RFC3339Nano in UTC."""
    if ns == 0:
        return ZERO_TIME
    secs, frac = divmod(ns, 10**9)
    d = EPOCH + datetime.timedelta(seconds=secs)
    s = f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
    if frac:
        s += "." + f"{frac:09d}".rstrip("0")
    return s + "Z"


def sender(d):
    return {0: "client", 1: "server", 2: "proxy", 3: "proxy"}.get(d, f"dir({d})")


def opcode_name(op):
    names = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
    return names.get(op, f"reserved-{op}")


def valid_text(b):
    """Decode bytes as Go's strings.ToValidUTF8(s, "\\uFFFD") does: each run
    of invalid bytes becomes one U+FFFD."""
    s = b.decode("utf-8", "surrogateescape")  # invalid bytes become U+DC80..U+DCFF
    return re.sub("[\udc80-\udcff]+", "\ufffd", s)


def text_or_base64(b):
    """Return ("text", s) when b is valid UTF-8, else ("base64", ...)."""
    try:
        return "text", b.decode("utf-8")
    except UnicodeDecodeError:
        return "base64", base64.b64encode(b).decode("ascii")


def headers(h):
    return dict(sorted(h.items())) if h else None


def tls(t):
    out = {k: t[k] for k in ("version", "cipher", "alpn", "sni") if t.get(k)}
    if t.get("chain"):
        out["chain"] = [{"subject": c.get("subject") or "", "issuer": c.get("issuer") or "",
                         "not_after": c.get("not_after") or ZERO_TIME} for c in t["chain"]]
    if t.get("verified"):
        out["verified"] = t["verified"]
    return out


def render_open(rec):
    _, conn, t, body = rec
    out = {"type": "open", "conn": conn, "time": rfc3339(t), "url": body.get("url") or "",
           "subprotocol": body.get("subprotocol") or "", "extensions": body.get("extensions") or "",
           "request_headers": headers(body.get("request_headers")) or {}, "status": body.get("status") or 0}
    for k in ("mode", "client_addr", "server_addr"):
        if body.get(k):
            out[k] = body[k]
    if body.get("response_headers"):
        out["response_headers"] = headers(body["response_headers"])
    if body.get("response_body"):
        out["response_body"] = valid_text(body["response_body"])
    for k in ("client_tls", "server_tls"):
        if body.get(k) is not None:
            out[k] = tls(body[k])
    for k in ("request_header_list", "response_header_list"):
        if body.get(k):
            out[k] = [[n, v] for n, v in body[k]]
    if body.get("redacted"):
        out["redacted"] = list(body["redacted"])
    return out


def render_http(rec):
    _, ident, t, body = rec
    out = {"type": "http", "id": ident, "time": rfc3339(t), "method": body.get("method") or "",
           "url": body.get("url") or "", "status": body.get("status") or 0}
    for k in ("request_headers", "response_headers"):
        if body.get(k):
            out[k] = headers(body[k])
    out["request_size"] = body.get("request_size") or 0
    out["response_size"] = body.get("response_size") or 0
    for side in ("request", "response"):
        data = body.get(side + "_body") or b""
        kind, value = text_or_base64(data)
        if value:
            out[f"{side}_body" if kind == "text" else f"{side}_body_base64"] = value
        if out[side + "_size"] > len(data):
            out[side + "_body_truncated"] = True
    ns = body.get("duration_ns") or 0
    micros = abs(ns) // 1000 * (1 if ns >= 0 else -1)  # Go truncates toward zero
    ms = micros / 1000
    out["duration_ms"] = int(ms) if ms.is_integer() else ms  # Go prints 3, not 3.0
    if body.get("error"):
        out["error"] = body["error"]
    if body.get("redacted"):
        out["redacted"] = list(body["redacted"])
    return out


class Message:
    """A message being reassembled from its chunks."""

    def __init__(self, rec, index):
        _, self.conn, self.time, self.dir, self.opcode, flags, _ = rec
        self.index = index
        self.compressed = bool(flags & COMPRESSED)
        self.started = bool(flags & FIRST)  # a message whose start was lost is incomplete
        self.truncated = False
        self.dropped = False
        self.data = bytearray()

    def render(self, incomplete=False):
        out = {"type": "message", "conn": self.conn, "from": sender(self.dir),
               "opcode": opcode_name(self.opcode), "time": rfc3339(self.time), "size": len(self.data)}
        if self.opcode == 1:
            kind, value = text_or_base64(bytes(self.data))
        else:
            kind, value = "base64", base64.b64encode(self.data).decode("ascii")
        out[kind] = value
        for k, v in (("truncated", self.truncated), ("compressed", self.compressed),
                     ("incomplete", incomplete or not self.started), ("dropped", self.dropped)):
            if v:
                out[k] = True
        return out


def render(records):
    """Yield JSON objects for a record stream, joining chunks into messages.

    A message is the chunks from First to Last of one (conn, direction,
    control?) key. A message still open when its connection's End arrives,
    when a new First arrives on its key, or when the records run out (or a
    torn tail is hit), is printed with "incomplete": true.
    """
    open_msgs = {}  # (conn, dir, control) -> Message
    counts = {}  # conn -> messages begun, for Message.index

    def flush(conn):
        # In the order the messages began: a dict keeps insertion order,
        # and a key is inserted anew when its next message begins.
        keys = [k for k in open_msgs if conn == 0 or k[0] == conn]
        for k in keys:
            yield open_msgs.pop(k).render(incomplete=True)

    try:
        for rec in records:
            if isinstance(rec, Damage):  # what straddles it never finished here
                yield from flush(0)
                yield rec
                continue
            kind = rec[0]
            if kind == CHUNK:
                _, conn, _, d, op, flags, data = rec
                key = (conn, d, bool(op & 8))
                m = open_msgs.get(key)
                if m is None or flags & FIRST:
                    if m is not None:
                        yield open_msgs.pop(key).render(incomplete=True)
                    counts[conn] = counts.get(conn, 0) + 1
                    m = open_msgs[key] = Message(rec, counts[conn])
                m.data += data
                m.truncated = m.truncated or bool(flags & TRUNCATED)
                m.dropped = m.dropped or bool(flags & DROPPED)
                if flags & LAST:
                    yield open_msgs.pop(key).render()
            elif kind == OPEN:
                yield render_open(rec)
            elif kind == CLOSE:
                _, conn, t, d, code, reason, dropped = rec
                out = {"type": "close", "conn": conn, "from": sender(d), "code": code,
                       "reason": valid_text(reason), "time": rfc3339(t)}
                if dropped:
                    out["dropped"] = True
                yield out
            elif kind == EVENT:
                _, conn, t, ev, detail = rec
                yield {"type": "event", "conn": conn, "kind": ev, "detail": detail, "time": rfc3339(t)}
            elif kind == HTTP:
                yield render_http(rec)
            elif kind == END:
                _, conn, t, err = rec
                yield from flush(conn)
                out = {"type": "end", "conn": conn, "time": rfc3339(t)}
                if err:
                    out["error"] = err
                yield out
            # FRAME records (wire facts) are not printed.
    except TornTail:
        yield from flush(0)
        raise
    yield from flush(0)


def dumps(obj):
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    # Go's encoding/json also escapes U+2028 and U+2029.
    return s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def main(argv):
    if len(argv) != 2:
        print("usage: read_capture.py FILE", file=sys.stderr)
        return 2
    path, out = argv[1], sys.stdout.buffer
    try:
        with open(path, "rb") as f:
            size = f.seek(0, io.SEEK_END)
            for obj in render(records(f, size)):
                if isinstance(obj, Damage):
                    out.flush()
                    print(f"read_capture.py: warning: {path}: {obj}", file=sys.stderr)
                    continue
                out.write(dumps(obj).encode("utf-8") + b"\n")
    except TornTail as e:
        out.flush()
        print(f"read_capture.py: warning: {path}: {e}", file=sys.stderr)
    except (OSError, NotCapture) as e:
        print(f"read_capture.py: {path}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
