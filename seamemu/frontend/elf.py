# SPDX-License-Identifier: MIT
"""A small reader for the ELF64 relocatable objects GNU as writes: sections, symbols, RELA.

Spec: System V gABI "Object Files" (ELF header, section header, symbol table, relocation
entries); x86-64 psABI §4.4 (relocation types).  Only little-endian x86-64 ET_REL.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS = 1, 2, 3, 4, 8
SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY = 14, 15, 16
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
STT_SECTION, STT_FILE = 3, 4
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2

# x86-64 relocation types: name, field width, PC-relative, signed check.
R_X86_64: dict[int, tuple[str, int, bool, bool]] = {
    1: ("R_X86_64_64", 8, False, False),
    2: ("R_X86_64_PC32", 4, True, True),
    4: ("R_X86_64_PLT32", 4, True, True),
    10: ("R_X86_64_32", 4, False, False),
    11: ("R_X86_64_32S", 4, False, True),
    12: ("R_X86_64_16", 2, False, False),
    13: ("R_X86_64_PC16", 2, True, True),
    14: ("R_X86_64_8", 1, False, False),
    15: ("R_X86_64_PC8", 1, True, True),
    24: ("R_X86_64_PC64", 8, True, True),
}


class ElfError(ValueError):
    """The object file is not what this reader understands."""


@dataclass(frozen=True)
class ElfSection:
    index: int
    name: str
    type: int
    flags: int
    size: int
    align: int
    data: bytes
    link: int
    info: int

    @property
    def gas_flags(self) -> str:
        return "".join(c for c, bit in (("a", SHF_ALLOC), ("w", SHF_WRITE), ("x", SHF_EXECINSTR))
                       if self.flags & bit)


@dataclass(frozen=True)
class ElfSymbol:
    name: str
    value: int
    size: int
    type: int
    bind: int
    shndx: int


@dataclass(frozen=True)
class Relocation:
    section: int      # index of the section the relocation patches
    offset: int
    type: int
    symbol: int       # index into the symbol table
    addend: int


@dataclass(frozen=True)
class ElfObject:
    sections: tuple[ElfSection, ...]
    symbols: tuple[ElfSymbol, ...]
    relocations: tuple[Relocation, ...]


def read_elf(data: bytes) -> ElfObject:
    """Parse an x86-64 ELF64 relocatable object."""
    if data[:4] != b"\x7fELF" or len(data) < 64:
        raise ElfError("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise ElfError("not a little-endian ELF64 file")
    (e_type, e_machine, _v, _entry, _phoff, shoff, _flags, _ehsize, _phentsize, _phnum,
     shentsize, shnum, shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", data, 16)
    if e_type != 1 or e_machine != 62:
        raise ElfError("not an x86-64 relocatable object")
    raw = []
    for i in range(shnum):
        (name, typ, flags, _addr, off, size, link, info, align, _entsize) = struct.unpack_from(
            "<IIQQQQIIQQ", data, shoff + i * shentsize)
        body = b"" if typ == SHT_NOBITS else data[off:off + size]
        raw.append((name, typ, flags, size, align, body, link, info))
    shstr = raw[shstrndx][5] if shstrndx < len(raw) else b""
    sections = tuple(
        ElfSection(i, _cstr(shstr, n), t, f, s, a, b, lk, inf)
        for i, (n, t, f, s, a, b, lk, inf) in enumerate(raw)
    )
    symbols: tuple[ElfSymbol, ...] = ()
    for sec in sections:
        if sec.type == SHT_SYMTAB:
            strtab = sections[sec.link].data
            symbols = tuple(
                _symbol(strtab, sec.data, k) for k in range(0, len(sec.data), 24)
            )
    relocs = []
    for sec in sections:
        if sec.type == SHT_RELA:
            for k in range(0, len(sec.data), 24):
                off, info, addend = struct.unpack_from("<QQq", sec.data, k)
                relocs.append(Relocation(sec.info, off, info & 0xFFFFFFFF, info >> 32, addend))
    return ElfObject(sections, symbols, tuple(relocs))


def _symbol(strtab: bytes, table: bytes, k: int) -> ElfSymbol:
    name, info, _other, shndx, value, size = struct.unpack_from("<IBBHQQ", table, k)
    return ElfSymbol(_cstr(strtab, name), value, size, info & 0xF, info >> 4, shndx)


def _cstr(blob: bytes, off: int) -> str:
    end = blob.find(b"\0", off)
    return blob[off:end if end >= 0 else len(blob)].decode("latin-1")


__all__ = [
    "ElfError",
    "ElfObject",
    "ElfSection",
    "ElfSymbol",
    "R_X86_64",
    "Relocation",
    "SHF_ALLOC",
    "SHF_EXECINSTR",
    "SHF_WRITE",
    "SHN_ABS",
    "SHN_COMMON",
    "SHN_UNDEF",
    "SHT_NOBITS",
    "SHT_PROGBITS",
    "SHT_RELA",
    "STB_GLOBAL",
    "STB_LOCAL",
    "STB_WEAK",
    "STT_FILE",
    "STT_SECTION",
    "read_elf",
]
