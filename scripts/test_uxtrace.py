#!/usr/bin/python3
"""Tests of uxtrace.py and the generated uxen_consts.py (plain unittest).

The constants are checked for self-consistency only: they are generated
from the C tables, and no second copy of those tables exists to compare
with. Round trips and every reader error mirror harness/tests/test_trace.c.

    /usr/bin/python3 scripts/test_uxtrace.py [-v]
"""
import glob
import io
import os
import random
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import uxen_consts as C  # noqa: E402
import uxtrace as U  # noqa: E402
from uxtrace import Event, Item, TraceError  # noqa: E402

FIRST_ITEM = C.UXT_HEADER_SIZE + C.UXT_EVENT_HDR_SIZE + C.UXT_EXIT_PREFIX


# ---- Building traces by hand (the writer refuses bad ones) --------------------

def header(count=0, flags=C.UXT_HF_OUTPUTS, version=C.UXT_VERSION,
           size=C.UXT_HEADER_SIZE, frames=0, reserved=0):
    return U.HDR.pack(C.UXT_MAGIC, version, size, flags, count, frames, reserved)


def event(kind, body, flags=0, arg=0, blen=None):
    return U.EVENT_HDR.pack(kind, flags, arg, len(body) if blen is None else blen) + body


def item(tag, data, aux=0):
    return U.ITEM_HDR.pack(tag, aux, len(data)) + data


def u64(v):
    return struct.pack("<Q", v)


def exit_ev(items, reason=C.EXIT_HLT):
    return event(C.UXT_EV_EXIT, struct.pack("<HH", 1, 0) + items,
                 C.UXT_EF_OUTPUTS, reason)


def one_exit(items):
    return header(1) + exit_ev(items)


def sample_events():
    mem = Item.mem(C.UXT_IT_MEM_IN, 0x1000, b"\xaa\x00\x00")
    return [
        Event.mark("start \u00e9"),
        Event.exit(C.EXIT_WRMSR, 3, 2, [
            Item.vmcs(C.UXT_IT_VMCS_IN, C.VMCS_EXIT_REASON, C.EXIT_WRMSR),
            Item.reg(C.UXT_IT_REG_IN, C.UXT_GPR_RCX, 0xc0000080),
            mem,
            Item.cpuid(1, 0, (0, 0, 0, 0)),
            Item.u64(C.UXT_IT_TSC_IN, 12345),
            Item.vmcs(C.UXT_IT_VMCS_OUT, C.VMCS_ENTRY_INTR_INFO, 0x80000b0d),
            Item.vmcs(C.UXT_IT_VMCS_OUT, C.VMCS_ENTRY_EXCEPTION_ERRCODE, 0),
            Item.p2m(0x42, 0, 7, 1),
            Item.ioreq(C.UXT_IOREQ_PIO, C.UXT_IOREQ_DIR_OUT, 1, 0, 1, 0x3f8, 0x41),
            Item(C.UXT_IT_MEM_OUT, 0, mem.data),
            Item(C.UXT_IT_CONSOLE_OUT, 0, b"hi\n"),
            Item.fate(C.UXT_FATE_CRASHED, C.CRASH_UNOWNED_MEMORY),
        ]),
        Event.hostcall(C.HC_POPULATE, [1, 0x100, 2**64 - 1],
                       [Item(C.UXT_IT_DATA, 0, b"\x01\x02\x03"), Item.status(-22)]),
    ]


def sample_bytes(frames=4096):
    f = io.BytesIO()
    U.Trace(U.Header(C.UXT_HF_OUTPUTS, 0, frames), sample_events()).write(f)
    return f.getvalue()


