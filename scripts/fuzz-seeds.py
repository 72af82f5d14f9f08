#!/usr/bin/python3
"""Seed corpora and dictionaries for the fuzz targets (fuzz/README.md).

    fuzz-seeds.py --out DIR [--gen build/rel/uxen-gen] [--traces traces]

writes DIR/<target>/ (seed inputs) and DIR/<target>.dict for every target.
Seeds come from the traces under traces/ and from uxen-gen scenarios (for
the targets that do not read traces, written in their input programs), and
a few hand-made ones that reach what no trace does;
dictionaries are GENERATED from the core's tables through uxen_consts
(itself generated from hv/include/hv/tables/*.def): exit reasons, VMCS
encodings, MSR numbers and hypercall numbers, never a hand-kept list.
Deterministic: the same tables and traces give the same files. DIR must
be new, empty, or one this script made (it leaves a .fuzz-seeds mark):
other files are never deleted. Exit 2, with one line, on bad arguments.
"""
import argparse
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uxen_consts as C  # noqa: E402
import uxtrace  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One per fuzz/fuzz_<target>.c (as scripts/fuzz-targets.sh lists them).
TARGETS = tuple(sorted(f[len("fuzz_"):-len(".c")] for f in os.listdir(os.path.join(REPO, "fuzz"))
                       if f.startswith("fuzz_") and f.endswith(".c")))
WINDOW = 16          # exits per seed: the size the speed target is set for
LIFECYCLE = {C.HC_DOMAIN_CREATE, C.HC_DOMAIN_DESTROY}


def save(d, data):
    """Store one seed under its content hash (dedups for free)."""
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


SEED_MAX = 4096      # bytes: make fuzz's and make bench's -max_len; AFL++ has none,
                     # and a mutated 80 KiB seed costs it 20 times a 4 KiB one


def pack_trace(events, flags=0, mem_frames=0):
    """The events as a trace, as many as fit in SEED_MAX bytes (at least
    one: a trace of no events seeds nothing)."""
    size, n = C.UXT_HEADER_SIZE, 0
    while n < len(events):
        size += len(events[n].pack())
        if n and size > SEED_MAX:
            break
        n += 1
    return uxtrace.Trace(uxtrace.Header(flags, 0, mem_frames), events[:n]).pack()


def strip(ev):
    """The event's inputs only, outputs dropped (the fuzz target ignores
    them, and they only dilute mutations)."""
    items = [i for i in ev.items if not i.is_output]
    if ev.kind == C.UXT_EV_EXIT:
        return uxtrace.Event.exit(ev.arg, 1, ev.vcpu, items, flags=0)
    return uxtrace.Event.hostcall(ev.arg, ev.args, items, flags=0)


def exit_windows(trace):
    """Windows of WINDOW exits (with the host calls between them), from
    every trace: what the exits target runs on its template domain."""
    evs = [strip(e) for e in trace.events
           if e.kind != C.UXT_EV_MARK and not (e.kind == C.UXT_EV_HOSTCALL and e.arg in LIFECYCLE)]
    out, cur, n = [], [], 0
    for e in evs:
        cur.append(e)
        n += e.kind == C.UXT_EV_EXIT
        if n == WINDOW:
            out.append(cur)
            cur, n = [], 0
    if n:
        out.append(cur)
    return out


def traces_from(tracedir, gen, tmp):
    paths = []
    for root, _, files in os.walk(tracedir):
        paths += [os.path.join(root, f) for f in sorted(files) if f.endswith(".uxt")]
    if gen:
        jobs = [("boot", 0), ("hostile", 0), ("mix", 400)]
        jobs += [("repeat-" + k, 4) for k in ("cpuid", "rdmsr", "wrmsr", "cr3", "cr0", "console",
                                               "out", "in", "mmio", "rdtsc", "vmcall", "hlt",
                                               "extint", "timer")]
        for s, n in jobs:
            p = os.path.join(tmp, s + ".uxt")
            args = [gen, s, p] + ([str(n)] if n else [])
            try:
                rc = subprocess.run(args, stderr=subprocess.DEVNULL).returncode
            except OSError as e:
                raise Refused("cannot run %s: %s" % (gen, e.strerror or e))
            if rc:
                raise Refused("%s %s failed (exit %d)" % (gen, s, rc))
            paths.append(p)
    return sorted(paths, key=lambda p: (not p.startswith(tracedir), p))


