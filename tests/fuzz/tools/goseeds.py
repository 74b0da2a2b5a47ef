#!/usr/bin/python3
"""Seed inputs for podprof's fuzz targets, cut out of real Go binaries (standard library
only). A real binary is a few MB; the seeds keep only what podprof reads of it, so the
corpora stay small and the fuzzers spend their time on the tables, not on padding.

  goseeds.py buildinfo BIN OUT      the .go.buildinfo section (fuzz_buildinfo)
  goseeds.py oldbuildinfo BIN OUT   the same version in the pre-1.18 layout: pointers to a
                                    Go string, here offsets from 0x400000 into the seed
  goseeds.py pclntab BIN OUT [PCS]  a reduced .gopclntab with its module data and inline
                                    trees, in fuzz_pclntab's input form (PCS: a file of
                                    hex return PCs whose functions are kept)
  goseeds.py elf BIN OUT [--strip]  a small ELF file with the real headers, .go.buildinfo,
                                    the Go build id note, the module data, a reduced
                                    .gopclntab, the code of the functions podprof scans in
                                    stripped binaries, and (unless --strip) a reduced
                                    .symtab (fuzz_elf)

The reduced function table keeps a chosen set of functions (the runtime's profiling
functions, main.*, the functions of PCS) and the function after each, so that every
kept function ends where it really ends; its names, files, pc-value tables (pcfile,
pcln and the inline tree index) and inline trees are copied and renumbered, the other
pc-value tables and funcdata dropped. The result is a valid table of the same format
(Go 1.18-1.19 or 1.20+), with the same text addresses.
"""
import struct
import sys

MAGIC_118 = 0xFFFFFFF0
MAGIC_120 = 0xFFFFFFF1
PCDATA_INLTREE = 2
FUNCDATA_INLTREE = 3
KEEP_FUNCS = [
    "runtime.mProf_FlushLocked", "runtime.profilealloc", "runtime.mProf_Flush",
    "runtime.mProf_Malloc", "runtime.mallocgc", "runtime.main", "runtime.goexit",
    "runtime.MemProfile", "runtime/pprof.writeHeapProto",
]
SCANNED = ["runtime.mProf_FlushLocked", "runtime.profilealloc", "runtime.mProf_Flush"]


# ---- ELF ----------------------------------------------------------------------------

class Elf:
    def __init__(self, path):
        self.data = open(path, "rb").read()
        d = self.data
        if d[:4] != b"\x7fELF" or d[4] != 2 or d[5] != 1:
            raise SystemExit("%s: not a 64-bit little-endian ELF file" % path)
        (self.type, self.machine, _, self.entry, phoff, shoff, _, _, phentsize, phnum,
         shentsize, shnum, shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", d, 16)
        self.segments = []
        for i in range(phnum):
            (ptype, flags, off, vaddr, _, filesz, memsz, _) = struct.unpack_from(
                "<IIQQQQQQ", d, phoff + i * phentsize)
            if ptype == 1:  # PT_LOAD
                self.segments.append(dict(flags=flags, offset=off, vaddr=vaddr,
                                          filesz=filesz, memsz=memsz))
        raw = []
        for i in range(shnum):
            raw.append(struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize))
        strtab = raw[shstrndx]
        self.sections = []
        for (name, stype, flags, addr, off, size, link, info, align, entsize) in raw:
            n = d[strtab[4] + name:d.index(b"\0", strtab[4] + name)].decode()
            self.sections.append(dict(name=n, type=stype, flags=flags, addr=addr,
                                      offset=off, size=size, link=link, entsize=entsize))

    def section(self, name):
        for s in self.sections:
            if s["name"] == name:
                return s
        return None

    def section_at(self, va):
        for s in self.sections:
            if s["addr"] and s["addr"] <= va < s["addr"] + s["size"]:
                return s
        return None

    def bytes_of(self, s):
        return self.data[s["offset"]:s["offset"] + s["size"]]

    def read_va(self, va, n):
        for g in self.segments:
            if g["vaddr"] <= va and va + n <= g["vaddr"] + g["filesz"]:
                off = g["offset"] + va - g["vaddr"]
                return self.data[off:off + n]
        raise KeyError("0x%x not file-backed" % va)

    def symbols(self):
        st = self.section(".symtab")
        if not st:
            return []
        strtab = self.sections[st["link"]]
        out = []
        for off in range(st["offset"], st["offset"] + st["size"], 24):
            name, info, other, shndx, value, size = struct.unpack_from("<IBBHQQ", self.data, off)
            s = strtab["offset"] + name
            out.append((self.data[s:self.data.index(b"\0", s)].decode(errors="replace"),
                        info, other, shndx, value, size))
        return out

    def symbol(self, name):
        for s in self.symbols():
            if s[0] == name:
                return s[4]
        return None