class Consts(unittest.TestCase):
    """The generated module agrees with itself and with the format's rules."""

    def test_header_layout(self):
        self.assertEqual(len(C.UXT_MAGIC), C.UXT_MAGIC_LEN)
        self.assertEqual(U.HDR.size, C.UXT_HEADER_SIZE)
        self.assertEqual(U.EVENT_HDR.size, C.UXT_EVENT_HDR_SIZE)
        self.assertEqual(U.ITEM_HDR.size, C.UXT_ITEM_HDR_SIZE)
        offs = [C.UXT_HDR_OFF_MAGIC, C.UXT_HDR_OFF_VERSION, C.UXT_HDR_OFF_HEADER_SIZE,
                C.UXT_HDR_OFF_FLAGS, C.UXT_HDR_OFF_EVENT_COUNT,
                C.UXT_HDR_OFF_MEM_FRAMES, C.UXT_HDR_OFF_RESERVED]
        sizes = [struct.calcsize("<" + c) for c in ("8s", "H", "H", "I", "Q", "I", "I")]
        self.assertEqual(offs, [sum(sizes[:i]) for i in range(len(sizes))])

    def test_item_tags(self):
        for tag, t in C.ITEM_TAGS.items():
            self.assertTrue(0 < tag < 256)
            self.assertTrue(t.size == -1 or t.size == t.min, t)
            self.assertLessEqual(t.min, U.MAX_ITEM)
            self.assertEqual(getattr(C, "UXT_IT_" + t.name), tag)
        self.assertTrue(any(t < C.UXT_IT_OUTPUT for t in C.ITEM_TAGS))
        self.assertTrue(any(t >= C.UXT_IT_OUTPUT for t in C.ITEM_TAGS))

    def test_names_unique_and_constants_match(self):
        for table, prefix in ((C.EVENT_KINDS, "UXT_EV_"), (C.FATES, "UXT_FATE_"),
                              (C.GPRS, "UXT_GPR_"), (C.EXIT_REASONS, "EXIT_"),
                              (C.VMCS_FIELDS, "VMCS_")):
            self.assertEqual(len(set(table.values())), len(table))
            for code, name in table.items():
                self.assertEqual(getattr(C, prefix + name), code)
        for table, prefix in ((C.MSRS, "MSR_"), (C.HYPERCALLS, "HC_"),
                              (C.CRASH_REASONS, "CRASH_"), (C.HV_ERRORS, "HV_")):
            self.assertEqual(len({v.name for v in table.values()}), len(table))
            for code, v in table.items():
                self.assertEqual(getattr(C, prefix + v.name), code)

    def test_table_rules(self):
        self.assertEqual(sorted(C.EVENT_KINDS), list(range(1, len(C.EVENT_KINDS) + 1)))
        self.assertEqual(sorted(C.FATES), list(range(len(C.FATES))))
        self.assertEqual(sorted(C.GPRS), list(range(16)))
        self.assertEqual(C.UXT_FATE_RESUME, 0)
        for hc in C.HYPERCALLS.values():
            self.assertLessEqual(hc.nargs, C.UXT_MAX_HOSTCALL_ARGS)
            self.assertTrue(all(a == "NONE" for a in hc.args[hc.nargs:]), hc)
            self.assertTrue(all(a != "NONE" for a in hc.args[:hc.nargs]), hc)
        for m in C.MSRS.values():
            if m.kind == "VMCS":
                self.assertIn(m.arg, C.VMCS_FIELDS, m)
        for enc in C.VMCS_FIELDS:
            self.assertLess(enc, 0x10000)


