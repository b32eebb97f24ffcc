#!/usr/bin/env python3
"""Copies an ELF64 file with every byte of its .eh_frame section set to 0xff.

    corrupt_eh_frame.py IN OUT
Each CIE and FDE length then reads 0xffffffff (a 64-bit length follows, itself garbage); the
.eh_frame_hdr search table still points into the section. The code is untouched.
"""
import struct
import sys


def main():
    src, dst = sys.argv[1:]
    data = bytearray(open(src, "rb").read())
    if data[:4] != b"\x7fELF" or data[4] != 2:
        sys.exit(f"{src}: not an ELF64 file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    sections = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = sections[shstrndx]
    for name, _, _, _, offset, size in sections:
        start = strtab[4] + name
        if data[start:data.index(b"\0", start)] == b".eh_frame":
            data[offset:offset + size] = b"\xff" * size
            open(dst, "wb").write(data)
            return
    sys.exit(f"{src}: no .eh_frame section")


main()
