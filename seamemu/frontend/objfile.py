# SPDX-License-Identifier: MIT
"""ELF64 relocatable objects read with pyelftools: sections, symbols, relocations, line rows.

What gcc, clang, GNU as and kbuild write for x86-64 (`ET_REL`, little-endian, RELA).  The
reader keeps what a link needs and nothing else; `objlink` does the linking.
Spec: System V gABI "Object Files" (sections, symbol table, relocation entries); x86-64 psABI
§4.4 (relocation types); DWARF 5 §6.2 (line number information, versions 2-5 read).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from ..errors import AsmError
from ..files import read_bytes
from .link import loaded

ELF_MAGIC = b"\x7fELF"
_SHF_WRITE, _SHF_ALLOC, _SHF_EXECINSTR = 0x1, 0x2, 0x4
_R_X86_64_64 = 1
_LOADED_TYPES = ("SHT_FINI_ARRAY", "SHT_INIT_ARRAY", "SHT_NOBITS", "SHT_PREINIT_ARRAY",
                 "SHT_PROGBITS")

def is_object_file(path: str | Path) -> bool:
    """Does the file start with the ELF magic (an object rather than assembly source)?"""
    try:
        with open(path, "rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


@dataclass(frozen=True)
class ObjSection:
    index: int
    name: str
    flags: str        # subset of "awx" (SHF_ALLOC, SHF_WRITE, SHF_EXECINSTR)
    nobits: bool      # SHT_NOBITS (.bss): size without bytes in the file
    size: int
    align: int
    data: bytes
    loaded: bool      # part of the program (link.loaded), with program bytes


@dataclass(frozen=True)
class ObjSymbol:
    name: str
    value: int
    size: int
    kind: str         # STT_* without the prefix, lowercase: func, object, notype, section...
    bind: str         # local, global, weak
    section: int | None   # defining section index; None when undefined or absolute
    absolute: bool = False
    common: bool = False


@dataclass(frozen=True)
class ObjReloc:
    section: int      # index of the section the relocation patches
    offset: int
    type: int         # R_X86_64_*
    symbol: int       # index into `ObjectFile.symbols`
    addend: int


@dataclass(frozen=True)
class LineRow:
    """Bytes [offset, offset + size) of a section came from `file`:`line`."""

    section: int
    offset: int
    size: int
    file: str
    line: int


@dataclass(frozen=True)
class ObjectFile:
    name: str
    sections: tuple[ObjSection, ...]
    symbols: tuple[ObjSymbol, ...]
    relocations: tuple[ObjReloc, ...]
    lines: tuple[LineRow, ...]


def read_object(path: str | Path, name: str | None = None, *, absolute: bool = True) -> ObjectFile:
    """Read an object file; AsmError naming the file when it is not one seamemu can link.

    With `absolute`, source paths in the line table are made absolute with the compilation
    directory the object records (so they still name the file when run from elsewhere).
    """
    label = name or str(path)
    return parse_object(read_bytes(path, "", "object file"), label, absolute=absolute)


def parse_object(data: bytes, name: str, *, absolute: bool = True) -> ObjectFile:
    """Parse the bytes of an x86-64 ELF64 relocatable object called `name`."""
    if data[:4] != ELF_MAGIC:
        raise AsmError("not an ELF object file (build it with `gcc -c` or `as`)", name)
    try:
        elf = ELFFile(io.BytesIO(data))
        _check_header(elf, name)
        sections = tuple(_section(i, s) for i, s in enumerate(elf.iter_sections()))
        symbols = _symbols(elf)
        relocations = _relocations(elf, name, sections)
        lines = _lines(elf, relocations, symbols, absolute)
    except AsmError:
        raise
    except Exception as exc:  # ELFError, construct and struct errors: a malformed file
        raise AsmError(f"malformed ELF object: {exc}", name) from None
    return ObjectFile(name, sections, symbols, relocations, lines)


def _check_header(elf: ELFFile, name: str) -> None:
    if elf.elfclass != 64 or not elf.little_endian:
        raise AsmError("not a little-endian ELF64 object (seamemu runs x86-64 code)", name)
    if elf.header["e_machine"] != "EM_X86_64":
        raise AsmError(f"built for {elf.header['e_machine']}, not x86-64 (EM_X86_64)", name)
    if elf.header["e_type"] != "ET_REL":
        raise AsmError(f"is {elf.header['e_type']}, not a relocatable object (ET_REL): "
                       "give seamemu the .o files, not a linked program", name)


def _section(index: int, sec) -> ObjSection:
    flags = sec["sh_flags"]
    gas = "".join(c for c, bit in (("a", _SHF_ALLOC), ("w", _SHF_WRITE), ("x", _SHF_EXECINSTR))
                  if flags & bit)
    nobits = sec["sh_type"] == "SHT_NOBITS"
    # Notes (.note.gnu.property) are allocatable but not program bytes.
    is_loaded = loaded(sec.name, gas) and sec["sh_type"] in _LOADED_TYPES
    data = b"" if nobits or sec["sh_type"] == "SHT_NULL" else sec.data()
    return ObjSection(index, sec.name, gas, nobits, sec["sh_size"], max(sec["sh_addralign"], 1),
                      data, is_loaded)


def _symbols(elf: ELFFile) -> tuple[ObjSymbol, ...]:
    table = elf.get_section_by_name(".symtab")
    if not isinstance(table, SymbolTableSection):
        return ()
    out = []
    for sym in table.iter_symbols():
        shndx = sym["st_shndx"]
        kind = sym["st_info"]["type"].removeprefix("STT_").lower()
        bind = sym["st_info"]["bind"].removeprefix("STB_").lower()
        section = shndx if isinstance(shndx, int) else None
        out.append(ObjSymbol(sym.name, sym["st_value"], sym["st_size"], kind, bind, section,
                             absolute=shndx == "SHN_ABS", common=shndx == "SHN_COMMON"))
    return tuple(out)


def _relocations(elf: ELFFile, name: str, sections: tuple[ObjSection, ...]) -> tuple[ObjReloc, ...]:
    out = []
    for sec in elf.iter_sections():
        if not isinstance(sec, RelocationSection):
            continue
        target = sec["sh_info"]
        if not sec.is_RELA():
            if 0 <= target < len(sections) and sections[target].loaded:
                raise AsmError(f"section {sec.name}: REL relocations (without addends) are not "
                               "used on x86-64; seamemu links RELA objects", name)
            continue
        for rel in sec.iter_relocations():
            out.append(ObjReloc(target, rel["r_offset"], rel["r_info_type"], rel["r_info_sym"],
                                rel["r_addend"]))
    return tuple(out)


# -- the line table ------------------------------------------------------------------------------
def _lines(elf: ELFFile, relocs: tuple[ObjReloc, ...], symbols: tuple[ObjSymbol, ...],
           absolute: bool) -> tuple[LineRow, ...]:
    """Rows of every line program, each placed in the section its address relocation names.

    In an object, DW_LNE_set_address operands are 0 plus a R_X86_64_64 relocation against the
    code's section.  pyelftools applies relocations with the symbol's value (0 for a section
    symbol), which gives the offset but loses the section; the section comes from the
    relocations themselves, the k-th 8-byte relocation inside a program belonging to its k-th
    set_address.  A program where those do not pair up gives no rows rather than wrong ones.
    """
    debug_line = elf.get_section_by_name(".debug_line")
    if debug_line is None or not elf.has_dwarf_info():
        return ()
    index = next(i for i, s in enumerate(elf.iter_sections()) if s.name == ".debug_line")
    addr_relocs = sorted((r.offset, r) for r in relocs
                         if r.section == index and r.type == _R_X86_64_64)
    dwarf = elf.get_dwarf_info(relocate_dwarf_sections=True)
    rows: list[LineRow] = []
    for cu in dwarf.iter_CUs():
        program = dwarf.line_program_for_CU(cu)
        if program is None:
            continue
        top = cu.get_top_DIE()
        comp_dir = _attr_text(top, "DW_AT_comp_dir") if absolute else ""
        mine = [r for off, r in addr_relocs
                if program.program_start_offset <= off < program.program_end_offset]
        rows.extend(_program_rows(program, mine, symbols, comp_dir))
    return tuple(rows)


def _program_rows(program, relocs: list[ObjReloc], symbols: tuple[ObjSymbol, ...],
                  comp_dir: str) -> list[LineRow]:
    entries = program.get_entries()
    set_address = [e for e in entries if e.is_extended and e.command == 2]  # DW_LNE_set_address
    if len(set_address) != len(relocs):
        return []
    version = program["version"]
    out: list[LineRow] = []
    seq: list[tuple[int, int, int, int]] = []   # (section, offset, file index, line)
    section = -1
    k = 0
    for entry in entries:
        if entry.is_extended and entry.command == 2:
            sym = symbols[relocs[k].symbol] if relocs[k].symbol < len(symbols) else None
            section = sym.section if sym is not None and sym.section is not None else -1
            k += 1
            continue
        state = entry.state
        if state is None:
            continue
        if state.end_sequence:
            _flush(seq, state.address, program, version, comp_dir, out)
            continue
        seq.append((section, state.address, state.file, state.line))
    return out


def _flush(seq: list[tuple[int, int, int, int]], end: int, program, version: int, comp_dir: str,
           out: list[LineRow]) -> None:
    for k, (sec, addr, file, line) in enumerate(seq):
        nxt = seq[k + 1][1] if k + 1 < len(seq) else end
        if nxt > addr and sec >= 0:
            out.append(LineRow(sec, addr, nxt - addr, _file_name(program, file, version, comp_dir),
                               line))
    seq.clear()


def _file_name(program, index: int, version: int, comp_dir: str) -> str:
    """The path a line-table file index names (DWARF 5 counts files and dirs from 0)."""
    files = program["file_entry"]
    dirs = program["include_directory"]
    pos = index if version >= 5 else index - 1
    if not 0 <= pos < len(files):
        return "?"
    entry = files[pos]
    name = _text(entry.name)
    d = entry.dir_index
    # Directory 0 is the compilation directory (DWARF 5 lists it, earlier versions imply it).
    directory = ""
    if version >= 5 and 0 < d < len(dirs):
        directory = _text(dirs[d])
    elif version < 5 and 0 < d <= len(dirs):
        directory = _text(dirs[d - 1])
    if directory and not os.path.isabs(name):
        name = os.path.join(directory, name)
    if comp_dir and not os.path.isabs(name):
        name = os.path.join(comp_dir, name)
    return os.path.normpath(name)


def _attr_text(die, attr: str) -> str:
    a = die.attributes.get(attr)
    return _text(a.value) if a is not None else ""


def _text(value) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


__all__ = [
    "ELF_MAGIC",
    "LineRow",
    "ObjReloc",
    "ObjSection",
    "ObjSymbol",
    "ObjectFile",
    "is_object_file",
    "parse_object",
    "read_object",
]
