#!/usr/bin/python3
"""Read, write and print uXen testbed traces (format v1: traces/FORMAT.md).

Every constant comes from uxen_consts, which `make pyconsts` generates from
the C tables; this module applies the same checks, with the same messages,
as the C reader (traces/uxt_reader.c). Standard library only.

    uxtrace.py dump FILE     list every event and its decoded items
    uxtrace.py stats FILE    count events, exit reasons, host calls, fates

As a library:

    trace = read_trace("x.uxt")          # or Reader(data) to stream events
    for ev in trace.events: ...
    with open("y.uxt", "wb") as f:
        w = Writer(f, flags=C.UXT_HF_OUTPUTS)
        w.write(Event.exit(C.EXIT_HLT, 1, 0, [Item.fate(C.UXT_FATE_BLOCKED)]))
        w.close()
"""
import collections
import fcntl
import io
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uxen_consts as C  # noqa: E402  (generated: make pyconsts)

HDR = struct.Struct("<8sHHIQII")   # the file header, see FORMAT.md
EVENT_HDR = struct.Struct("<BBHI")  # kind, flags, arg, body_len
ITEM_HDR = struct.Struct("<BBH")    # tag, aux, len
MAX_ITEM = 0xffff                   # an item's length is a u16

DUMP_MAX_BYTES = 32
DUMP_MAX_TEXT = 200


class TraceError(Exception):
    """A trace the reader rejects (or the writer refuses to produce)."""

    def __init__(self, offset, msg):
        super().__init__("offset %d: %s" % (offset, msg))
        self.offset = offset
        self.msg = msg


# ---- Items ------------------------------------------------------------------

def _aux_rule(tag):
    """(allowed aux values, description) for a tag; mirrors the C reader."""
    if tag in (C.UXT_IT_REG_IN, C.UXT_IT_REG_OUT):
        return set(C.GPRS) - {C.UXT_GPR_RSP}, "gpr"
    if tag == C.UXT_IT_FATE_OUT:
        return set(C.FATES) - {C.UXT_FATE_RESUME}, "fate"
    return {0}, "zero"


class Item:
    """One trace item: tag, aux and payload bytes (offset: where read)."""
    __slots__ = ("tag", "aux", "data", "offset")

    def __init__(self, tag, aux=0, data=b"", offset=None):
        self.tag, self.aux, self.data, self.offset = tag, aux, bytes(data), offset

    def __eq__(self, other):
        return (isinstance(other, Item) and
                (self.tag, self.aux, self.data) == (other.tag, other.aux, other.data))

    def __repr__(self):
        return "Item(%s, aux=%d, %s)" % (self.name, self.aux, self.data.hex())

    @property
    def name(self):
        t = C.ITEM_TAGS.get(self.tag)
        return t.name if t else "0x%02x" % self.tag

    @property
    def is_output(self):
        return self.tag >= C.UXT_IT_OUTPUT

    def pack(self):
        return ITEM_HDR.pack(self.tag, self.aux, len(self.data)) + self.data

    # Constructors for the payload layouts of FORMAT.md.
    @classmethod
    def vmcs(cls, tag, enc, value):
        return cls(tag, 0, struct.pack("<IQ", enc, value & (2**64 - 1)))

    @classmethod
    def u64(cls, tag, value, aux=0):
        return cls(tag, aux, struct.pack("<Q", value & (2**64 - 1)))

    @classmethod
    def reg(cls, tag, gpr, value):
        return cls.u64(tag, value, gpr)

    @classmethod
    def mem(cls, tag, gpa, data):
        return cls(tag, 0, struct.pack("<Q", gpa) + bytes(data))

    @classmethod
    def cpuid(cls, leaf, subleaf, regs):
        return cls(C.UXT_IT_CPUID_IN, 0, struct.pack("<6I", leaf, subleaf, *regs))

    @classmethod
    def fate(cls, fate, reason=0, arg=0):
        return cls(C.UXT_IT_FATE_OUT, fate, struct.pack("<IQ", reason, arg))

    @classmethod
    def status(cls, value):
        return cls.u64(C.UXT_IT_STATUS_OUT, value)

    @classmethod
    def p2m(cls, gfn, order, perms, ptype):
        return cls(C.UXT_IT_P2M_OUT, 0, struct.pack("<QBBBB", gfn, order, perms, ptype, 0))

    @classmethod
    def ioreq(cls, type_, dir_, size, flags, count, addr, data):
        return cls(C.UXT_IT_IOREQ_OUT, 0,
                   struct.pack("<BBBBIQQ", type_, dir_, size, flags, count, addr, data))

    def problem(self, outputs_seen):
        """None if this item is valid here, else (offset delta, message)."""
        t = C.ITEM_TAGS.get(self.tag)
        n = len(self.data)
        if t is None:
            return 0, "unknown item tag 0x%02x" % self.tag
        if t.size >= 0 and n != t.size:
            return 0, "item tag 0x%02x has a %d-byte payload, must be %d" % (
                self.tag, n, t.size)
        if n < t.min:
            return 0, "item tag 0x%02x has a %d-byte payload, needs at least %d" % (
                self.tag, n, t.min)
        if not self.is_output and outputs_seen:
            return 0, "input item tag 0x%02x after an output item" % self.tag
        allowed, kind = _aux_rule(self.tag)
        if self.aux in allowed:
            return None
        if kind == "gpr":
            return 1, "%s register index %d is not a GPR other than RSP" % (
                self.name, self.aux)
        if kind == "fate":
            return 1, "FATE_OUT fate %d is not one of %d..%d" % (
                self.aux, C.UXT_FATE_RESUME + 1, max(C.FATES))
        return 1, "item tag 0x%02x has aux %d, must be 0" % (self.tag, self.aux)