def write_elf(machine, etype, sections, segments):
    """sections: dicts name/type/flags/addr/data (bytes or None)/size/link/entsize;
    segments: dicts vaddr/memsz/flags/section (index or -1). The layout of the fuzz
    targets' builder (tests/fuzz/fuzz_support.c)."""
    out = bytearray(64 + 56 * len(segments))
    offsets = []
    for s in sections:
        out += b"\0" * (-len(out) % 8)
        offsets.append(len(out))
        if s["data"] is not None:
            out += s["data"]
    names = bytearray(b"\0")
    name_off = []
    for s in sections:
        name_off.append(len(names))
        names += s["name"].encode() + b"\0"
    shstr_name = len(names)
    names += b".shstrtab\0"
    shstr_off = len(out)
    out += names
    out += b"\0" * (-len(out) % 8)
    shoff = len(out)
    out += b"\0" * 64
    for i, s in enumerate(sections):
        size = len(s["data"]) if s["data"] is not None else s.get("size", 0)
        out += struct.pack("<IIQQQQIIQQ", name_off[i], s["type"], s["flags"], s["addr"],
                           offsets[i], size, s.get("link", 0), s.get("info", 0), 8,
                           s.get("entsize", 0))
    out += struct.pack("<IIQQQQIIQQ", shstr_name, 3, 0, 0, shstr_off, len(names), 0, 0, 1, 0)
    shnum = len(sections) + 2
    struct.pack_into("<4sBBBB8xHHIQQQIHHHHHH", out, 0, b"\x7fELF", 2, 1, 1, 0, etype, machine,
                     1, 0, 64 if segments else 0, shoff, 0, 64, 56, len(segments), 64, shnum,
                     shnum - 1)
    for i, g in enumerate(segments):
        off = filesz = 0
        if g["section"] >= 0 and sections[g["section"]]["data"] is not None:
            off = offsets[g["section"]]
            filesz = len(sections[g["section"]]["data"])
        struct.pack_into("<IIQQQQQQ", out, 64 + 56 * i, 1, g["flags"], off, g["vaddr"],
                         g["vaddr"], filesz, max(filesz, g["memsz"]), 8)
    return bytes(out)


# ---- .go.buildinfo ------------------------------------------------------------------

def uvarint(b, pos):
    v = shift = 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7F) << shift
        if not c & 0x80:
            return v, pos
        shift += 7


def go_version(elf):
    bi = elf.bytes_of(elf.section(".go.buildinfo"))
    n, pos = uvarint(bi, 32)
    v = bi[pos:pos + n].decode()
    return v, int(v[2:].split(".")[1].split("rc")[0].split("-")[0])


# ---- .gopclntab ---------------------------------------------------------------------

def pcvalue_len(tab, off):
    """Bytes of the pc-value table at off, up to and including its terminator."""
    pos, first = off, True
    while True:
        uvd, pos = uvarint(tab, pos)
        if uvd == 0 and not first:
            return pos - off
        first = False
        _, pos = uvarint(tab, pos)


def pcvalue_values(tab, off):
    pos, first, v, out = off, True, -1, []
    while True:
        uvd, pos = uvarint(tab, pos)
        if uvd == 0 and not first:
            return out
        first = False
        v += -(uvd >> 1) - 1 if uvd & 1 else uvd >> 1
        _, pos = uvarint(tab, pos)
        out.append(v)


def cstring(b, off):
    return b[off:b.index(b"\0", off) + 1]