class RoundTrip(unittest.TestCase):

    def test_write_read(self):
        data = sample_bytes()
        r = U.Reader(data)
        self.assertEqual(r.header.event_count, 3)
        self.assertEqual(r.header.mem_frames, 4096)
        events = list(r)
        self.assertEqual(events, sample_events())
        self.assertEqual([e.index for e in events], [0, 1, 2])
        self.assertEqual(events[0].offset, C.UXT_HEADER_SIZE)
        self.assertEqual(events[1].items[0].offset,
                         events[1].offset + C.UXT_EVENT_HDR_SIZE + C.UXT_EXIT_PREFIX)

    def test_rewrite_is_identical(self):
        data = sample_bytes()
        f = io.BytesIO()
        U.read_trace(data).write(f)
        self.assertEqual(f.getvalue(), data)

    def test_file_and_pipe(self):
        data = sample_bytes()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.uxt")
            with open(path, "wb") as f:
                U.Trace(U.Header(C.UXT_HF_OUTPUTS, 0, 4096), sample_events()).write(f)
            with open(path, "rb") as f:
                self.assertEqual(f.read(), data)
        rfd, wfd = os.pipe()
        with os.fdopen(wfd, "wb") as w:
            U.Trace(U.Header(C.UXT_HF_OUTPUTS, 0, 4096), sample_events()).write(w)
        with os.fdopen(rfd, "rb") as rf:
            piped = rf.read()
        self.assertEqual(struct.unpack_from("<Q", piped, C.UXT_HDR_OFF_EVENT_COUNT)[0], 0)
        self.assertEqual(len(list(U.Reader(piped))), 3)

    def test_append_mode_is_not_patched(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.uxt")
            with open(path, "ab") as f:
                U.Trace(events=sample_events()).write(f)
            with open(path, "rb") as f:
                data = f.read()
        self.assertEqual(len(list(U.Reader(data))), 3)

    def test_corpus_reads_strictly(self):
        root = os.path.join(HERE, "..", "traces", "corpus")
        for path in sorted(glob.glob(os.path.join(root, "*.uxt"))):
            with self.subTest(path=path):
                U.read_trace(path)


class WriterErrors(unittest.TestCase):

    def write(self, ev):
        w = U.Writer(io.BytesIO())
        with self.assertRaises(TraceError) as cm:
            w.write(ev)
        return str(cm.exception)

    def test_rejects(self):
        out_in = [Item.reg(C.UXT_IT_REG_OUT, 0, 1), Item.reg(C.UXT_IT_REG_IN, 0, 1)]
        self.assertEqual(self.write(Event.exit(C.EXIT_HLT, 1, 0, out_in)),
                         "offset 56: input item tag 0x02 after an output item")
        self.assertEqual(self.write(Event.hostcall(0, [0] * 5)),
                         "offset 40: HOSTCALL nargs 5 exceeds 4")
        self.assertEqual(self.write(Event(9)), "offset 32: unknown event kind 9")
        self.assertIn("MARK events carry no items",
                      self.write(Event(C.UXT_EV_MARK, items=[Item(C.UXT_IT_DATA)])))
        self.assertIn("exceeds limit", self.write(Event.mark("x" * (C.UXT_MAX_EVENT_BODY + 1))))
        self.assertIn("exceeds 65535", self.write(
            Event.exit(0, 0, 0, [Item(C.UXT_IT_MEM_IN, 0, b"\0" * 70000)])))
        with self.assertRaises(TraceError):
            U.Writer(io.BytesIO(), flags=0x80)


class ReaderErrors(unittest.TestCase):

    def rejects(self, data, want):
        with self.assertRaises(TraceError) as cm:
            list(U.Reader(data))
        msg = str(cm.exception)
        self.assertTrue(msg.startswith("offset "), msg)
        self.assertIn(want, msg)

    def test_header(self):
        h = bytearray(header())
        h[3] = ord("X")
        self.rejects(bytes(h), "offset 0: bad magic")
        self.rejects(bytes(h[:4]), "offset 0: bad magic")
        self.rejects(header()[:20], "offset 20: truncated file header (20 of 32 bytes)")
        self.rejects(b"", "offset 0: truncated file header (0 of 32 bytes)")
        self.rejects(header(version=7),
                     "offset 8: unsupported trace version 7 (this build reads 1)")
        self.rejects(header(size=0xffff), "offset 10: header size 65535")
        self.rejects(header(flags=0x100), "offset 12: unknown header flags 0x100")
        self.rejects(header(reserved=1), "offset 28: reserved header field")
        self.rejects(header(1 << 60) + event(C.UXT_EV_MARK, b""),
                     "offset 16: event_count 1152921504606846976 cannot fit")

    def test_events(self):
        M = C.UXT_EV_MARK
        self.rejects(header() + event(M, b"") + event(C.UXT_EV_EXIT, b"", blen=2**32 - 1),
                     "offset 40: event body length 4294967295 exceeds limit 1048576")
        self.rejects(header() + event(M, b"abc", blen=100),
                     "offset 32: truncated event body (100 bytes, 3 left in the file)")
        self.rejects(header() + b"\1\0\0", "offset 32: truncated event header (3 of 8 bytes)")
        for kind in (0, len(C.EVENT_KINDS) + 1, 255):
            self.rejects(header() + event(kind, b""), "offset 32: unknown event kind %d" % kind)
        self.rejects(header() + event(C.UXT_EV_EXIT, b"\0" * 4, flags=0x80),
                     "offset 33: unknown event flags 0x80")
        self.rejects(header() + event(M, b"", arg=5),
                     "offset 33: MARK event with flags 0x0 and arg 5")
        self.rejects(header() + event(C.UXT_EV_EXIT, b"\1\0"),
                     "offset 40: EXIT body is 2 bytes, shorter than its 4-byte prefix")

    def test_hostcall(self):
        HC = C.UXT_EV_HOSTCALL
        self.rejects(header() + event(HC, u64(5) + u64(0) * 5),
                     "offset 40: HOSTCALL nargs 5 exceeds 4")
        self.rejects(header() + event(HC, u64(2) + u64(0)),
                     "offset 40: HOSTCALL body is 16 bytes, too short for 2 args")
        self.rejects(header() + event(HC, u64(0x100)),
                     "offset 41: HOSTCALL padding byte is 0x01")
        self.rejects(header() + event(HC, b"\0" * 4),
                     "offset 40: HOSTCALL body is 4 bytes, shorter than its 8-byte prefix")

    def test_mark_utf8(self):
        for bad in (b"\xff", b"a\xc3", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"):
            self.rejects(header() + event(C.UXT_EV_MARK, bad), "MARK text is not valid UTF-8")
        ok = "ok \u20ac \U0001f600".encode()
        self.assertEqual(len(list(U.Reader(header() + event(C.UXT_EV_MARK, ok)))), 1)

    def test_event_count(self):
        items = item(C.UXT_IT_REG_IN, u64(1)) + item(C.UXT_IT_REG_OUT, u64(2), aux=3)
        self.rejects(header(2) + exit_ev(items),
                     "file ends after 1 events, header event_count says 2")
        one = header(1) + exit_ev(items)
        self.rejects(one + exit_ev(items), "offset %d: %d bytes of trailing garbage"
                     % (len(one), len(exit_ev(items))))

    def test_items(self):
        self.rejects(one_exit(item(0x07, u64(0))), "offset 44: unknown item tag 0x07")
        self.rejects(one_exit(item(0xff, u64(0))), "unknown item tag 0xff")
        self.rejects(one_exit(item(C.UXT_IT_VMCS_IN, u64(0))),
                     "offset 44: item tag 0x01 has a 8-byte payload, must be 12")
        self.rejects(one_exit(item(C.UXT_IT_MEM_IN, u64(0))),
                     "item tag 0x03 has a 8-byte payload, needs at least 9")
        self.rejects(one_exit(item(C.UXT_IT_CONSOLE_OUT, b"")), "needs at least 1")
        self.rejects(one_exit(U.ITEM_HDR.pack(C.UXT_IT_TSC_IN, 0, 200) + u64(1)),
                     "offset 44: truncated item: 200-byte payload, 8 bytes left")
        self.rejects(one_exit(item(C.UXT_IT_TSC_IN, u64(1)) + b"\5\0"),
                     "offset 56: truncated item header (2 of 4 bytes")
        self.rejects(one_exit(item(C.UXT_IT_REG_OUT, u64(1)) +
                              item(C.UXT_IT_VMCS_IN, b"\0" * 12)),
                     "offset 56: input item tag 0x01 after an output item")

    def test_item_aux(self):
        fate = struct.pack("<IQ", 0, 0)
        self.rejects(one_exit(item(C.UXT_IT_REG_IN, u64(1), aux=16)),
                     "offset 45: REG_IN register index 16")
        self.rejects(one_exit(item(C.UXT_IT_REG_OUT, u64(1), aux=C.UXT_GPR_RSP)),
                     "REG_OUT register index 4")
        self.rejects(one_exit(item(C.UXT_IT_FATE_OUT, fate, aux=0)), "offset 45: FATE_OUT fate 0")
        self.rejects(one_exit(item(C.UXT_IT_FATE_OUT, fate, aux=len(C.FATES))),
                     "FATE_OUT fate %d" % len(C.FATES))
        self.rejects(one_exit(item(C.UXT_IT_TSC_IN, u64(1), aux=3)),
                     "offset 45: item tag 0x05 has aux 3, must be 0")

    def test_truncated_everywhere(self):
        data = sample_bytes()
        for n in range(len(data)):
            with self.subTest(cut=n):
                self.rejects(data[:n], "")
                try:
                    list(U.Reader(data[:n], lenient=True))
                except TraceError:
                    pass


class Lenient(unittest.TestCase):

    def test_skips(self):
        items = (item(0x7e, u64(0)) + item(C.UXT_IT_REG_IN, u64(5)) +
                 item(C.UXT_IT_REG_OUT, u64(0), aux=99))
        data = (header(7, flags=0x80) + event(0x42, b"xyz") + exit_ev(items))
        with self.assertRaises(TraceError):
            list(U.Reader(data))
        r = U.Reader(data, lenient=True)
        events = list(r)
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0].index, 1)
        self.assertEqual(r.skipped, 1)
        self.assertEqual(events[0].items, [Item.reg(C.UXT_IT_REG_IN, 0, 5)])

    def test_random_bytes(self):
        """Only TraceError may come out, whatever the input."""
        rng = random.Random(1234)
        good = sample_bytes()
        for i in range(3000):
            if i % 2:
                data = bytearray(good)
                for _ in range(rng.randint(1, 8)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
            else:
                data = bytearray(header()) + bytes(
                    rng.randrange(8) if rng.randrange(5) else rng.randrange(256)
                    for _ in range(rng.randrange(300)))
            for lenient in (True, False):
                try:
                    for ev in U.Reader(bytes(data), lenient):
                        U.describe_event(ev)
                        for it in ev.items:
                            U.describe_item(ev, it)
                except TraceError:
                    pass


class Cli(unittest.TestCase):

    def run_cli(self, *args):
        return subprocess.run([sys.executable, os.path.join(HERE, "uxtrace.py")] + list(args),
                              capture_output=True, text=True)

    def test_dump_and_stats(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "t.uxt")
            with open(path, "wb") as f:
                f.write(sample_bytes())
            out = self.run_cli("dump", path)
            self.assertEqual(out.returncode, 0, out.stderr)
            for want in ("3 events", 'MARK "start \u00e9"', "EXIT WRMSR (32) d3 v2",
                         "rcx = 0xc0000080  MSR IA32_EFER", "inject #GP(0)",
                         "MEM gpa 0x1000, 3 bytes: aa 00 00",
                         "P2M gfn 0x42 order 0 perms rwx type 1",
                         "IOREQ PIO out port 0x3f8 size 1 count 1 data 0x41",
                         'CONSOLE "hi\\n"', "FATE CRASHED: access to guest-physical memory",
                         "HOSTCALL POPULATE (0x05) args 0x1, 0x100, 0xffffffffffffffff",
                         "STATUS -22 (invalid argument)"):
                self.assertIn(want, out.stdout)
            out = self.run_cli("stats", path)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("WRMSR", out.stdout)
            self.assertIn("CRASHED", out.stdout)
            with open(path, "r+b") as f:
                f.write(b"X")
            out = self.run_cli("dump", path)
            self.assertEqual(out.returncode, 1)
            self.assertIn("offset 0: bad magic", out.stderr)
        self.assertEqual(self.run_cli().returncode, 2)


if __name__ == "__main__":
    unittest.main()