def parse_items(buf, offset=0, lenient=False):
    """The items of an item region buf that starts at file offset `offset`.
    Raises TraceError; in lenient mode skips items it cannot interpret."""
    items, pos, outputs = [], 0, False
    while pos < len(buf):
        left = len(buf) - pos
        off = offset + pos
        if left < C.UXT_ITEM_HDR_SIZE:
            raise TraceError(off, "truncated item header (%d of %d bytes left in the event)"
                             % (left, C.UXT_ITEM_HDR_SIZE))
        tag, aux, n = ITEM_HDR.unpack_from(buf, pos)
        if n > left - C.UXT_ITEM_HDR_SIZE:
            raise TraceError(off, "truncated item: %d-byte payload, %d bytes left in the event"
                             % (n, left - C.UXT_ITEM_HDR_SIZE))
        start = pos + C.UXT_ITEM_HDR_SIZE
        it = Item(tag, aux, buf[start:start + n], off)
        pos = start + n
        bad = it.problem(outputs)
        if bad is None:
            outputs |= it.is_output
            items.append(it)
        elif not lenient:
            raise TraceError(off + bad[0], bad[1])
    return items


# ---- Events -----------------------------------------------------------------

class Event:
    """One event. EXIT: domid, vcpu; HOSTCALL: args; MARK: text."""
    __slots__ = ("kind", "flags", "arg", "domid", "vcpu", "args", "items",
                 "text", "offset", "index")

    def __init__(self, kind, flags=0, arg=0, domid=0, vcpu=0, args=(), items=(),
                 text="", offset=None, index=None):
        self.kind, self.flags, self.arg = kind, flags, arg
        self.domid, self.vcpu, self.args = domid, vcpu, list(args)
        self.items, self.text = list(items), text
        self.offset, self.index = offset, index

    @classmethod
    def exit(cls, reason, domid, vcpu, items=(), flags=C.UXT_EF_OUTPUTS):
        return cls(C.UXT_EV_EXIT, flags, reason, domid=domid, vcpu=vcpu, items=items)

    @classmethod
    def hostcall(cls, nr, args=(), items=(), flags=C.UXT_EF_OUTPUTS):
        return cls(C.UXT_EV_HOSTCALL, flags, nr, args=args, items=items)

    @classmethod
    def mark(cls, text):
        return cls(C.UXT_EV_MARK, text=text)

    def __eq__(self, other):
        return isinstance(other, Event) and self._key() == other._key()

    def _key(self):
        return (self.kind, self.flags, self.arg, self.domid, self.vcpu,
                self.args, self.items, self.text)

    def __repr__(self):
        return "Event(%s, arg=%d, %d items)" % (
            C.EVENT_KINDS.get(self.kind, self.kind), self.arg, len(self.items))

    @property
    def kind_name(self):
        return C.EVENT_KINDS.get(self.kind, "?")

    def prefix(self):
        if self.kind == C.UXT_EV_EXIT:
            return struct.pack("<HH", self.domid, self.vcpu)
        if self.kind == C.UXT_EV_HOSTCALL:
            return (struct.pack("<B7x", len(self.args)) +
                    b"".join(struct.pack("<Q", a & (2**64 - 1)) for a in self.args))
        return self.text.encode("utf-8")

    def body(self):
        return self.prefix() + b"".join(i.pack() for i in self.items)

    def pack(self):
        body = self.body()
        return EVENT_HDR.pack(self.kind, self.flags, self.arg, len(body)) + body