# ---- dictionaries: generated from the tables ----

def esc(b):
    return "".join("\\x%02x" % c for c in b)


def entries(prefix, table, fmt):
    out = []
    for k, v in sorted(table.items()):
        name = v if isinstance(v, str) else v.name
        out.append('%s_%s="%s"' % (prefix, name, esc(struct.pack(fmt, k))))
    return out


def dict_exits():
    e = []
    e += entries("exit", C.EXIT_REASONS, "<H")           # event header arg
    e += entries("vmcs", C.VMCS_FIELDS, "<I")            # VMCS_IN enc
    e += entries("msr", C.MSRS, "<I")                    # RCX of RDMSR/WRMSR
    e += entries("hc", C.HYPERCALLS, "<Q")               # RAX of VMCALL / host call nr
    e += entries("tag", {k: v.name for k, v in C.ITEM_TAGS.items() if k < 0x80}, "<B")
    return e


def dict_hypercalls():
    e = entries("hc", C.HYPERCALLS, "<B")
    e += entries("hc64", C.HYPERCALLS, "<Q")
    e += entries("vmcs", C.VMCS_FIELDS, "<I")
    return e


def dict_memory():
    return entries("hc", {k: v for k, v in C.HYPERCALLS.items() if v.callers == "HOST"}, "<B")


def dict_trace():
    e = ['magic="%s"' % esc(C.UXT_MAGIC)]
    e += entries("kind", C.EVENT_KINDS, "<B")
    e += entries("tag", {k: v.name for k, v in C.ITEM_TAGS.items()}, "<B")
    e += entries("exit", C.EXIT_REASONS, "<H")
    e += entries("vmcs", C.VMCS_FIELDS, "<I")
    return e


def dict_decode():
    # Opcode and prefix bytes of the moves the decoder accepts (decode.h),
    # plus prefixes it must reject: the decoder's own contract, in bytes.
    ops = {"mov_st8": b"\x88", "mov_st": b"\x89", "mov_ld8": b"\x8a", "mov_ld": b"\x8b",
           "mov_imm8": b"\xc6", "mov_imm": b"\xc7", "moffs": b"\xa0", "moffs_st": b"\xa3",
           "movzx8": b"\x0f\xb6", "movzx16": b"\x0f\xb7", "movsx8": b"\x0f\xbe",
           "movsx16": b"\x0f\xbf", "opsize": b"\x66", "addrsize": b"\x67", "rex_w": b"\x48",
           "rex_wrxb": b"\x4f", "lock": b"\xf0", "rep": b"\xf3", "fs": b"\x64", "sib": b"\x24"}
    return ['%s="%s"' % (k, esc(v)) for k, v in sorted(ops.items())]


# ---- seeds of the bytecode targets ----

def hypercall_seeds():
    """One program per hypercall of the table: caller byte, number, args
    chosen by kind (see fuzz/fuzz_hypercalls.c)."""
    seeds = []
    for nr, h in sorted(C.HYPERCALLS.items()):
        for via in (0, 1):  # 0 host, 1 guest
            seeds.append(bytes([via, nr]) + bytes(8))
    seeds.append(b"".join(bytes([i & 1, nr]) + bytes(8) for i, nr in enumerate(sorted(C.HYPERCALLS))))
    return seeds