class Pclntab:
    def __init__(self, elf, minor):
        s = elf.section(".gopclntab") or elf.section(".data.rel.ro.gopclntab")
        self.addr = s["addr"]
        self.tab = t = elf.bytes_of(s)
        self.magic = struct.unpack_from("<I", t, 0)[0]
        if self.magic not in (MAGIC_118, MAGIC_120):
            raise SystemExit("unknown pclntab magic 0x%x" % self.magic)
        self.quantum = t[6]
        (self.nfunc, self.nfiles, self.text_start, self.funcname, self.cu, self.filetab,
         self.pctab, self.pcln) = struct.unpack_from("<8Q", t, 8)
        self.func_size = 44 if self.magic == MAGIC_120 else 40
        self.inl_size = 16 if minor >= 20 else 20
        self.inl_name_at = 4 if minor >= 20 else 12
        md = elf.symbol("runtime.firstmoduledata")
        self.moduledata_va = md
        self.text = self.gofunc = None
        if md is not None:
            self.text = struct.unpack("<Q", elf.read_va(md + 176, 8))[0]
            gofunc_off = 344 if minor >= 27 else 320 if minor >= 20 else 304
            self.gofunc = struct.unpack("<Q", elf.read_va(md + gofunc_off, 8))[0]
        if not self.text:
            self.text = self.text_start
        self.elf = elf

    def ftab(self, i):
        return struct.unpack_from("<II", self.tab, self.pcln + 8 * i)

    def func(self, i):
        _, funcoff = self.ftab(i)
        off = self.pcln + funcoff
        f = dict(off=off, raw=bytearray(self.tab[off:off + self.func_size]))
        (f["entryoff"], f["nameoff"], _, _, f["pcsp"], f["pcfile"], f["pcln"], f["npcdata"],
         f["cuoff"]) = struct.unpack_from("<IiiIIIIII", self.tab, off)
        f["nfuncdata"] = self.tab[off + self.func_size - 1]
        base = off + self.func_size
        f["pcdata"] = list(struct.unpack_from("<%dI" % f["npcdata"], self.tab, base))
        f["funcdata"] = list(struct.unpack_from("<%dI" % f["nfuncdata"], self.tab,
                                                base + 4 * f["npcdata"]))
        return f

    def name(self, nameoff):
        return cstring(self.tab, self.funcname + nameoff)[:-1].decode(errors="replace")

    def find(self, name):
        for i in range(self.nfunc):
            if self.name(self.func(i)["nameoff"]) == name:
                return i
        return None

    def index_of_pc(self, pc):
        rel = pc - self.text
        lo, hi = 0, self.nfunc
        if not self.ftab(0)[0] <= rel < self.ftab(self.nfunc)[0]:
            return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.ftab(mid)[0] <= rel:
                lo = mid
            else:
                hi = mid
        return lo

    def reduce(self, keep):
        """A new table with the functions of indexes keep (and the one after each);
        returns (table, inline tree bytes for gofunc)."""
        idx = set()
        for i in keep:
            idx.add(i)
            if i + 1 < self.nfunc:
                idx.add(i + 1)
        idx = sorted(idx)
        names, name_map = bytearray(), {}
        files, file_map = bytearray(), {}
        cutab = []
        pctab = bytearray(b"\0")  # offset 0 means "no table"
        gofunc = bytearray()
        t = self.tab

        def new_name(old):
            if old not in name_map:
                name_map[old] = len(names)
                names.extend(cstring(t, self.funcname + old))
            return name_map[old]

        def copy_pcvalue(old):
            if not old:
                return 0
            n = pcvalue_len(t, self.pctab + old)
            off = len(pctab)
            pctab.extend(t[self.pctab + old:self.pctab + old + n])
            return off

        records = []
        for i in idx:
            f = self.func(i)
            raw = f["raw"]
            struct.pack_into("<i", raw, 4, new_name(f["nameoff"]))
            # the files of this function: a fresh compilation unit of its own
            fnos = [v for v in pcvalue_values(t, self.pctab + f["pcfile"]) if v >= 0] \
                if f["pcfile"] else []
            cu = len(cutab)
            for fno in range((max(fnos) + 1) if fnos else 0):
                old = struct.unpack_from("<I", t, self.cu + 4 * (f["cuoff"] + fno))[0]
                if fno not in fnos or old == 0xFFFFFFFF:
                    cutab.append(0xFFFFFFFF)
                    continue
                if old not in file_map:
                    file_map[old] = len(files)
                    files.extend(cstring(t, self.filetab + old))
                cutab.append(file_map[old])
            struct.pack_into("<I", raw, 32, cu)
            struct.pack_into("<I", raw, 16, 0)  # pcsp: not read by podprof
            struct.pack_into("<I", raw, 20, copy_pcvalue(f["pcfile"]))
            struct.pack_into("<I", raw, 24, copy_pcvalue(f["pcln"]))
            pcdata = [copy_pcvalue(v) if k == PCDATA_INLTREE else 0
                      for k, v in enumerate(f["pcdata"])]
            funcdata = [0xFFFFFFFF] * f["nfuncdata"]
            if (f["nfuncdata"] > FUNCDATA_INLTREE and f["funcdata"][FUNCDATA_INLTREE] != 0xFFFFFFFF
                    and self.gofunc and f["npcdata"] > PCDATA_INLTREE
                    and f["pcdata"][PCDATA_INLTREE]):
                count = max(pcvalue_values(t, self.pctab + f["pcdata"][PCDATA_INLTREE])) + 1
                tree = bytearray(self.elf.read_va(
                    self.gofunc + f["funcdata"][FUNCDATA_INLTREE], count * self.inl_size))
                for k in range(count):
                    at = k * self.inl_size + self.inl_name_at
                    old = struct.unpack_from("<i", tree, at)[0]
                    struct.pack_into("<i", tree, at, new_name(old))
                gofunc.extend(b"\0" * (-len(gofunc) % 8))
                funcdata[FUNCDATA_INLTREE] = len(gofunc)
                gofunc.extend(tree)
            records.append((f["entryoff"], bytes(raw) + struct.pack(
                "<%dI" % len(pcdata), *pcdata) + struct.pack("<%dI" % len(funcdata), *funcdata)))
        end = self.ftab(idx[-1] + 1)[0]

        # layout: header, names, cutab, files, pctab, functab + _func records
        out = bytearray(72)
        def place(blob):
            out.extend(b"\0" * (-len(out) % 8))
            off = len(out)
            out.extend(blob)
            return off
        funcname_off = place(names)
        cu_off = place(struct.pack("<%dI" % len(cutab), *cutab))
        filetab_off = place(files)
        pctab_off = place(pctab)
        functab = bytearray(8 * (len(records) + 1))
        body = bytearray()
        for k, (entry, rec) in enumerate(records):
            body.extend(b"\0" * (-(len(functab) + len(body)) % 4))
            struct.pack_into("<II", functab, 8 * k, entry, len(functab) + len(body))
            body.extend(rec)
        struct.pack_into("<II", functab, 8 * len(records), end, 0)
        pcln_off = place(functab + body)
        struct.pack_into("<IBBBB8Q", out, 0, self.magic, 0, 0, self.quantum, 8, len(records),
                         len(file_map), self.text_start, funcname_off, cu_off, filetab_off,
                         pctab_off, pcln_off)
        return bytes(out), bytes(gofunc)