def _check_event_header(kind, flags, arg, off):
    if kind not in C.EVENT_KINDS:
        raise TraceError(off, "unknown event kind %d" % kind)
    if flags & ~C.UXT_EF_ALL:
        raise TraceError(off + 1, "unknown event flags 0x%x" % (flags & ~C.UXT_EF_ALL))
    if kind == C.UXT_EV_MARK and (flags or arg):
        raise TraceError(off + 1, "MARK event with flags 0x%x and arg %d, both must be 0"
                         % (flags, arg))


def _decode_prefix(ev, body, off):
    """Fill ev from the kind's prefix of body; return the prefix size."""
    boff = off + C.UXT_EVENT_HDR_SIZE
    _check_event_header(ev.kind, ev.flags, ev.arg, off)
    if ev.kind == C.UXT_EV_EXIT:
        if len(body) < C.UXT_EXIT_PREFIX:
            raise TraceError(boff, "EXIT body is %d bytes, shorter than its %d-byte prefix"
                             % (len(body), C.UXT_EXIT_PREFIX))
        ev.domid, ev.vcpu = struct.unpack_from("<HH", body)
        return C.UXT_EXIT_PREFIX
    if ev.kind == C.UXT_EV_HOSTCALL:
        return _decode_hostcall(ev, body, boff)
    try:
        ev.text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TraceError(boff + e.start, "MARK text is not valid UTF-8") from None
    return len(body)


def _decode_hostcall(ev, body, boff):
    if len(body) < C.UXT_HOSTCALL_PREFIX:
        raise TraceError(boff, "HOSTCALL body is %d bytes, shorter than its %d-byte prefix"
                         % (len(body), C.UXT_HOSTCALL_PREFIX))
    nargs = body[0]
    if nargs > C.UXT_MAX_HOSTCALL_ARGS:
        raise TraceError(boff, "HOSTCALL nargs %d exceeds %d" % (nargs, C.UXT_MAX_HOSTCALL_ARGS))
    for i in range(1, C.UXT_HOSTCALL_PREFIX):
        if body[i]:
            raise TraceError(boff + i, "HOSTCALL padding byte is 0x%02x, must be 0" % body[i])
    need = C.UXT_HOSTCALL_PREFIX + 8 * nargs
    if len(body) < need:
        raise TraceError(boff, "HOSTCALL body is %d bytes, too short for %d args"
                         % (len(body), nargs))
    ev.args = list(struct.unpack_from("<%dQ" % nargs, body, C.UXT_HOSTCALL_PREFIX))
    return need


# ---- Reading ----------------------------------------------------------------

