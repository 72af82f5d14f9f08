#!/usr/bin/python3
"""Edit µ-Xen traces for tests and experiments.

  tracetool.py flip-output IN OUT FIELD [all]
      change the value of the first recorded VMCS write of FIELD (a name
      from hv/include/hv/tables/vmcs_fields.def), or of every one with
      "all": the replay must then report a divergence.
  tracetool.py drop-event IN OUT NAME
      remove the first event whose exit reason or hypercall is NAME, e.g.
      DOMAIN_UNPAUSE: what follows is then out of order.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uxen_consts as C  # noqa: E402
import uxtrace  # noqa: E402


def by_name(table, name):
    for k, v in table.items():
        if (v if isinstance(v, str) else v.name) == name:
            return k
    sys.stderr.write("tracetool: unknown name %s\n" % name)
    raise SystemExit(2)


def flip_output(trace, field, every):
    enc = by_name(C.VMCS_FIELDS, field)
    flipped = 0
    for ev in trace.events:
        for i, it in enumerate(ev.items):
            if it.tag == C.UXT_IT_VMCS_OUT and struct.unpack_from("<I", it.data)[0] == enc:
                value = struct.unpack_from("<Q", it.data, 4)[0] ^ 0x40
                ev.items[i] = uxtrace.Item.vmcs(it.tag, enc, value)
                flipped += 1
                if not every:
                    return flipped
    return flipped


def drop_event(trace, name):
    for i, ev in enumerate(trace.events):
        table = C.EXIT_REASONS if ev.kind == C.UXT_EV_EXIT else C.HYPERCALLS
        if ev.kind != C.UXT_EV_MARK and ev.arg in table:
            entry = table[ev.arg]
            if (entry if isinstance(entry, str) else entry.name) == name:
                del trace.events[i]
                return 1
    return 0


def usage_ok(argv):
    """flip-output IN OUT FIELD [all] | drop-event IN OUT NAME, exactly."""
    if len(argv) < 5:
        return False
    if argv[1] == "flip-output":
        return len(argv) == 5 or (len(argv) == 6 and argv[5] == "all")
    return argv[1] == "drop-event" and len(argv) == 5


def main(argv):
    if not usage_ok(argv):
        sys.stderr.write(__doc__)
        return 2
    try:
        trace = uxtrace.read_trace(argv[2])
    except (OSError, uxtrace.TraceError) as e:
        sys.stderr.write("tracetool: %s: %s\n" % (argv[2], e))
        return 2
    if argv[1] == "flip-output":
        n = flip_output(trace, argv[4], len(argv) > 5 and argv[5] == "all")
    else:
        n = drop_event(trace, argv[4])
    if n == 0:
        sys.stderr.write("tracetool: nothing to change in %s\n" % argv[2])
        return 1
    try:
        with open(argv[3], "wb") as f:
            trace.write(f)
    except OSError as e:
        sys.stderr.write("tracetool: cannot write %s: %s\n" % (argv[3], e.strerror or e))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
