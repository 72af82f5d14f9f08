#!/usr/bin/python3
"""Shrink a failing trace to a minimal one that fails the same way.

    fuzz-minimize.py [--replay UXEN-REPLAY] IN.uxt OUT.uxt

IN must make uxen-replay (run with --check-every 1) exit 3, "the
hypervisor itself failed", or, with an ASan build of uxen-replay
(--replay build/asan-clang/uxen-replay), end in a sanitizer's report:
then "the same way" is the same SUMMARY line (kind of error, file, line,
function). Delta debugging (ddmin) over the events, then over the items
of each remaining event, keeps every reduction after which uxen-replay
still fails the same way (exit 3 with the same message, event indexes,
offsets and machine frame numbers aside: they move as events go). OUT is
the smallest such trace; replaying it reproduces the failure. Typical use:

    build/fuzz/repro/exits -o crash.uxt crash-<sha1>     # input -> trace
    scripts/fuzz-minimize.py crash.uxt min.uxt            # -> minimal trace
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzcli  # noqa: E402
import uxtrace  # noqa: E402

NOISE = [(re.compile(r"event \d+ \(offset \d+\)"), "event N"),
         (re.compile(r"offset \d+"), "offset N"),
         (re.compile(r"mfn [0-9a-f]+"), "mfn M"),
         (re.compile(r"^uxen-replay: [^:]*: "), "")]


def failure(replay, data, tmp):
    """The normalised failure message of a trace, or None if it does not
    make the hypervisor fail (exit 3) or a sanitizer report an error (an
    ASan build of uxen-replay: its SUMMARY line, which names the kind of
    error and where, without addresses)."""
    path = os.path.join(tmp, "t.uxt")
    with open(path, "wb") as f:
        f.write(data)
    try:
        rc, lines = fuzzcli.replay(replay, path, timeout=60)
    except subprocess.TimeoutExpired:
        return None  # a hang is not the failure being minimized
    summary = fuzzcli.sanitizer_summary(lines)
    if rc not in (0, 3) and summary:
        return summary
    if rc != 3 or not lines:
        return None
    msg = lines[-1]
    for rx, sub in NOISE:
        msg = rx.sub(sub, msg)
    return msg


def ddmin(items, test):
    """Zeller's ddmin: a 1-minimal sublist of items for which test holds."""
    n = 2
    while len(items) >= 2:
        chunk = max(1, len(items) // n)
        subsets = [items[i:i + chunk] for i in range(0, len(items), chunk)]
        reduced = False
        for i in range(len(subsets)):
            complement = [x for j, s in enumerate(subsets) if j != i for x in s]
            if test(complement):
                items, n, reduced = complement, max(n - 1, 2), True
                break
        if not reduced:
            if n >= len(items):
                break
            n = min(len(items), n * 2)
    return items


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(msg):
    sys.stderr.write("fuzz-minimize: %s\n" % msg)
    return 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replay", default=os.path.join(REPO, "build/rel/uxen-replay"),
                    help="the uxen-replay to run (default: the repository's release build)")
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()
    a.replay = os.path.abspath(a.replay)  # as given: a bare name would be looked up in PATH
    # Everything that can be wrong with the arguments, before minutes of
    # minimizing: a missing replay tool, an unreadable or non-trace input,
    # an output that cannot be written.
    if not fuzzcli.executable(a.replay):
        return fail("%s is not an executable (build it: make, or name one with --replay)"
                    % a.replay)
    try:
        tr = uxtrace.read_trace(a.input)
    except OSError as e:
        return fail("cannot read %s: %s" % (a.input, e.strerror or e))
    except uxtrace.TraceError as e:
        return fail("%s is not a valid trace: %s" % (a.input, e))
    refusal = fuzzcli.output_refusal(a.output, a.input, "the input")
    if refusal:
        return fail(refusal)
    with tempfile.TemporaryDirectory() as tmp:
        want = failure(a.replay, uxtrace.Trace(tr.header, tr.events).pack(), tmp)
        if want is None:
            sys.stderr.write("fuzz-minimize: %s does not make uxen-replay exit 3 (or, with an "
                             "ASan uxen-replay, report a sanitizer error)\n" % a.input)
            return 2
        runs = [0]

        def same(events):
            runs[0] += 1
            try:
                return failure(a.replay, uxtrace.Trace(tr.header, events).pack(), tmp) == want
            except uxtrace.TraceError:
                return False

        events = ddmin(list(tr.events), same)
        for k in range(len(events)):  # then the items of each event
            ev = events[k]

            def with_items(items, k=k, ev=ev):
                e = uxtrace.Event(ev.kind, ev.flags, ev.arg, ev.domid, ev.vcpu,
                                  ev.args, items, ev.text)
                return same(events[:k] + [e] + events[k + 1:])
            if len(ev.items) > 1 or (ev.items and with_items([])):
                items = [] if with_items([]) else ddmin(list(ev.items), with_items)
                events[k] = uxtrace.Event(ev.kind, ev.flags, ev.arg, ev.domid, ev.vcpu,
                                          ev.args, items, ev.text)
        data = uxtrace.Trace(tr.header, events).pack()
    try:
        with open(a.output, "wb") as f:
            f.write(data)
    except OSError as e:
        return fail("cannot write %s: %s" % (a.output, e.strerror or e))
    print("fuzz-minimize: %d -> %d events, %d bytes (%d replays): %s"
          % (len(tr.events), len(events), len(data), runs[0], want))
    return 0


if __name__ == "__main__":
    sys.exit(main())