class Header:
    __slots__ = ("version", "header_size", "flags", "event_count", "mem_frames")

    def __init__(self, flags=0, event_count=0, mem_frames=0,
                 version=C.UXT_VERSION, header_size=C.UXT_HEADER_SIZE):
        self.version, self.header_size, self.flags = version, header_size, flags
        self.event_count, self.mem_frames = event_count, mem_frames

    def pack(self):
        return HDR.pack(C.UXT_MAGIC, self.version, self.header_size, self.flags,
                        self.event_count, self.mem_frames, 0)


def _read_header(data, lenient):
    if bytes(data[:C.UXT_MAGIC_LEN]) != C.UXT_MAGIC[:len(data)]:
        raise TraceError(0, "bad magic (not a uXen trace)")
    if len(data) < C.UXT_HEADER_SIZE:
        raise TraceError(len(data), "truncated file header (%d of %d bytes)"
                         % (len(data), C.UXT_HEADER_SIZE))
    _, version, hsize, flags, count, frames, reserved = HDR.unpack_from(data)
    h = Header(flags, count, frames, version, hsize)
    if version != C.UXT_VERSION:
        raise TraceError(C.UXT_HDR_OFF_VERSION, "unsupported trace version %d (this build reads %d)"
                         % (version, C.UXT_VERSION))
    if hsize != C.UXT_HEADER_SIZE:
        raise TraceError(C.UXT_HDR_OFF_HEADER_SIZE, "header size %d, version %d headers are %d bytes"
                         % (hsize, C.UXT_VERSION, C.UXT_HEADER_SIZE))
    if lenient:
        return h
    if flags & ~C.UXT_HF_ALL:
        raise TraceError(C.UXT_HDR_OFF_FLAGS, "unknown header flags 0x%x" % (flags & ~C.UXT_HF_ALL))
    room = len(data) - C.UXT_HEADER_SIZE
    if count > room // C.UXT_EVENT_HDR_SIZE:
        raise TraceError(C.UXT_HDR_OFF_EVENT_COUNT,
                         "event_count %d cannot fit in the %d bytes after the header" % (count, room))
    if reserved:
        raise TraceError(C.UXT_HDR_OFF_RESERVED, "reserved header field is 0x%x, must be 0" % reserved)
    return h


class Reader:
    """Iterate the events of a trace held in memory (bytes, mmap). Raises
    TraceError with the same messages as the C reader. lenient: skip events
    and items that cannot be interpreted (their framing must still be sound).
    Unlike the C reader, items are checked when their event is read."""

    def __init__(self, data, lenient=False):
        self.data = data
        self.lenient = lenient
        self.header = _read_header(self.data, lenient)
        self.skipped = 0     # lenient: events skipped
        self.nr_events = 0   # events read so far, skipped ones included

    def __iter__(self):
        data, pos, index = self.data, C.UXT_HEADER_SIZE, 0
        want = 0 if self.lenient else self.header.event_count
        while True:
            left = len(data) - pos
            if want and index == want and left:
                raise TraceError(pos, "%d bytes of trailing garbage after the last of %d events"
                                 % (left, want))
            if not left:
                if want and index < want:
                    raise TraceError(pos, "file ends after %d events, header event_count says %d"
                                     % (index, want))
                return
            ev, pos = self._frame(pos, index)
            index = self.nr_events = index + 1
            if ev is not None:
                yield ev

    def _frame(self, off, index):
        """The event at off (None if skipped) and the offset after it."""
        data = self.data
        left = len(data) - off
        if left < C.UXT_EVENT_HDR_SIZE:
            raise TraceError(off, "truncated event header (%d of %d bytes)"
                             % (left, C.UXT_EVENT_HDR_SIZE))
        kind, flags, arg, blen = EVENT_HDR.unpack_from(data, off)
        if blen > C.UXT_MAX_EVENT_BODY:
            raise TraceError(off, "event body length %d exceeds limit %d"
                             % (blen, C.UXT_MAX_EVENT_BODY))
        if blen > left - C.UXT_EVENT_HDR_SIZE:
            raise TraceError(off, "truncated event body (%d bytes, %d left in the file)"
                             % (blen, left - C.UXT_EVENT_HDR_SIZE))
        start = off + C.UXT_EVENT_HDR_SIZE
        body = bytes(data[start:start + blen])
        ev = Event(kind, flags, arg, offset=off, index=index)
        try:
            n = _decode_prefix(ev, body, off)
        except TraceError:
            if not self.lenient:
                raise
            self.skipped += 1  # lenient: the frame is sound, skip just this event
            return None, start + blen
        # Broken item framing fails in both modes, as in C, where the
        # consumer may have acted on earlier items when it is found.
        ev.items = parse_items(body[n:], start + n, self.lenient)
        return ev, start + blen


