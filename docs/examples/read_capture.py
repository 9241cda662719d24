#!/usr/bin/env python3
"""Print a wstap capture as JSON lines, as `wstap show --format jsonl` does.

Usage: read_capture.py [--frames] FILE

A reference reader for the format in docs/capture-format.md. It needs only
the standard library plus `zstandard` and `cbor2` (Debian: python3-zstandard,
python3-cbor2). It walks the file frame by frame, checks every chunk's header
and data CRC-32C, decompresses each chunk, decodes its CBOR records and joins
payload chunks into whole messages. Damage in the middle of the file is
passed over as the spec's section 7.2 says (resynchronising on the next
good frame) with a warning on stderr; at a torn or corrupt tail it prints
what came before, warns on stderr and exits 0.

The output is byte for byte what `wstap show --format jsonl` prints
(capture/jsonl.go, message.go's Assemble): same records, same keys in the
same order, same values, same escapes. Frame records are left out, as wstap
does by default; with --frames they are printed as "frame" objects, as
`wstap show --format jsonl --frames` does.
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
# one frame that carried a whole message; decode_records turns them into the
# frame record they stand for. The reserved bits from 1024 up are ignored.
FRAME_FLAG, MASKED = 16, 32


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
    """A bad frame; trusted_end is where it ends when its extent holds.
    chunk says it is a chunk whose header holds but whose data does not."""

    def __init__(self, reason, trusted_end=None, chunk=False):
        super().__init__(reason)
        self.reason, self.trusted_end, self.chunk = reason, trusted_end, chunk


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
    when none follows, it raises TornTail at the bad frame. A chunk whose
    header holds but whose data does not is damaged over its own extent;
    but when no good frame follows it, it is the torn tail itself, and so is
    reported at its offset (the damage held back after it is dropped). A
    chunk's records are all decoded before the first is yielded.
    """
    off = read_header(f)
    final = False
    held = []  # damage after a bad chunk that may turn out to be the torn tail
    tail = None  # (offset, reason) of that chunk
    while off < size:
        if final:
            raise TornTail(*(tail or (off, "data after the footer")))
        try:
            recs, nxt, final = frame_at(f, size, off)
        except Bad as e:
            if e.chunk:  # its header is a good frame: what came before is damage, not the tail
                yield from held
                held, tail = [Damage(off, e.trusted_end, e.reason)], (off, e.reason)
                off = e.trusted_end
                continue
            good = e.trusted_end if e.trusted_end is not None else resync(f, size, off + 1)
            if good is None:
                raise TornTail(*(tail or (off, e.reason))) from None
            if tail:
                held.append(Damage(off, good, e.reason))
            else:
                yield Damage(off, good, e.reason)
            off = good
            continue
        yield from held
        held, tail = [], None
        yield from recs
        off = nxt
    if tail:
        raise TornTail(*tail)


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
            raise Bad("chunk checksum mismatch", end, True)
        try:  # read at most ulen + 1 bytes: a damaged frame cannot blow up
            raw = zstandard.ZstdDecompressor().stream_reader(frame).read(ulen + 1)
        except zstandard.ZstdError as e:
            raise Bad(f"chunk does not decompress: {e}", end, True) from None
        if len(raw) != ulen:
            raise Bad(f"chunk decompressed to {len(raw)} bytes, header says {ulen}", end, True)
        try:
            recs = decode_records(raw, t0)
        except (ValueError, cbor2.CBORDecodeError) as e:
            raise Bad(f"bad record in chunk: {e}", end, True) from None
        return recs, end, False
    if magic == MAGIC_INDEX:
        p = read_exact(f, off + 8, n) if 4 <= n <= MAX_FRAME else b""
        if not p or crc32c(p[4:]) != struct.unpack_from("<I", p)[0]:
            raise Bad("checkpoint checksum mismatch")
        try:
            check_checkpoint(p[4:])
        except (ValueError, cbor2.CBORDecodeError) as e:
            # Its extent holds (the CRC over its body did), so reading goes
            # on after it. wstap then builds its listing from the chunks.
            raise Bad(f"checkpoint does not decode: {e}", nxt) from None
        return [], nxt, False
    if magic == MAGIC_FOOTER:
        if n != 16:
            raise Bad(f"footer of {n} bytes")
        return [], nxt, True
    if magic == MAGIC_HEADER:
        raise Bad("a second file header")
    return [], nxt, False  # any other 0x184D2A5? frame is skipped


