#!/usr/bin/python3
"""A fuzz finding as a trace that uxen-replay runs: one command for every target.

    fuzz-trace.py [--repro DIR] [--replay UXEN-REPLAY] TARGET FINDING OUT.uxt
    make fuzz-trace TARGET=t INPUT=FINDING OUT=OUT.uxt   (builds what it needs)

  exits, memory, hypercalls  the target's reproducer writes the trace that
                             ran (DIR/<target> -k -o OUT FINDING)
  decode                     the instruction bytes go to the exits target's
                             template, at its code address, in the finding's
                             mode, as an MMIO EPT-violation exit that reads,
                             a reset of the domain, and one that writes (the
                             handler crashes the domain on an access whose
                             direction the decoded instruction does not make,
                             so one of the two goes on into the emulation),
                             then as exits
  trace                      the finding is a trace already: copied, and replayed on
                             the ASan uxen-replay (the reader, as the target fuzzed it)

Then uxen-replay runs OUT (--check-every 1, as fuzz-minimize.py does) and
its status is printed. Exit status: uxen-replay's (3: the hypervisor
failed, as for a crash found by a hypervisor target; 128 + N for signal
N), or 2 with a message when the finding cannot be made a trace. A finding
that ASan or UBSan reports ends the reproducer mid-run: it then writes the
trace that ran up to the report, and an ASan build of uxen-replay
(--asan-replay) replays it, to the same report. A decode finding that is only a
disagreement with Capstone, or a bug that needs fewer than the 15 bytes
the handler fetches, runs clean in the hypervisor: the trace then shows
the decoder at work on those bytes, and the decode reproducer is the
place to see the finding itself.
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import fuzzcli  # noqa: E402
import uxtrace  # noqa: E402
import uxen_consts as C  # noqa: E402

HV_TARGETS = ("exits", "memory", "hypercalls")
TARGETS = HV_TARGETS + ("decode", "trace")
# The template's code address and its MMIO page: read from fuzz/fuzz.h,
# where the exits target defines them.
FUZZ_H = os.path.join(REPO, "fuzz", "fuzz.h")
DEC_MAX_LEN = 15  # x86's longest instruction; what the handler fetches
EPTQ_READ, EPTQ_WRITE = 0x181, 0x182  # access, linear address valid, translated
CS_AR = {2: 0x809b, 4: 0xc09b, 8: 0xa09b}  # code segment: 16-, 32-, 64-bit


def fail(msg):
    sys.stderr.write("fuzz-trace: %s\n" % msg)
    return 2


def fuzz_h_constants():
    src = open(FUZZ_H).read()
    code = int(re.search(r"#define FZ_CODE (0x[0-9a-f]+)", src).group(1), 16)
    gfn = int(re.search(r"#define FZ_MMIO_GFN (0x[0-9a-f]+)", src).group(1), 16)
    return code, gfn << 12


def decode_to_exits(data):
    """fuzz/fuzz_decode.c's input (mode byte, instruction bytes) as an
    exits-target input. The mode folds as the decode target folds it."""
    if len(data) < 2:
        raise ValueError("a decode input is a mode byte and at least one instruction byte")
    mode = {2: 2, 4: 4, 8: 8}.get(data[0], (2, 4, 8)[data[0] % 3])
    code = data[1:1 + DEC_MAX_LEN]
    code += bytes(DEC_MAX_LEN - len(code))
    fz_code, mmio_gpa = fuzz_h_constants()

    def vmcs(enc, val):
        return uxtrace.Item(C.UXT_IT_VMCS_IN, 0, struct.pack("<IQ", enc, val))

    def access(q):
        items = [vmcs(C.VMCS_EXIT_QUALIFICATION, q),
                 vmcs(C.VMCS_GUEST_PHYSICAL_ADDRESS, mmio_gpa),
                 vmcs(C.VMCS_IDT_VECTORING_INFO, 0),
                 vmcs(C.VMCS_GUEST_CS_AR, CS_AR[mode]),
                 vmcs(C.VMCS_GUEST_RIP, fz_code),
                 uxtrace.Item(C.UXT_IT_MEM_IN, 0, struct.pack("<Q", fz_code) + code)]
        return uxtrace.Event.exit(C.EXIT_EPT_VIOLATION, 1, 0, items, flags=0)

    # The input's domain 1 is the fork the exits target gives each input.
    events = [access(EPTQ_READ),
              uxtrace.Event.hostcall(C.HC_RESET, [1, 0, 0, 0], flags=0),
              uxtrace.Event.hostcall(C.HC_DOMAIN_UNPAUSE, [1, 0, 0, 0], flags=0),
              access(EPTQ_WRITE)]
    return uxtrace.Trace(events=events).pack()


FZ_REPRO = "build/fuzz/repro"  # where make builds the reproducers


def status(rc):
    """A child's exit status as a shell would give it (signals: 128 + N)."""
    return 128 - rc if rc < 0 else rc