class Trace:
    """A whole trace: header and list of events."""

    def __init__(self, header=None, events=()):
        self.header = header or Header()
        self.events = list(events)

    def write(self, f):
        w = Writer(f, self.header.flags, self.header.mem_frames)
        for ev in self.events:
            w.write(ev)
        w.close()

    def pack(self):
        """The trace as bytes (event_count filled in)."""
        buf = io.BytesIO()
        self.write(buf)
        return buf.getvalue()


def read_trace(src, lenient=False):
    """A Trace from a path or from bytes."""
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            src = f.read()
    r = Reader(src, lenient)
    return Trace(r.header, list(r))


# ---- Writing ----------------------------------------------------------------

def _can_patch(f):
    """Can event_count be patched in place? Not through a pipe, and not in
    an O_APPEND file, where the patch would land at the end instead."""
    try:
        if not f.seekable():
            return False
        return not fcntl.fcntl(f.fileno(), fcntl.F_GETFL) & os.O_APPEND
    except (OSError, io.UnsupportedOperation):
        return f.seekable()  # no descriptor (BytesIO): nothing appends


class Writer:
    """Write events to a binary file object. Events are checked with the
    reader's rules first (TraceError, naming the offset the event would
    have had); event_count is patched at close() where the file allows it,
    else left 0 ("unknown"). Write errors propagate as OSError."""

    def __init__(self, f, flags=0, mem_frames=0):
        if flags & ~C.UXT_HF_ALL:
            raise TraceError(C.UXT_HDR_OFF_FLAGS, "unknown header flags 0x%x" % (flags & ~C.UXT_HF_ALL))
        self.f, self.count, self.pos = f, 0, 0
        self.start = f.tell() if _can_patch(f) else None
        self._put(Header(flags, 0, mem_frames).pack())

    def _put(self, b):
        n = self.f.write(b)
        if n is not None and n != len(b):
            raise OSError("short write to the trace: %d of %d bytes" % (n, len(b)))
        self.pos += len(b)

    def _check(self, ev, body):
        off = self.pos
        if len(body) > C.UXT_MAX_EVENT_BODY:
            raise TraceError(off, "event body length %d exceeds limit %d"
                             % (len(body), C.UXT_MAX_EVENT_BODY))
        if ev.kind == C.UXT_EV_HOSTCALL and len(ev.args) > C.UXT_MAX_HOSTCALL_ARGS:
            raise TraceError(off + C.UXT_EVENT_HDR_SIZE, "HOSTCALL nargs %d exceeds %d"
                             % (len(ev.args), C.UXT_MAX_HOSTCALL_ARGS))
        if ev.kind == C.UXT_EV_MARK and ev.items:
            raise TraceError(off, "MARK events carry no items")
        n = _decode_prefix(Event(ev.kind, ev.flags, ev.arg), body, off)
        parse_items(body[n:], off + C.UXT_EVENT_HDR_SIZE + n)

    def write(self, ev):
        for it in ev.items:
            if len(it.data) > MAX_ITEM:
                raise TraceError(self.pos, "%s payload of %d bytes exceeds %d"
                                 % (it.name, len(it.data), MAX_ITEM))
        body = ev.body()
        self._check(ev, body)
        self._put(EVENT_HDR.pack(ev.kind, ev.flags, ev.arg, len(body)) + body)
        self.count += 1

    def close(self):
        """Patch event_count and flush; the caller closes the file."""
        if self.start is not None:
            self.f.seek(self.start + C.UXT_HDR_OFF_EVENT_COUNT)
            n = self.f.write(struct.pack("<Q", self.count))
            if n is not None and n != 8:
                raise OSError("short write patching event_count")
            self.f.seek(0, os.SEEK_END)
        self.f.flush()


