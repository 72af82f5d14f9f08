#!/usr/bin/python3
"""Finish the hypervisor image (hv/arch/vmx/hv_image.h): check the header
the linker wrote, pad the file to its file_size and fill in the checksum.

    mkhvimage.py RAW OUT
"""
import struct
import sys

HDR = struct.Struct("<8sIIQQQII16x")
MAGIC = b"uXenHVI\0"


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mkhvimage.py RAW OUT")
    raw = bytearray(open(sys.argv[1], "rb").read())
    magic, ver, hsize, fsize, msize, entry, _, _ = HDR.unpack_from(raw)
    if magic != MAGIC or hsize != HDR.size or ver != 1:
        sys.exit("mkhvimage: %s: bad header" % sys.argv[1])
    if len(raw) > fsize or not fsize <= msize or entry >= fsize:
        sys.exit("mkhvimage: %s: %d bytes, header says file %d, mem %d, entry %d"
                 % (sys.argv[1], len(raw), fsize, msize, entry))
    raw += b"\0" * (fsize - len(raw))
    struct.pack_into("<I", raw, 40, fnv1a(raw[hsize:]))
    open(sys.argv[2], "wb").write(raw)


if __name__ == "__main__":
    main()