RESYNC_WINDOW = 1 << 20  # resync reads the file this much at a time


def resync(f, size, start):
    """Return the offset of the first good frame at or after start (a chunk
    whose header checksum holds and which lies in the file, a checkpoint
    whose checksum holds, or the footer), or None. It reads the file a
    window at a time, so a long damaged stretch costs no memory."""
    pos = start
    while pos < size:
        f.seek(pos)
        # The magics end in 2A 4D 18: a window keeps the 3 bytes after it,
        # so a magic that starts in its last byte is seen.
        data = f.read(min(RESYNC_WINDOW + 3, size - pos))
        i = 0
        while True:
            i = data.find(b"\x2a\x4d\x18", i + 1)
            if i < 1 or i > RESYNC_WINDOW:
                break
            if good_frame(f, size, pos + i - 1, data[i - 1]):
                return pos + i - 1
        pos += RESYNC_WINDOW
    return None


def good_frame(f, size, at, kind):
    """Report whether a chunk (kind 0x51), a checkpoint (0x52) or the footer
    (0x53) starts at offset at and checks out."""
    try:
        if kind == 0x51:
            n, = struct.unpack("<I", read_exact(f, at + 4, 4))
            h = read_exact(f, at + 8, 44)
            if n == 44 and crc32c(h[:40]) == struct.unpack_from("<I", h, 40)[0]:
                clen, ulen = struct.unpack_from("<II", h)
                return clen <= MAX_FRAME and ulen <= MAX_FRAME and at + 52 + clen <= size
        elif kind == 0x52:
            n, = struct.unpack("<I", read_exact(f, at + 4, 4))
            if 4 <= n <= MAX_FRAME and at + 8 + n <= size:
                p = read_exact(f, at + 8, n)
                return crc32c(p[4:]) == struct.unpack_from("<I", p)[0]
        elif kind == 0x53 and at + 24 == size:
            n, = struct.unpack("<I", read_exact(f, at + 4, 4))
            return n == 16 and read_exact(f, at + 16, 8) == b"WSTAPEND"
    except EOFError:
        pass
    return False


BADTEXT = 0xDEAD  # a tag no capture uses; see fix_text


def fix_text(raw):
    """Check a CBOR sequence as wstap's reader does and prepare it for cbor2.

    wstap rejects indefinite lengths (and the reserved additional
    information 28-30), so this does too. A text string that is not valid
    UTF-8 (which a writer must not produce, but wstap reads) becomes a byte
    string under tag BADTEXT, which decode() turns into a str whose invalid
    bytes are U+DC80-U+DCFF ("surrogateescape"): cbor2 would refuse it or
    replace it differently from Go. dumps() prints each such byte as
    \\ufffd, as Go's encoding/json does.
    """
    n, i, todo = len(raw), 0, 0
    bad = []
    while i < n or todo:
        if i >= n:
            raise ValueError("truncated CBOR item")
        head = i
        major, info = raw[i] >> 5, raw[i] & 31
        i += 1
        if info < 24:
            arg = info
        elif info <= 27:
            k = 1 << (info - 24)
            if n - i < k:
                raise ValueError("truncated CBOR item")
            arg, i = int.from_bytes(raw[i:i + k], "big"), i + k
        else:
            raise ValueError("indefinite length or reserved CBOR head")
        todo = max(todo - 1, 0)
        if major in (2, 3):
            if arg > n - i:
                raise ValueError("CBOR string runs past the chunk")
            if major == 3:
                try:
                    raw[i:i + arg].decode("utf-8")
                except UnicodeDecodeError:
                    bad.append((head, i, arg))
            i += arg
        elif major == 4:
            todo += arg
        elif major == 5:
            todo += 2 * arg
        elif major == 6:
            todo += 1
    if not bad:
        return raw
    out, last = bytearray(), 0
    for head, start, length in bad:
        out += raw[last:head] + bytes([0xD9, BADTEXT >> 8, BADTEXT & 0xFF, raw[head] - 0x20])
        out += raw[head + 1:start + length]
        last = start + length
    return bytes(out + raw[last:])