# ---- Printing ---------------------------------------------------------------

EXCEPTIONS = ["DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", "CSO", "TS",
              "NP", "SS", "GP", "PF", None, "MF", "AC", "MC", "XM", "VE", "CP"]


def _hex(b):
    s = " ".join("%02x" % x for x in b[:DUMP_MAX_BYTES])
    return s + (" ... (%d bytes)" % len(b) if len(b) > DUMP_MAX_BYTES else "")


def _printable_utf8(b, i, end):
    """The length of the UTF-8 sequence at b[i] (before end) if it encodes
    a code point a terminal shows as text, else 0: the rule of
    traces/uxt_dump.c's printable_utf8() (invalid, cut short, C1 controls,
    bidirectional marks, overrides and isolates, line and paragraph
    separators: 0)."""
    c = b[i]
    if c < 0xc2 or c > 0xf4:
        return 0
    n = 2 if c < 0xe0 else 3 if c < 0xf0 else 4
    if i + n > end:
        return 0
    try:
        cp = ord(bytes(b[i:i + n]).decode("utf-8"))
    except UnicodeDecodeError:
        return 0
    if cp <= 0x9f or cp in (0x061c, 0x200e, 0x200f, 0x2028, 0x2029) or \
            0x202a <= cp <= 0x202e or 0x2066 <= cp <= 0x2069:
        return 0
    return n


def _quoted(b):
    """C-style quoted and truncated: console output may hold any bytes;
    controls and invalid UTF-8 are \\xNN (as uxt_dump.c writes them)."""
    out = bytearray()
    end = min(len(b), DUMP_MAX_TEXT)
    i = 0
    while i < end:
        c = b[i]
        n = _printable_utf8(b, i, end) if c >= 0x80 else 1
        if c in b'"\\':
            out += b"\\" + bytes([c])
        elif c == 0x0a:
            out += b"\\n"
        elif c < 0x20 or c == 0x7f or not n:
            out += b"\\x%02x" % c
        else:
            out += b[i:i + n]
        i += n or 1
    more = "... (%d bytes)" % len(b) if len(b) > DUMP_MAX_TEXT else ""
    return '"%s"%s' % (out.decode("utf-8"), more)


def _injection(ev, info):
    """ENTRY_INTR_INFO (SDM 24.8.3) as "inject #GP(0)"."""
    if not info & (1 << 31):
        return "inject nothing (valid bit clear)"
    vec, typ = info & 0xff, (info >> 8) & 7
    if typ not in (3, 6):
        names = {0: "external interrupt", 2: "NMI", 4: "software interrupt",
                 5: "privileged software exception", 7: "other event"}
        return "inject %s 0x%x" % (names.get(typ, "reserved type %d" % typ), vec)
    name = EXCEPTIONS[vec] if vec < len(EXCEPTIONS) else None
    s = "#" + name if name else "exception %d" % vec
    if info & (1 << 11):
        errs = [struct.unpack_from("<Q", i.data, 4)[0] for i in ev.items
                if i.tag == C.UXT_IT_VMCS_OUT and
                struct.unpack_from("<I", i.data)[0] == C.VMCS_ENTRY_EXCEPTION_ERRCODE]
        s += "(%d)" % errs[0] if errs else "(?)"
    return "inject " + s


