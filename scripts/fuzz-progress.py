#!/usr/bin/python3
"""libFuzzer's output, thinned for `make fuzz` (scripts/fuzz-run.sh).

libFuzzer writes a status line for every new input (thousands a minute
early on) and otherwise only at power-of-two run counts (hours apart late
in a campaign); in fork mode (-fork=N) its lines look different again.
This prints the newest status line at most every 10 seconds, and always
the lines that matter: start, end, findings, errors, final statistics.
"""
import queue
import re
import sys
import threading
import time

EVERY = 10.0
KEEP = re.compile(r"INITED|DONE|^Done |ERROR|SUMMARY|WARNING|deadly|crash-|leak-|timeout-|"
                  r"^fuzz |^stat::|Test unit written|^INFO: fuzzing|-fork=")
STATUS = re.compile(r"^#\d+")


def lines(q):
    for line in sys.stdin:
        q.put(line.rstrip("\n"))
    q.put(None)


def main():
    # A reader thread, so that a status line held back is still printed
    # when libFuzzer goes quiet (late in a campaign, for hours).
    q = queue.Queue()
    threading.Thread(target=lines, args=(q,), daemon=True).start()
    last, pending = time.monotonic() - EVERY, None
    while True:
        wait = max(0.0, last + EVERY - time.monotonic()) if pending else None
        try:
            line = q.get(timeout=wait)
        except queue.Empty:
            print(pending, flush=True)
            pending, last = None, time.monotonic()
            continue
        if line is None:
            break
        if KEEP.search(line):
            if pending and not STATUS.match(line):
                print(pending, flush=True)  # the state it happened in
            print(line, flush=True)
            pending, last = None, time.monotonic()
            continue
        if not STATUS.match(line):
            continue
        now = time.monotonic()
        if now - last >= EVERY:
            print(line, flush=True)
            pending, last = None, now
        else:
            pending = line
    if pending:
        print(pending, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
