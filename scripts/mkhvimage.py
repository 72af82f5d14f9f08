#!/usr/bin/python3
"""Finish the hypervisor image (hv/arch/vmx/hv_image.h): check the header
the linker wrote, pad the file to its file_size and fill in the checksum.

    mkhvimage.py RAW OUT
"""
import struct
import sys

HDR = struct.Struct("<8sIIQQQII16x")
MAGIC = b"uXenHVI\0"
VERSION = 3  # HV_IMAGE_VERSION in hv_image.h, LONG() in image.ld: the boot tests fail if they differ


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def fail(msg):
    sys.stderr.write("mkhvimage: %s\n" % msg)
    return 2


def main():
    if len(sys.argv) != 3:
        return fail("usage: mkhvimage.py RAW OUT")
    try:
        with open(sys.argv[1], "rb") as f:
            raw = bytearray(f.read())
    except OSError as e:
        return fail("%s: %s" % (sys.argv[1], e.strerror or e))
    if len(raw) < HDR.size:
        return fail("%s: %d bytes, shorter than the %d-byte header" % (sys.argv[1], len(raw), HDR.size))
    magic, ver, hsize, fsize, msize, entry, _, _ = HDR.unpack_from(raw)
    if magic != MAGIC or hsize != HDR.size or ver != VERSION:
        return fail("%s: bad header" % sys.argv[1])
    if len(raw) > fsize or not fsize <= msize or entry >= fsize or fsize > 1 << 30:
        return fail("%s: %d bytes, header says file %d, mem %d, entry %d"
                    % (sys.argv[1], len(raw), fsize, msize, entry))
    raw += b"\0" * (fsize - len(raw))
    struct.pack_into("<I", raw, 40, fnv1a(raw[hsize:]))
    try:
        with open(sys.argv[2], "wb") as f:
            f.write(raw)
    except OSError as e:
        return fail("cannot write %s: %s" % (sys.argv[2], e.strerror or e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