def describe_item(ev, it):
    """One item, decoded for humans."""
    d, tag = it.data, it.tag
    if tag in (C.UXT_IT_VMCS_IN, C.UXT_IT_VMCS_OUT):
        enc, val = struct.unpack("<IQ", d)
        s = "VMCS %s (0x%04x) = 0x%x" % (C.VMCS_FIELDS.get(enc, "UNKNOWN_FIELD"), enc, val)
        if tag == C.UXT_IT_VMCS_OUT and enc == C.VMCS_ENTRY_INTR_INFO:
            s += "  " + _injection(ev, val & 0xffffffff)
        return s
    if tag in (C.UXT_IT_REG_IN, C.UXT_IT_REG_OUT):
        val = struct.unpack("<Q", d)[0]
        s = "%s = 0x%x" % (C.GPRS.get(it.aux, "?").lower(), val)
        if (ev.kind == C.UXT_EV_EXIT and ev.arg in (C.EXIT_RDMSR, C.EXIT_WRMSR) and
                tag == C.UXT_IT_REG_IN and it.aux == C.UXT_GPR_RCX):
            m = C.MSRS.get(val & 0xffffffff)
            s += "  MSR %s" % (m.name if m else "UNKNOWN_MSR")
        return s
    if tag in (C.UXT_IT_MEM_IN, C.UXT_IT_MEM_OUT):
        return "MEM gpa 0x%x, %d bytes: %s" % (struct.unpack_from("<Q", d)[0], len(d) - 8, _hex(d[8:]))
    if tag == C.UXT_IT_CPUID_IN:
        return "CPUID leaf 0x%x sub 0x%x: eax 0x%x ebx 0x%x ecx 0x%x edx 0x%x" % struct.unpack("<6I", d)
    if tag == C.UXT_IT_TSC_IN:
        return "TSC 0x%x" % struct.unpack("<Q", d)
    if tag == C.UXT_IT_DATA:
        return "DATA %d bytes: %s" % (len(d), _hex(d))
    if tag == C.UXT_IT_P2M_OUT:
        gfn, order, perms, ptype = struct.unpack_from("<QBBB", d)
        rwx = "".join(c if perms & (1 << i) else "-" for i, c in enumerate("rwx"))
        return "P2M gfn 0x%x order %d perms %s type %d" % (gfn, order, rwx, ptype)
    if tag == C.UXT_IT_IOREQ_OUT:
        return _describe_ioreq(d)
    if tag == C.UXT_IT_FATE_OUT:
        return _describe_fate(it)
    if tag == C.UXT_IT_STATUS_OUT:
        rc = struct.unpack("<q", d)[0]
        return "STATUS %d" % rc + (" (%s)" % C.HV_ERRORS[-rc].text if -rc in C.HV_ERRORS and rc < 0
                                   else " (unknown error)" if rc < 0 else "")
    if tag == C.UXT_IT_CONSOLE_OUT:
        return "CONSOLE " + _quoted(d)
    return "tag 0x%02x aux %d, %d bytes" % (tag, it.aux, len(d))


def _describe_ioreq(d):
    typ, dir_, size, flags, count, addr, data = struct.unpack("<BBBBIQQ", d)
    mmio = typ == C.UXT_IOREQ_MMIO
    return "IOREQ %s %s %s 0x%x size %d count %d %s 0x%x%s%s" % (
        "MMIO" if mmio else "PIO" if typ == C.UXT_IOREQ_PIO else "type?",
        "in" if dir_ == C.UXT_IOREQ_DIR_IN else "out", "gpa" if mmio else "port",
        addr, size, count, "buffer" if flags & C.UXT_IOREQ_F_STRING else "data", data,
        " rep" if flags & C.UXT_IOREQ_F_REP else "", " df" if flags & C.UXT_IOREQ_F_DF else "")


