#!/usr/bin/python3
"""A fuzz_heapread seed from a live Go process (standard library only; reads
/proc/<pid>/mem, so it needs ptrace access to the process: root, or the same user with
ptrace_scope 0).

  heap_seed.py BIN OUT PCS [MAX_BUCKETS]

Runs BIN (tests/go/heapgen, a non-PIE build with .symtab), waits until it has written
its own heap profile (it is then idle), and walks runtime.mbuckets as podprof does.
The first MAX_BUCKETS buckets (default 200) are laid out one after the other in a
compact image at IMAGE_BASE, their allnext pointers rewritten, their stacks and
memRecords as read; MemProfileRate, mProfCycle and the list head come first. OUT gets
the fuzz_heapread input, PCS the return PCs of the stacks (for goseeds.py pclntab, so
that the seed's function table symbolizes them).
"""
import os
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import goseeds  # noqa: E402

IMAGE_BASE = 0xC000100000  # where Go's heap arenas start on amd64
HEADER = 48


def main(argv):
    binary, out, pcs_out = argv[0], argv[1], argv[2]
    max_buckets = int(argv[3]) if len(argv) > 3 else 200
    elf = goseeds.Elf(binary)
    _, minor = goseeds.go_version(elf)
    addr = {n: elf.symbol(n) for n in ("runtime.mbuckets", "runtime.MemProfileRate",
                                      "runtime.mProfCycle")}
    record = (16 if minor >= 27 else 32) * 4
    with tempfile.TemporaryDirectory() as tmp:
        prof = os.path.join(tmp, "heap.pb.gz")
        proc = subprocess.Popen([binary, "-profile", prof, "-ready", os.path.join(tmp, "ready")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while not os.path.exists(prof):
                if time.time() > deadline or proc.poll() is not None:
                    raise SystemExit("heap_seed.py: %s did not write its profile" % binary)
                time.sleep(0.05)
            with open("/proc/%d/mem" % proc.pid, "rb", buffering=0) as mem:
                def read(a, n):
                    mem.seek(a)
                    return mem.read(n)
                rate = read(addr["runtime.MemProfileRate"], 8)
                cycle = read(addr["runtime.mProfCycle"], 4)
                head = struct.unpack("<Q", read(addr["runtime.mbuckets"], 8))[0]
                buckets = []
                a = head
                while a and len(buckets) < max_buckets:
                    hdr = list(struct.unpack("<6Q", read(a, HEADER)))
                    nstk = hdr[5]
                    rest = read(a + HEADER, nstk * 8 + record)
                    buckets.append((hdr, rest))
                    a = hdr[1]
        finally:
            proc.kill()
            proc.wait()
    image = bytearray(rate + cycle + b"\0" * 4 + b"\0" * 8)
    pos, pcs = [], []
    at = len(image)
    for hdr, rest in buckets:
        pos.append(IMAGE_BASE + at)
        at += HEADER + len(rest)
    for k, (hdr, rest) in enumerate(buckets):
        hdr[0] = 0  # the hash chain: not walked
        hdr[1] = pos[k + 1] if k + 1 < len(buckets) else 0
        image += struct.pack("<6Q", *hdr) + rest
        pcs += struct.unpack_from("<%dQ" % hdr[5], rest)
    struct.pack_into("<Q", image, 16, pos[0] if pos else 0)
    header = struct.pack("<BBHIQQQQQ", minor, 0, 0, 0, IMAGE_BASE, IMAGE_BASE, IMAGE_BASE + 8,
                         IMAGE_BASE + 16, 0)
    open(out, "wb").write(header + bytes(image))
    open(pcs_out, "w").write("".join("%x\n" % pc for pc in sorted(set(pcs))))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