def tag_hook(_decoder, tag):
    if tag.tag == BADTEXT and isinstance(tag.value, bytes):
        return tag.value.decode("utf-8", "surrogateescape")
    return tag


def decode_records(raw, t0):
    """Decode a chunk's CBOR sequence (RFC 8742) into record lists, with
    times made absolute. Each record stores its time as the difference from
    the previous record's time (the first from the chunk header's t0), so
    the time is a running sum: t0 + delta_1 + ... + delta_i, in wrapping i64
    arithmetic. Records of kinds skipped here count in the sum too.

    A frame record comes out as [2, conn, time, dir, fin, rsv, opcode,
    masked, length, dropped]; a chunk record whose flag Frame (16) says it
    carries its frame's facts is preceded by the frame record they stand
    for (section 4.3), which has no sequence number of its own."""
    raw = fix_text(raw)
    fp = io.BytesIO(raw)
    dec = cbor2.CBORDecoder(fp, tag_hook=tag_hook)
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
        kind, out = rec[0], rec[:need]  # elements a newer format appended are skipped
        if kind in (FRAME, CHUNK) and not (0 <= out[3] <= 255 and 0 <= out[4] <= 255):
            raise ValueError(f"malformed record of kind {kind}")
        if kind in (FRAME, CLOSE):  # but for the optional "dropped" of frames and closes
            if len(rec) > need and not isinstance(rec[need], bool):
                raise ValueError(f"malformed record of kind {kind}")
            out.append(len(rec) > need and rec[need])
        if kind == CLOSE and out[3] > 255:
            raise ValueError("malformed record of kind 4")
        if kind == FRAME:
            _, conn, t, d, b0, masked, length, dropped = out
            if not I64_MIN <= length <= I64_MAX:
                raise ValueError("malformed record of kind 2")
            out = [FRAME, conn, t, d, bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, masked, length, dropped]
        elif kind == CHUNK and out[5] & FRAME_FLAG:
            _, conn, t, d, op, flags, data = out
            records.append([FRAME, conn, t, d, True, (flags >> 6) & 7, op, bool(flags & MASKED), len(data),
                            bool(flags & DROPPED)])
        elif kind in (OPEN, HTTP):
            out[3] = conform(out[3], OPEN_MAP if kind == OPEN else HTTP_MAP)
        records.append(out)
    return records


# The maps of open and http records as wstap's reader decodes them (Go
# structs, capture/codec.go): a known key of the wrong type makes the record
# one that does not decode; null stands for the key's zero value; unknown
# keys are ignored.
HEADERS, STRS, PAIRS, TLS, CHAIN, TIME = "headers", "strs", "pairs", "tls", "chain", "time"
OPEN_MAP = {"url": str, "mode": str, "client_addr": str, "server_addr": str,
            "request_headers": HEADERS, "response_headers": HEADERS, "status": int,
            "subprotocol": str, "extensions": str, "response_body": bytes,
            "client_tls": TLS, "server_tls": TLS, "request_header_list": PAIRS,
            "response_header_list": PAIRS, "redacted": STRS}
HTTP_MAP = {"method": str, "url": str, "status": int, "request_headers": HEADERS,
            "response_headers": HEADERS, "request_body": bytes, "response_body": bytes,
            "request_size": int, "response_size": int, "duration_ns": int, "error": str,
            "client_addr": str, "redacted": STRS}
TLS_MAP = {"version": str, "cipher": str, "alpn": str, "sni": str, "chain": CHAIN, "verified": str}
CERT_MAP = {"subject": str, "issuer": str, "not_after": TIME}
ZEROS = {str: "", int: 0, bytes: b""}
RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)\Z")


def conform(v, t):
    """Return v as wstap's reader holds a value of type t, or raise ValueError."""
    if isinstance(t, dict):
        if not isinstance(v, dict):
            raise ValueError("a record map is not a map")
        return {k: conform(v.get(k), kt) for k, kt in t.items()}
    if v is None:
        return ZEROS.get(t)
    if t in (str, bytes) and isinstance(v, t) or t is int and is_int(v) and I64_MIN <= v <= I64_MAX:
        return v
    if t == TLS:
        return conform(v, TLS_MAP)
    if t == TIME and isinstance(v, str):
        return go_time(v)
    if isinstance(v, list) and t in (STRS, PAIRS, CHAIN):
        if t == STRS:
            return [conform(x, str) for x in v]
        if t == CHAIN:
            return [conform(x, CERT_MAP) for x in v]
        if all(isinstance(p, list) and len(p) == 2 for p in v):
            return [[conform(n, str), conform(x, str)] for n, x in v]
    if t == HEADERS and isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return {k: None if x is None else conform(x, STRS) for k, x in v.items()}
    raise ValueError(f"a record map value is not of type {getattr(t, '__name__', t)}")