def _describe_fate(it):
    reason, arg = struct.unpack("<IQ", it.data)
    s = "FATE " + C.FATES.get(it.aux, "?")
    if it.aux == C.UXT_FATE_CRASHED:
        r = C.CRASH_REASONS.get(reason)
        s += ": %s (%s)" % (r.text, r.name) if r else ": unknown reason (UNKNOWN)"
    elif it.aux == C.UXT_FATE_SHUTDOWN:
        s += " code 0x%x" % arg
    return s


def describe_event(ev):
    """The event's first listing line (without the items)."""
    s = "#%d @%d %s" % (ev.index or 0, ev.offset or 0, ev.kind_name)
    if ev.kind == C.UXT_EV_EXIT:
        s += " %s (%d) d%d v%d" % (C.EXIT_REASONS.get(ev.arg, "UNKNOWN_EXIT"), ev.arg,
                                   ev.domid, ev.vcpu)
    elif ev.kind == C.UXT_EV_HOSTCALL:
        hc = C.HYPERCALLS.get(ev.arg)
        s += " %s (0x%02x)" % (hc.name if hc else "UNKNOWN_HYPERCALL", ev.arg)
        if ev.args:
            s += " args " + ", ".join("0x%x" % a for a in ev.args)
    elif ev.kind == C.UXT_EV_MARK:
        s += " " + _quoted(ev.text.encode("utf-8"))
    if ev.flags & C.UXT_EF_OUTPUTS:
        s += " [outputs]"
    return s


def dump(reader, out):
    h = reader.header
    out.write("uXen trace v%d, flags 0x%x%s%s, %d events%s, mem_frames %d%s\n" % (
        h.version, h.flags, " outputs" if h.flags & C.UXT_HF_OUTPUTS else "",
        " real" if h.flags & C.UXT_HF_REAL else "", h.event_count,
        "" if h.event_count else " (count not recorded)", h.mem_frames,
        "" if h.mem_frames else " (default)"))
    for ev in reader:
        out.write(describe_event(ev) + "\n")
        for it in ev.items:
            out.write("    %s %s\n" % ("out" if it.is_output else "in ", describe_item(ev, it)))


def stats(reader):
    """Counters over a whole trace, as a dict of Counters."""
    st = {k: collections.Counter() for k in ("kinds", "exits", "hostcalls", "items", "fates")}
    for ev in reader:
        st["kinds"][ev.kind_name] += 1
        if ev.kind == C.UXT_EV_EXIT:
            st["exits"][C.EXIT_REASONS.get(ev.arg, "UNKNOWN_EXIT")] += 1
        elif ev.kind == C.UXT_EV_HOSTCALL:
            hc = C.HYPERCALLS.get(ev.arg)
            st["hostcalls"][hc.name if hc else "UNKNOWN_HYPERCALL"] += 1
        for it in ev.items:
            st["items"][it.name] += 1
            if it.tag == C.UXT_IT_FATE_OUT:
                st["fates"][C.FATES.get(it.aux, "?")] += 1
    return st


def _print_stats(reader, out):
    st = stats(reader)
    for group in ("kinds", "exits", "hostcalls", "fates", "items"):
        out.write("%s:\n" % group)
        for name, n in sorted(st[group].items(), key=lambda kv: (-kv[1], kv[0])):
            out.write("  %-24s %d\n" % (name, n))


def _read_all(path):
    """The file's bytes. Opened without blocking, so that a FIFO with no
    writer is not waited on (it then reads as empty: no header), while a
    pipe (/dev/stdin, <(...)) is read to its end."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, fl & ~os.O_NONBLOCK)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def main(argv):
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        sys.stdout.write("usage: uxtrace.py dump|stats FILE\n")
        return 0
    if len(argv) != 3 or argv[1] not in ("dump", "stats"):
        sys.stderr.write("usage: uxtrace.py dump|stats FILE\n")
        return 2
    try:
        reader = Reader(_read_all(argv[2]))
        (dump if argv[1] == "dump" else _print_stats)(reader, sys.stdout)
    except (OSError, TraceError) as e:
        sys.stdout.flush()
        sys.stderr.write("%s: %s\n" % (argv[2], e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