def memory_seeds():
    """Op programs (see fuzz/fuzz_memory.c: op byte, domain byte, operands).
    Op numbers follow enum op there; the vmfork group's are picked up from
    the table by the target itself."""
    CREATE, POP, HWRITE, GWRITE, UNMAP, PERMS, RUN, DESTROY, RELEASE, MMIO, SHARE, GREAD = range(12)
    create = [CREATE, 0, 4]                   # 1 vCPU, 600 frames
    pop4k = [POP, 0, 2 * 7, 0x00]             # 8 frames at gfn 0
    pop2m = [POP, 0, 1, 0x01]                 # 2 MiB at gfn 0x200
    run = [RUN, 0, 0]
    seeds = [
        create + pop4k + run + [GWRITE, 0, 0x01, 0, 5, GREAD, 0, 0x20, 0, 1],
        create + pop2m + run + [GWRITE, 0, 0x01, 0, 0, PERMS, 0, 0x41, 1, 1,
                                GWRITE, 0, 0x41, 0, 0, UNMAP, 0, 0x42, 1, GREAD, 0, 0x43, 0, 0],
        create + pop4k + [HWRITE, 0, 0x02, 0x10, 0, 7] + list(b"ABCDEFGH") +  # 1 + 7 bytes
        [PERMS, 0, 0x02, 1, 0, UNMAP, 0, 0x03, 2] + run + [RELEASE, 0, 0x04, 2, DESTROY, 0],
        create + [CREATE, 1, 3] + pop4k + [POP, 1, 2, 0x05] + run + [RUN, 1, 0] +
        [MMIO, 1, 0x30, 1, GWRITE, 1, 0x30, 0, 0, DESTROY, 0, DESTROY, 1],
        create + pop4k + run + [SHARE, 0, 0, 0, 0, 0, 0, 0, 0, GWRITE, 1, 0x01, 0, 0,
                                SHARE, 0, 1, 1, 1, 1, 1, 1, 1, SHARE, 1, 2, 2, 2, 2, 2, 2, 2],
    ]
    return [bytes(x) for x in seeds]


def decode_seeds():
    insns = ["89 18", "8b 43 04", "c6 07 41", "0f b7 0e", "66 89 18", "48 8b 43 04",
             "44 89 00", "88 24 25 00 00 fe 00", "c7 80 00 10 00 00 78 56 34 12",
             "48 c7 00 ff ff ff ff", "a1 00 00 e0 fe", "48 a3 00 00 e0 fe 00 00 00 00",
             "67 8a 07", "0f be 08", "48 0f bf 01", "88 26", "64 89 18", "40 88 30",
             "f0 89 18", "89 c0", "8b 04 8d 00 10 00 00"]
    out = []
    for mode in (2, 4, 8):
        for s in insns:
            out.append(bytes([mode]) + bytes.fromhex(s))
    return out


# ---- seeds of the bytecode targets, from the traces ----
# The same traces, written in the programs the memory, hypercalls and decode
# targets read: each trace's host calls and exits become the ops or calls
# they are, with its own values wherever the target's encoding can carry
# them exactly (fz_val()'s selector 0xe0 takes any 64-bit value).

def val(v):
    """fz_val()'s encoding of any 64-bit value."""
    return bytes([0xe0]) + struct.pack("<Q", v & 0xffffffffffffffff)


def gprs(ev):
    return {i.aux: struct.unpack("<Q", i.data[:8])[0] for i in ev.items
            if i.tag == C.UXT_IT_REG_IN and len(i.data) >= 8}


def vmcs_in(ev):
    out = {}
    for i in ev.items:
        if i.tag == C.UXT_IT_VMCS_IN and len(i.data) >= 12:
            enc, v = struct.unpack("<IQ", i.data[:12])
            out[enc] = v
    return out


def payload(ev):
    return b"".join(i.data for i in ev.items if i.tag == C.UXT_IT_DATA)


def chunks(calls, per=24):
    """Programs of at most `per` calls (under the targets' event cap) and
    SEED_MAX bytes."""
    out, cur, n = [], b"", 0
    for c in calls:
        if cur and (n == per or len(cur) + len(c) > SEED_MAX):
            out.append(cur)
            cur, n = b"", 0
        cur, n = cur + c, n + 1
    if cur:
        out.append(cur)
    return out


HC_ORDER = list(C.HYPERCALLS)  # fz_hcs[]: the table's order


