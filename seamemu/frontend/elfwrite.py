# SPDX-License-Identifier: MIT
"""An Image as an ELF64 executable for tools (objdump, addr2line, gdb): what seamemu loads.

Every section at the address the machine loads it (a PT_LOAD segment each), the symbol table
(locals first, as the format requires; seamemu's `.L` and numeric labels left out, as GNU as
leaves them out), and the DWARF line table of `dwarfwrite`.  Nothing here runs: the file
describes the program to debuggers, and `seamemu run --gdb` serves the running one.
Spec: System V gABI "ELF Header", "Sections", "Symbol Table", "Program Header"; x86-64 psABI
§4.1 (EM_X86_64, ELFCLASS64, little-endian).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from ..image import Image, Section
from .dwarfwrite import debug_sections, functions

_EHDR, _PHDR, _SHDR, _SYM = 64, 56, 64, 24
_ET_EXEC, _EM_X86_64 = 2, 62
_PT_LOAD = 1
_PF_X, _PF_W, _PF_R = 1, 2, 4
_SHT_PROGBITS, _SHT_SYMTAB, _SHT_STRTAB = 1, 2, 3
_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR = 1, 2, 4
_SHN_ABS = 0xFFF1
_STB_LOCAL, _STB_GLOBAL = 0, 1
_STT = {"notype": 0, "object": 1, "func": 2}
_PAGE = 0x1000


@dataclass(frozen=True)
class ElfSummary:
    sections: int
    symbols: int
    line_rows: int


class _Strings:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self._at: dict[str, int] = {"": 0}

    def add(self, text: str) -> int:
        if text not in self._at:
            self._at[text] = len(self.data)
            self.data += text.encode("utf-8", errors="replace") + b"\0"
        return self._at[text]


def _listed(name: str) -> bool:
    """Labels GNU as would keep in an object's symbol table (not .L or numeric locals)."""
    return not (name.startswith(".L") or name[:1].isdigit() or "\x02" in name or "\x01" in name)


def _section_index(image: Image, address: int) -> int:
    for k, s in enumerate(image.sections, 1):
        if s.address <= address < s.end:
            return k
    for k, s in enumerate(image.sections, 1):
        if address == s.end:                 # a label at a section's end belongs to it
            return k
    return _SHN_ABS


def _symbols(image: Image, strtab: _Strings) -> tuple[bytes, int, int]:
    """The symbol table, the index of its first global, and the number of symbols."""
    rows: list[tuple[int, str, str, int]] = []    # (bind, written name, image name, address)
    for name, address in image.symbols.items():
        if not _listed(name):
            continue
        bind = _STB_GLOBAL if name in image.globals else _STB_LOCAL
        # seamemu names a local that two files define `name@file`; in ELF both keep `name`.
        written = name if bind == _STB_GLOBAL else name.split("@", 1)[0]
        rows.append((bind, written, name, address))
    rows.sort(key=lambda r: (r[0], r[3], r[1]))
    funcs = {f.name: f.size for f in functions(image)}
    table = bytearray(_SYM)                        # entry 0: the null symbol
    for bind, written, name, address in rows:
        info = image.symbol_info.get(name)
        kind = _STT.get(info.kind, 0) if info is not None else 0
        size = info.size if info is not None else 0
        if name in funcs:                          # a function: typed and sized for debuggers
            kind, size = _STT["func"], funcs[name]
        table += struct.pack("<IBBHQQ", strtab.add(written), bind << 4 | kind, 0,
                             _section_index(image, address), address, size)
    first_global = 1 + sum(1 for r in rows if r[0] == _STB_LOCAL)
    return bytes(table), first_global, len(rows)


def _flags(section: Section) -> tuple[int, int]:
    shf = _SHF_ALLOC | (_SHF_WRITE if "w" in section.flags else 0) \
        | (_SHF_EXECINSTR if section.executable else 0)
    pf = _PF_R | (_PF_W if "w" in section.flags else 0) | (_PF_X if section.executable else 0)
    return shf, pf


def elf_bytes(image: Image, comp_dir: str | None = None) -> tuple[bytes, ElfSummary]:
    """The ELF64 executable describing `image`; `comp_dir` resolves relative source names."""
    comp_dir = comp_dir or os.getcwd()
    shstr, strtab = _Strings(), _Strings()
    symtab, first_global, nsyms = _symbols(image, strtab)
    debug = debug_sections(image, comp_dir)
    phnum = len(image.sections)
    out = bytearray(_EHDR + _PHDR * phnum)
    headers: list[bytes] = [bytes(_SHDR)]
    phdrs = bytearray()
    for sec in image.sections:
        # File offset congruent to the address modulo the page size, as a loader requires.
        out += bytes((sec.address - len(out)) % _PAGE)
        offset = len(out)
        out += sec.data
        shf, pf = _flags(sec)
        headers.append(struct.pack("<IIQQQQIIQQ", shstr.add(sec.name), _SHT_PROGBITS, shf,
                                   sec.address, offset, len(sec.data), 0, 0, 16, 0))
        phdrs += struct.pack("<IIQQQQQQ", _PT_LOAD, pf, offset, sec.address, sec.address,
                             len(sec.data), len(sec.data), _PAGE)
    symtab_index = len(headers)

    def extra(name: str, kind: int, data: bytes, link: int = 0, info: int = 0, align: int = 1,
              entsize: int = 0) -> None:
        out.extend(bytes((-len(out)) % max(align, 1)))
        headers.append(struct.pack("<IIQQQQIIQQ", shstr.add(name), kind, 0, 0, len(out),
                                   len(data), link, info, align, entsize))
        out.extend(data)

    extra(".symtab", _SHT_SYMTAB, symtab, link=symtab_index + 1, info=first_global, align=8,
          entsize=_SYM)
    extra(".strtab", _SHT_STRTAB, bytes(strtab.data))
    if debug.line:
        extra(".debug_line", _SHT_PROGBITS, debug.line)
        extra(".debug_info", _SHT_PROGBITS, debug.info)
        extra(".debug_abbrev", _SHT_PROGBITS, debug.abbrev)
        extra(".debug_aranges", _SHT_PROGBITS, debug.aranges)
    shstrndx = len(headers)
    shstr.add(".shstrtab")                 # every name is known now: the table is complete
    extra(".shstrtab", _SHT_STRTAB, bytes(shstr.data))
    out.extend(bytes((-len(out)) % 8))
    shoff = len(out)
    out.extend(b"".join(headers))
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    out[0:_EHDR] = ident + struct.pack("<HHIQQQIHHHHHH", _ET_EXEC, _EM_X86_64, 1, 0, _EHDR, shoff,
                                       0, _EHDR, _PHDR, phnum, _SHDR, len(headers), shstrndx)
    out[_EHDR:_EHDR + len(phdrs)] = phdrs
    return bytes(out), ElfSummary(len(image.sections), nsyms, debug.rows)


__all__ = ["ElfSummary", "elf_bytes"]