def keep_set(p, pcs=()):
    keep = set()
    for n in KEEP_FUNCS:
        i = p.find(n)
        if i is not None:
            keep.add(i)
    for i in range(p.nfunc):
        if p.name(p.func(i)["nameoff"]).startswith("main."):
            keep.add(i)
    for pc in pcs:
        i = p.index_of_pc(pc - 1)
        if i is not None:
            keep.add(i)
    return sorted(keep)


def pclntab_seed(binary, out, pcs_file=None):
    elf = Elf(binary)
    _, minor = go_version(elf)
    p = Pclntab(elf, minor)
    pcs = []
    if pcs_file:
        pcs = [int(x, 16) for x in open(pcs_file).read().split()]
    table, trees = p.reduce(keep_set(p, pcs))
    # the PCs to look up: the given return PCs, else entries of kept functions + 1
    look = [pc - p.text for pc in pcs[:16]]
    if not look:
        look = [p.ftab(i)[0] + 1 for i in keep_set(p)[:16]]
    look += [0] * (16 - len(look))
    hdr = struct.pack("<BBHIQQQ16I", minor, 1, 0, len(table), p.text, p.gofunc or 0, p.addr,
                      *look)
    open(out, "wb").write(hdr + table + trees)


# ---- ELF seeds ----------------------------------------------------------------------