def hypercall_calls(trace):
    """fuzz/fuzz_hypercalls.c: a host call is how 0, its table entry, then
    per argument a selector (DOM 1: the input's fork; 7: hostile, the
    value follows) and LOAD's or VCPU_SET_STATE's payload; a VMCALL exit
    is how 9 (guest, raw number: RAX, then RDI RSI RDX R10)."""
    calls = []
    for ev in trace.events:
        if ev.kind == C.UXT_EV_HOSTCALL and ev.arg in C.HYPERCALLS and ev.arg not in LIFECYCLE:
            h = C.HYPERCALLS[ev.arg]
            c = bytes([0, HC_ORDER.index(ev.arg)])
            for k in range(4):
                a = ev.args[k] if k < len(ev.args) else 0
                c += b"\x01" if h.args[k] == "DOM" else b"\x07" + val(a)
            data = payload(ev)
            if ev.arg == C.HC_LOAD:
                c += bytes([min(len(data), 63)]) + data[:63]
            elif ev.arg == C.HC_VCPU_SET_STATE:
                recs = [data[i:i + 16] for i in range(0, len(data) - 15, 16)][:4] or [bytes(16)]
                c += bytes([len(recs) - 1])
                for r in recs:
                    key, high, v = struct.unpack("<IIQ", r)
                    c += b"\xff" + struct.pack("<II", key, high) + val(v)
            calls.append(c)
        elif ev.kind == C.UXT_EV_EXIT and ev.arg == C.EXIT_VMCALL:
            r = gprs(ev)
            c = bytes([9, 0]) + val(r.get(C.UXT_GPR_RAX, 0))
            for g in (C.UXT_GPR_RDI, C.UXT_GPR_RSI, C.UXT_GPR_RDX, C.UXT_GPR_R10):
                c += b"\x00" + val(r.get(g, 0))
            calls.append(c)
    return calls


MEM_FRAMES = (8, 64, 600, 2048)  # fuzz/fuzz_memory.c: OP_CREATE's sizes
SHARING = [nr for nr in HC_ORDER if 0x10 <= nr <= 0x1f]


def gfn_sel(gfn):
    """fuzz_memory.c's pick_gfn() for a 4 KiB gfn."""
    if gfn < 0x40:
        return bytes([gfn])
    if 0x200 <= gfn < 0x240:
        return bytes([0x40 | (gfn - 0x200)])
    return b"\xc0" + val(gfn)


def memory_ops(trace):
    """fuzz/fuzz_memory.c: the trace's domain lifecycle, memory host calls,
    vmfork/sharing calls and EPT-violation exits as ops (op byte, domain
    byte, operands), for domains 1-4 (the target's slots). Each op comes
    with what it does to the slots, for memory_programs()."""
    ops = []
    for ev in trace.events:
        if ev.kind == C.UXT_EV_HOSTCALL and ev.arg in C.HYPERCALLS:
            a = list(ev.args) + [0] * 4
            nr, d = ev.arg, a[0]
            h = C.HYPERCALLS[nr]
            if nr == C.HC_DOMAIN_CREATE:
                size = next((i for i, f in enumerate(MEM_FRAMES) if f >= a[1]), 3)
                ops.append((bytes([0, 0, ((a[0] - 1) & 1) | size << 1]), ("create",)))
                continue
            # Calls on a domain name one of the target's slots; MERGE's
            # first argument is a count, and its domain byte is unused.
            if h.args[0] == "DOM" and not 1 <= d <= 4:
                continue
            dom = bytes([d - 1 if h.args[0] == "DOM" else 0])  # pick_dom: slot d
            if nr == C.HC_POPULATE and a[3] == 9:
                ops.append((bytes([1]) + dom + bytes([1, (a[1] >> 9) & 3]), ("pop", d)))
            elif nr == C.HC_POPULATE:
                ops.append((bytes([1]) + dom + bytes([((a[2] - 1) % 16) << 1]) + gfn_sel(a[1]),
                            ("pop", d)))
            elif nr == C.HC_LOAD:
                data = payload(ev)[:256] or b"\0"
                ops.append((bytes([2]) + dom + gfn_sel(a[1] >> 12) + struct.pack("<H", a[1] & 0xfff) +
                            bytes([len(data) - 1]) + data, None))
            elif nr == C.HC_UNMAP:
                ops.append((bytes([4]) + dom + gfn_sel(a[1]) + bytes([(a[2] - 1) & 0xff]), None))
            elif nr == C.HC_SET_PERMS:
                ops.append((bytes([5]) + dom + gfn_sel(a[1]) + bytes([(a[2] - 1) & 3, a[3] & 7]), None))
            elif nr in (C.HC_DOMAIN_PAUSE, C.HC_DOMAIN_UNPAUSE):
                ops.append((bytes([6]) + dom + bytes([nr == C.HC_DOMAIN_PAUSE]),
                            ("run", d, nr == C.HC_DOMAIN_UNPAUSE)))
            elif nr == C.HC_DOMAIN_DESTROY:
                ops.append((bytes([7]) + dom, ("destroy", d)))
            elif nr == C.HC_MMIO_MAP:
                ops.append((bytes([9]) + dom + gfn_sel(a[1]) + bytes([(a[2] - 1) & 3]), None))
            elif nr in SHARING:
                c = bytes([10]) + dom + bytes([SHARING.index(nr)])
                for k in range(4):
                    kind = h.args[k]
                    c += (bytes([max(a[k], 1) - 1 & 3]) if kind == "DOM" else
                          gfn_sel(a[k]) if kind == "GFN" else b"\x07" + val(a[k]))
                ops.append((c, ("create",) if nr == C.HC_FORK else None))
        elif ev.kind == C.UXT_EV_EXIT and ev.arg == C.EXIT_EPT_VIOLATION and 1 <= ev.domid <= 4:
            v = vmcs_in(ev)
            gpa = v.get(C.VMCS_GUEST_PHYSICAL_ADDRESS)
            if gpa is None:
                continue
            write = bool(v.get(C.VMCS_EXIT_QUALIFICATION, 0) & 2)
            ops.append((bytes([3 if write else 11, ev.domid - 1]) + gfn_sel(gpa >> 12) +
                        bytes([ev.vcpu & 1, (gpa & 0xfff) >> 4]), None))
    return ops


