#!/usr/bin/python3
"""Turn a boot's serial output into trace files (traces/FORMAT.md).

The real VMX build records every exit and host call into a buffer that the
host streams over the serial port as

    UXT-BEGIN NAME frames=N events=E bytes=B
    UXT <base64 of up to 57 bytes of events>
    ...
    UXT-END NAME

Each block becomes OUTDIR/NAME.uxt (header flags OUTPUTS | REAL, mem_frames
N), checked by the strict reader of scripts/uxtrace.py.

    serial2uxt.py SERIAL_LOG OUTDIR     prints the files written
"""
import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uxtrace  # noqa: E402
from uxtrace import C  # noqa: E402


def blocks(lines):
    cur = None
    for n, raw in enumerate(lines, 1):
        line = raw.strip("\r\n").strip("\r")
        if line.startswith("UXT-BEGIN "):
            parts = line.split()
            meta = dict(p.split("=", 1) for p in parts[2:])
            cur = {"name": parts[1], "meta": meta, "data": bytearray(), "line": n}
        elif line.startswith("UXT ") and cur is not None:
            cur["data"] += base64.b64decode(line[4:])
        elif line.startswith("UXT-END") and cur is not None:
            yield cur
            cur = None
    if cur is not None:
        raise SystemExit("serial2uxt: block %s (line %d) has no UXT-END: the run died while streaming"
                         % (cur["name"], cur["line"]))


def convert(serial, outdir):
    written = []
    with open(serial, errors="replace") as f:
        lines = f.readlines()
    for b in blocks(lines):
        meta = b["meta"]
        data = bytes(b["data"])
        if int(meta["bytes"]) != len(data):
            raise SystemExit("serial2uxt: %s: %d bytes, the host sent %s"
                             % (b["name"], len(data), meta["bytes"]))
        hdr = uxtrace.Header(flags=C.UXT_HF_OUTPUTS | C.UXT_HF_REAL,
                             event_count=int(meta["events"]),
                             mem_frames=int(meta["frames"]))
        blob = hdr.pack() + data
        try:
            uxtrace.read_trace(blob)
        except uxtrace.TraceError as e:
            raise SystemExit("serial2uxt: %s: %s" % (b["name"], e))
        path = os.path.join(outdir, b["name"] + ".uxt")
        with open(path, "wb") as f:
            f.write(blob)
        written.append(path)
    return written


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: serial2uxt.py SERIAL_LOG OUTDIR")
    os.makedirs(sys.argv[2], exist_ok=True)
    written = convert(sys.argv[1], sys.argv[2])
    if not written:
        sys.exit("serial2uxt: no trace in %s" % sys.argv[1])
    for p in written:
        print(p)


if __name__ == "__main__":
    main()