def elf_seed(binary, out, strip=False):
    elf = Elf(binary)
    _, minor = go_version(elf)
    p = Pclntab(elf, minor)
    table, trees = p.reduce(keep_set(p))
    secs, segs = [], []

    def add(name, stype, flags, addr, data, seg_flags=None, link=0, entsize=0):
        secs.append(dict(name=name, type=stype, flags=flags, addr=addr, data=data, link=link,
                         entsize=entsize))
        if seg_flags is not None:
            segs.append(dict(vaddr=addr, memsz=0, flags=seg_flags, section=len(secs) - 1))
        return len(secs)  # 1-based index (0 is the null section)

    for name in (".note.go.buildid", ".note.gnu.build-id"):
        s = elf.section(name)
        if s:
            add(name, s["type"], s["flags"], s["addr"], elf.bytes_of(s))
    # the code of the functions the stripped-binary scan reads
    for fn in SCANNED:
        i = p.find(fn)
        if i is None:
            continue
        start, end = p.text + p.ftab(i)[0], p.text + p.ftab(i + 1)[0]
        add(".text." + fn, 1, 6, start, elf.read_va(start, end - start), seg_flags=5)
    add(".gopclntab", 1, 2, p.addr, table, seg_flags=4)
    if p.gofunc and trees:
        add(".go.func", 1, 2, p.gofunc, trees, seg_flags=4)
    bi = elf.section(".go.buildinfo")
    add(".go.buildinfo", bi["type"], bi["flags"], bi["addr"], elf.bytes_of(bi), seg_flags=6)
    if p.moduledata_va:
        s = elf.section_at(p.moduledata_va)
        add(s["name"], 1, 3, p.moduledata_va, elf.read_va(p.moduledata_va, 512), seg_flags=6)
    # runtime.MemProfileRate's initial value (podprof checks the address it found holds it;
    # in .noptrbss before go1.21, with no bytes in the file)
    rate = elf.symbol("runtime.MemProfileRate")
    try:
        add(".noptrdata.MemProfileRate", 1, 3, rate, elf.read_va(rate, 8), seg_flags=6)
    except KeyError:
        pass
    if not strip:
        wanted = {"runtime.mbuckets", "runtime.MemProfileRate", "runtime.mProfCycle",
                  "runtime.firstmoduledata"}
        syms = elf.symbols()
        chosen = [s for s in syms[:40]] + [s for s in syms[40:] if s[0] in wanted or
                                             s[0].startswith("runtime.mProf")]
        strtab, entries = bytearray(b"\0"), bytearray()
        for (name, info, other, shndx, value, size) in chosen:
            off = len(strtab) if name else 0
            if name:
                strtab += name.encode() + b"\0"
            entries += struct.pack("<IBBHQQ", off, info, other, shndx, value, size)
        strtab_idx = len(secs) + 2  # after .symtab
        add(".symtab", 2, 0, 0, bytes(entries), link=strtab_idx, entsize=24)
        add(".strtab", 3, 0, 0, bytes(strtab))
    # the real loadable segments, without their bytes: addresses, sizes, permissions
    for g in elf.segments:
        segs.append(dict(vaddr=g["vaddr"], memsz=g["memsz"], flags=g["flags"], section=-1))
    open(out, "wb").write(write_elf(elf.machine, elf.type, secs, segs))


# ---- buildinfo seeds ----------------------------------------------------------------

def buildinfo_seed(binary, out):
    elf = Elf(binary)
    open(out, "wb").write(elf.bytes_of(elf.section(".go.buildinfo")))


def old_buildinfo_seed(binary, out):
    """The pre-1.18 layout: two pointers after the 16-byte magic + sizes, each to a Go
    string header {ptr, len}; the fuzz target resolves addresses as 0x400000 + offset."""
    version, _ = go_version(Elf(binary))
    base = 0x400000
    hdr = bytearray(b"\xff Go buildinf:" + bytes([8, 0]))
    strings = 64
    v = version.encode()
    mod = b"path\texample.com/heapgen\n"
    hdr += struct.pack("<QQ", base + 32, base + 48)
    hdr += struct.pack("<QQ", base + strings, len(v))
    hdr += struct.pack("<QQ", base + strings + len(v), len(mod))
    hdr += b"\0" * (strings - len(hdr))
    open(out, "wb").write(bytes(hdr) + v + mod)


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    cmd, binary, out = argv[0], argv[1], argv[2]
    if cmd == "buildinfo":
        buildinfo_seed(binary, out)
    elif cmd == "oldbuildinfo":
        old_buildinfo_seed(binary, out)
    elif cmd == "pclntab":
        pclntab_seed(binary, out, argv[3] if len(argv) > 3 else None)
    elif cmd == "elf":
        elf_seed(binary, out, strip="--strip" in argv)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