MEM_EVENTS = 28  # ops per memory program: under the target's cap (32)


def memory_programs(trace):
    """The trace's memory ops as programs of at most MEM_EVENTS ops. Every
    input starts with no domain, so each program after the first begins
    by making the slots live at that point again: a domain created in
    every slot up to the highest live one (a fork made again as a plain
    domain), its first two populates, unpaused if it ran, and the slots
    that were free destroyed again."""
    progs, cur, n = [], b"", 0
    live = {}  # slot -> {"create": op, "pops": [ops], "run": bool}

    def setup():
        if not live:
            return b"", 0
        ops = []
        top = max(live)
        for slot in range(1, top + 1):
            ops.append(live[slot]["create"] if slot in live else bytes([0, 0, 0]))
        for slot in range(1, top + 1):
            if slot not in live:
                ops.append(bytes([7, slot - 1]))
                continue
            ops += live[slot]["pops"]
            if live[slot]["run"]:
                ops.append(bytes([6, slot - 1, 0]))
        return b"".join(ops), len(ops)

    for op, eff in memory_ops(trace):
        if cur and (n >= MEM_EVENTS or len(cur) + len(op) > SEED_MAX):
            progs.append(cur)
            cur, n = setup()
            if n >= MEM_EVENTS - 4:  # no room left for the trace's own ops
                cur, n = b"", 0
        cur, n = cur + op, n + 1
        kind = eff[0] if eff else None
        if kind == "create":
            slot = next((k for k in range(1, 5) if k not in live), None)
            if slot:
                live[slot] = {"create": op if op[0] == 0 else bytes([0, 0, 4]),
                              "pops": [], "run": False}
        elif kind == "pop" and eff[1] in live and len(live[eff[1]]["pops"]) < 2:
            live[eff[1]]["pops"].append(op)
        elif kind == "run" and eff[1] in live:
            live[eff[1]]["run"] = eff[2]
        elif kind == "destroy":
            live.pop(eff[1], None)
    if cur:
        progs.append(cur)
    return progs


def decode_from(trace):
    """fuzz/fuzz_decode.c: mode byte (2, 4, 8: CS's L and D bits) and the
    instruction bytes each MMIO EPT-violation exit fetched (its memory
    input that is not an 8-byte page-table entry). A fetch split at a page
    end whose first part is 8 aligned bytes would lose that part; the
    traces here fetch each instruction in one read."""
    out = []
    for ev in trace.events:
        if ev.kind != C.UXT_EV_EXIT or ev.arg != C.EXIT_EPT_VIOLATION:
            continue
        ar = vmcs_in(ev).get(C.VMCS_GUEST_CS_AR)
        if ar is None:
            continue
        mode = 8 if ar & 0x2000 else 4 if ar & 0x4000 else 2
        code = b"".join(i.data[8:] for i in ev.items if i.tag == C.UXT_IT_MEM_IN
                        and len(i.data) > 8 and not (len(i.data) == 16 and
                                                     struct.unpack("<Q", i.data[:8])[0] % 8 == 0))
        if code:
            out.append(bytes([mode]) + code[:15])
    return out