def go_time(s):
    """Normalise an RFC 3339 text as Go's time.Parse and RFC3339Nano format
    do: fraction digits without trailing zeros, offset 0 as "Z"."""
    m = RFC3339.match(s)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {s!r}")
    y, mo, d, h, mi, sec, frac, zone = m.groups()
    datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec))  # range check
    if zone != "Z" and (int(zone[1:3]) > 23 or int(zone[4:]) > 59):
        raise ValueError(f"not an RFC 3339 time: {s!r}")
    frac = (frac or "").rstrip("0")
    if zone in ("+00:00", "-00:00"):
        zone = "Z"
    return f"{y}-{mo}-{d}T{h}:{mi}:{sec}" + ("." + frac if frac else "") + zone


def check_checkpoint(body):
    """Raise ValueError when a checkpoint's CBOR does not decode as wstap's
    does (capture/index.go: a map whose known keys have the right types)."""
    fp = io.BytesIO(body)
    cp = cbor2.CBORDecoder(fp, str_errors="replace").decode()
    if fp.tell() != len(body):
        raise ValueError("extraneous data after the checkpoint map")
    if not isinstance(cp, dict):
        raise ValueError("not a map")
    for k, ok in (("prev", is_int), ("seq", lambda v: is_int(v) and v >= 0), ("final", lambda v: isinstance(v, bool))):
        if cp.get(k) is not None and not ok(cp[k]):
            raise ValueError(f"checkpoint {k} of the wrong type")
    for k in ("chunks", "conns", "http"):
        if cp.get(k) is not None and not isinstance(cp[k], list):
            raise ValueError(f"checkpoint {k} is not an array")
    for e in cp.get("chunks") or []:
        if not (isinstance(e, list) and len(e) == 8 and all(x is None or is_int(x) for x in e[:7])
                and (e[7] is None or isinstance(e[7], list) and all(is_int(c) and c >= 0 for c in e[7]))):
            raise ValueError("checkpoint chunk entry is not [offset, clen, ulen, nrec, seq0, t0, t1, [conns]]")
    if not all(isinstance(x, dict) for x in (cp.get("conns") or []) + (cp.get("http") or [])):
        raise ValueError("checkpoint summary is not a map")


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
    """A header map with its names sorted by their bytes, as Go's
    encoding/json sorts map keys (invalid bytes, held as U+DC80-U+DCFF,
    sort as the bytes they stand for)."""
    return dict(sorted(h.items(), key=lambda kv: kv[0].encode("utf-8", "surrogateescape"))) if h else None


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


def render(records, frames=False):
    """Yield JSON objects for a record stream, joining chunks into messages,
    and with frames the frame records too, in file order.

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
            elif kind == FRAME and frames:
                _, conn, t, d, fin, rsv, op, masked, length, dropped = rec
                out = {"type": "frame", "conn": conn, "from": sender(d), "time": rfc3339(t), "fin": fin,
                       "rsv": rsv, "opcode": opcode_name(op), "masked": masked, "length": length}
                if dropped:
                    out["dropped"] = True
                yield out
    except TornTail:
        yield from flush(0)
        raise
    yield from flush(0)


def dumps(obj):
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    # Go's encoding/json also escapes U+2028 and U+2029, and prints each
    # invalid byte of a string (here U+DC80-U+DCFF, see fix_text) as \ufffd.
    s = s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return re.sub("[\udc80-\udcff]", lambda _: "\\ufffd", s)


def main(argv):
    frames = "--frames" in argv[1:2]
    if len(argv) != 2 + frames:
        print("usage: read_capture.py [--frames] FILE", file=sys.stderr)
        return 2
    path, out = argv[-1], sys.stdout.buffer
    try:
        with open(path, "rb") as f:
            size = f.seek(0, io.SEEK_END)
            for obj in render(records(f, size), frames):
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