def replay(tool, path):
    """uxen-replay's exit status on a trace, and the line that says why:
    a sanitizer's SUMMARY, else its last line."""
    rc, lines = fuzzcli.replay(tool, path)
    summary = fuzzcli.sanitizer_summary(lines)
    why = [summary] if summary else lines[-1:]
    if rc < 0:
        why.append("killed by signal %d" % -rc)
    return status(rc), "; ".join(why)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repro", default=os.path.join(REPO, FZ_REPRO),
                    help="the folder of the targets' reproducers (default: the repository's)")
    ap.add_argument("--replay", default=os.path.join(REPO, "build/rel/uxen-replay"),
                    help="the uxen-replay to run (default: the repository's release build)")
    ap.add_argument("--asan-replay", default=os.path.join(REPO, "build/asan-clang/uxen-replay"),
                    help="the uxen-replay (ASan + UBSan) for findings a sanitizer reported "
                         "(default: the repository's asan-clang build)")
    ap.add_argument("target")
    ap.add_argument("finding")
    ap.add_argument("output")
    a = ap.parse_args()
    # Paths as given, from here: a bare name would be looked up in PATH.
    a.repro, a.replay, a.asan_replay = (os.path.abspath(x) for x in (a.repro, a.replay, a.asan_replay))
    if a.target not in TARGETS:
        return fail("unknown target %r (one of: %s)" % (a.target, ", ".join(TARGETS)))
    # A decode input is a mode byte and at most 15 instruction bytes: only
    # those are read; the other targets' reproducers read the file.
    try:
        with open(a.finding, "rb") as f:
            data = f.read(1 + DEC_MAX_LEN)
    except OSError as e:
        return fail("cannot read %s: %s" % (a.finding, e.strerror or e))
    refusal = fuzzcli.output_refusal(a.output, a.finding, "the finding")
    if refusal:
        return fail(refusal)
    if not fuzzcli.executable(a.replay):
        return fail("%s is not an executable (build it: make, or name one with --replay)"
                    % a.replay)
    sanitizer = False
    with tempfile.TemporaryDirectory() as tmp:
        target, finding = a.target, a.finding
        if target == "decode":
            try:
                exits_input = decode_to_exits(data)
            except ValueError as e:
                return fail("%s: %s" % (a.finding, e))
            finding = os.path.join(tmp, "exits-input")
            with open(finding, "wb") as f:  # in our own temporary folder
                f.write(exits_input)
            target = "exits"
        if target == "trace":
            try:
                shutil.copyfile(finding, a.output)
            except OSError as e:
                return fail("cannot write %s: %s" % (a.output, e.strerror or e))
        else:
            repro = os.path.join(a.repro, target)
            if not fuzzcli.executable(repro):
                return fail("%s is not an executable (build it: make %s, or name the folder "
                            "with --repro)" % (repro, os.path.join(FZ_REPRO, target)))
            if os.path.exists(a.output):
                os.unlink(a.output)  # what is there after the run, the run wrote
            p = subprocess.run([repro, "-k", "-o", a.output, finding],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            err = p.stderr.decode("utf-8", "replace")
            for line in err.splitlines():
                if "NOT DETERMINISTIC" in line:
                    sys.stderr.write(line + "\n")
            # A sanitizer's report ends the reproducer mid-run; its hook
            # writes the trace that ran up to there (fuzz/fuzz.c).
            sanitizer = p.returncode not in (0, 3) and "run up to the sanitizer" in err
            if not os.path.isfile(a.output) or (p.returncode not in (0, 3) and not sanitizer):
                summary = fuzzcli.sanitizer_summary(err.splitlines())
                tail = [summary] if summary else err.splitlines()[-1:]
                return fail("%s wrote no trace (exit %d%s)" % (
                    repro, status(p.returncode), ": " + tail[0] if tail else ""))
    tool = a.replay
    # The trace target fuzzes the reader under ASan: what it finds may show
    # only there (a read past the end that the release build survives).
    if sanitizer or a.target == "trace":
        why = "a sanitizer reported this finding" if sanitizer else \
            "a trace target finding is the reader's, as ASan sees it"
        if not fuzzcli.executable(a.asan_replay):
            return fail("%s is not an executable: %s, and only an ASan uxen-replay reproduces it "
                        "(make VARIANT=asan-clang, or name one with --asan-replay)"
                        % (a.asan_replay, why))
        tool = a.asan_replay
        print("fuzz-trace: %s; replaying with %s" % (why, tool))
    rc, why = replay(tool, a.output)
    print("fuzz-trace: wrote %s; uxen-replay exits %d%s" % (a.output, rc, ": " + why if why else ""))
    return rc


if __name__ == "__main__":
    sys.exit(main())