class Refused(Exception):
    """A one-line reason to stop (exit 2)."""


# Marks a folder this script made: only such a folder's seeds are replaced.
STAMP = ".fuzz-seeds"


def prepare_out(out):
    """Make OUT/<target>/ empty for new seeds. Files are removed only from
    a folder this script made (it holds STAMP): pointed by mistake at a
    corpus, it would otherwise delete it."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise Refused("--out %s is not a folder" % out)
    ours = os.path.exists(os.path.join(out, STAMP))
    if not ours:
        for t in TARGETS:
            d = os.path.join(out, t)
            if os.path.isdir(d) and os.listdir(d):
                raise Refused("--out %s holds files this script did not write (%s/ is not empty): "
                              "give an empty or new folder" % (out, t))
    try:
        os.makedirs(out, exist_ok=True)
        open(os.path.join(out, STAMP), "w").close()
        for t in TARGETS:
            d = os.path.join(out, t)
            os.makedirs(d, exist_ok=True)
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
    except OSError as e:
        raise Refused("cannot prepare %s: %s" % (out, e.strerror or e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--gen")
    ap.add_argument("--traces", default="traces")
    a = ap.parse_args()
    try:
        return run(a)
    except Refused as e:
        print("fuzz-seeds: %s" % e, file=sys.stderr)
        return 2


def run(a):
    if not os.path.isdir(a.traces):
        raise Refused("--traces %s is not a folder" % a.traces)
    if a.gen and os.sep not in a.gen:  # a bare name: from PATH, as a shell would
        a.gen = shutil.which(a.gen) or a.gen
    if a.gen and not (os.path.isfile(a.gen) and os.access(a.gen, os.X_OK)):
        raise Refused("--gen %s is not an executable file" % a.gen)
    prepare_out(a.out)
    counts = dict.fromkeys(TARGETS, 0)
    with tempfile.TemporaryDirectory() as tmp:
        for p in traces_from(a.traces, a.gen, tmp):
            try:
                tr = uxtrace.read_trace(p)
            except uxtrace.TraceError:
                continue
            for w in exit_windows(tr)[:64]:
                save(os.path.join(a.out, "exits"), pack_trace(w))
                counts["exits"] += 1
            # the trace itself, as recorded (header flags, memory size),
            # cut to SEED_MAX bytes
            save(os.path.join(a.out, "trace"),
                 pack_trace(tr.events, tr.header.flags, tr.header.mem_frames))
            counts["trace"] += 1
            for w in exit_windows(tr)[:4]:  # windows with outputs, for the reader
                save(os.path.join(a.out, "trace"), pack_trace(w, C.UXT_HF_OUTPUTS))
                counts["trace"] += 1
            for t, prog in (("hypercalls", chunks(hypercall_calls(tr))[:8]),
                            ("memory", memory_programs(tr)[:8]),
                            ("decode", decode_from(tr)[:64])):
                for x in prog:
                    save(os.path.join(a.out, t), x)
                    counts[t] += 1
    for t, seeds in (("hypercalls", hypercall_seeds()), ("memory", memory_seeds()),
                     ("decode", decode_seeds())):
        for s in seeds:
            save(os.path.join(a.out, t), s)
            counts[t] += 1
    dicts = {"exits": dict_exits(), "memory": dict_memory(), "hypercalls": dict_hypercalls(),
             "trace": dict_trace(), "decode": dict_decode()}
    for t, lines in dicts.items():
        with open(os.path.join(a.out, t + ".dict"), "w") as f:
            f.write("# GENERATED by scripts/fuzz-seeds.py from the core's tables: do not edit\n")
            f.write("\n".join(lines) + "\n")
    print("fuzz-seeds: " + ", ".join("%s %d" % (t, len(os.listdir(os.path.join(a.out, t))))
                                     for t in TARGETS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
