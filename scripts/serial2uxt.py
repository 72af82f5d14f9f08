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


class Bad(Exception):
    """What is wrong with the log, in one line (exit 2)."""


# A block's NAME becomes a file in OUTDIR: a plain name, never a path.
NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
LIMITS = {"frames": 1 << 32, "events": 1 << 64, "bytes": 1 << 64}


def begin(parts, n):
    """The block that a UXT-BEGIN line (split) opens."""
    if len(parts) < 2:
        raise Bad("line %d: UXT-BEGIN without a NAME" % n)
    name = parts[1]
    if not set(name) <= NAME_OK or name.startswith("."):
        raise Bad("line %d: block name %r is not a plain file name" % (n, name))
    meta = {}
    for p in parts[2:]:
        key, eq, val = p.partition("=")
        if not eq or not (val.isascii() and val.isdigit()):  # ASCII digits only: not '²'
            raise Bad("line %d: %r is not KEY=NUMBER" % (n, p))
        meta[key] = int(val)
    for key, limit in LIMITS.items():
        if key not in meta:
            raise Bad("line %d: block %s has no %s=" % (n, name, key))
        if meta[key] >= limit:
            raise Bad("line %d: block %s: %s=%d is out of range" % (n, name, key, meta[key]))
    return {"name": name, "meta": meta, "data": bytearray(), "line": n}


def blocks(lines):
    cur = None
    for n, raw in enumerate(lines, 1):
        line = raw.strip("\r\n").strip("\r")
        if line.startswith("UXT-BEGIN "):
            cur = begin(line.split(), n)
        elif line.startswith("UXT ") and cur is not None:
            try:
                cur["data"] += base64.b64decode(line[4:], validate=True)
            except ValueError:
                raise Bad("line %d: not base64" % n)
        elif line.startswith("UXT-END") and cur is not None:
            yield cur
            cur = None
    if cur is not None:
        raise Bad("block %s (line %d) has no UXT-END: the run died while streaming"
                  % (cur["name"], cur["line"]))


def convert(serial, outdir):
    written = []
    try:
        with open(serial, errors="replace") as f:
            lines = f.readlines()
    except OSError as e:
        raise Bad("%s: %s" % (serial, e.strerror or e))
    for b in blocks(lines):
        meta = b["meta"]
        data = bytes(b["data"])
        if meta["bytes"] != len(data):
            raise Bad("%s: %d bytes, the host sent %s" % (b["name"], len(data), meta["bytes"]))
        hdr = uxtrace.Header(flags=C.UXT_HF_OUTPUTS | C.UXT_HF_REAL,
                             event_count=meta["events"], mem_frames=meta["frames"])
        blob = hdr.pack() + data
        try:
            uxtrace.read_trace(blob)
        except uxtrace.TraceError as e:
            raise Bad("%s: %s" % (b["name"], e))
        path = os.path.join(outdir, b["name"] + ".uxt")
        try:
            with open(path, "wb") as f:
                f.write(blob)
        except OSError as e:
            raise Bad("cannot write %s: %s" % (path, e.strerror or e))
        written.append(path)
    return written


def main():
    if len(sys.argv) != 3:
        print("usage: serial2uxt.py SERIAL_LOG OUTDIR", file=sys.stderr)
        return 2
    try:
        os.makedirs(sys.argv[2], exist_ok=True)
    except OSError as e:
        print("serial2uxt: cannot make %s: %s" % (sys.argv[2], e.strerror or e), file=sys.stderr)
        return 2
    try:
        written = convert(sys.argv[1], sys.argv[2])
    except Bad as e:
        print("serial2uxt: %s" % e, file=sys.stderr)
        return 2
    if not written:
        print("serial2uxt: no trace in %s" % sys.argv[1], file=sys.stderr)
        return 2
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
