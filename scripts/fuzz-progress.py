#!/usr/bin/python3
"""libFuzzer's output, thinned for `make fuzz` (scripts/fuzz-run.sh).

libFuzzer writes a status line for every new input (thousands a minute
early on) and otherwise only at power-of-two run counts (hours apart late
in a campaign); in fork mode (-fork=N) its lines look different again.
This prints the newest status line at most every 10 seconds, and always
the lines that matter: start, end, findings, errors, final statistics.
"""
import re
import sys
import time

EVERY = 10.0
KEEP = re.compile(r"INITED|DONE|^Done |ERROR|SUMMARY|WARNING|deadly|crash-|leak-|timeout-|"
                  r"^fuzz |^stat::|Test unit written|^INFO: fuzzing|-fork=")
STATUS = re.compile(r"^#\d+")


def main():
    last, pending = time.monotonic() - EVERY, None
    for line in sys.stdin:
        line = line.rstrip("\n")
        if KEEP.search(line):
            print(line, flush=True)
            if STATUS.match(line):
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
