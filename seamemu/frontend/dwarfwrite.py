# SPDX-License-Identifier: MIT
"""The DWARF an Image's ELF carries for tools: a line table per code section and its CU.

What gdb, addr2line and objdump need to put a source line on an address: a compilation unit
per executable section (DW_TAG_compile_unit with its address range and DW_AT_stmt_list), that
unit's line-number program with one row per instruction, an address-range table, and a
DW_TAG_subprogram per function, so that `break FILE:LINE` on a line a macro expands in several
functions stops in each of them (gdb keeps one location per function).
Spec: DWARF Debugging Information Format Version 4: §6.2 (line number information: the
version 4 header, standard and extended opcodes), §6.1.2 (.debug_aranges), §7.5 (unit
headers, abbreviations, forms), §7.21-7.22 (opcode values); the values are in Figure 37-40.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ..image import Image, Section, SourceLine

# Form and attribute codes (DWARF 4 §7.5.4, Figures 20-21).
_DW_TAG_compile_unit, _DW_TAG_subprogram = 0x11, 0x2E
_DW_AT_external, _DW_FORM_flag_present = 0x3F, 0x19
_DW_AT_name, _DW_AT_stmt_list, _DW_AT_low_pc, _DW_AT_high_pc = 0x03, 0x10, 0x11, 0x12
_DW_AT_language, _DW_AT_comp_dir, _DW_AT_producer = 0x13, 0x1B, 0x25
_DW_FORM_addr, _DW_FORM_data2, _DW_FORM_data8, _DW_FORM_string = 0x01, 0x05, 0x07, 0x08
_DW_FORM_sec_offset = 0x17
_DW_LANG_Mips_Assembler = 0x8001   # what GNU as writes for assembly sources
# Line-number opcodes (DWARF 4 §7.21, Figures 37-38).
_DW_LNS_copy, _DW_LNS_advance_pc, _DW_LNS_advance_line, _DW_LNS_set_file = 1, 2, 3, 4
_DW_LNE_end_sequence, _DW_LNE_set_address = 1, 2
_OPCODE_BASE = 13
_STANDARD_LENGTHS = (0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1)
PRODUCER = "seamemu"


@dataclass(frozen=True)
class Function:
    name: str
    address: int
    size: int
    external: bool


@dataclass(frozen=True)
class DebugSections:
    """The contents of .debug_line, .debug_info, .debug_abbrev and .debug_aranges."""

    line: bytes
    info: bytes
    abbrev: bytes
    aranges: bytes
    rows: int           # line-table rows written (one per instruction or data item)


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        done = (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


def _cstr(text: str) -> bytes:
    return text.encode("utf-8", errors="replace") + b"\0"


def source_path(name: str, comp_dir: str) -> str:
    """A line-map file name as the tools should see it: absolute when it names a real file."""
    if name.startswith("<") or os.path.isabs(name):
        return name
    candidate = os.path.join(comp_dir, name)
    return os.path.normpath(candidate) if os.path.exists(candidate) else name


def _line_program(section: Section, rows: Sequence[SourceLine], comp_dir: str) -> tuple[bytes, int]:
    """One unit's line-number program for the rows inside `section`, and its row count."""
    names = [source_path(r.file, comp_dir) for r in rows]
    dirs: list[str] = []
    files: list[tuple[str, int]] = []
    index: dict[str, int] = {}
    for name in names:
        if name in index:
            continue
        d, base = os.path.split(name)
        if d and d not in dirs:
            dirs.append(d)
        files.append((base, dirs.index(d) + 1 if d else 0))
        index[name] = len(files)            # file numbers count from 1 before DWARF 5
    header = bytearray()
    header += struct.pack("<BBBbBB", 1, 1, 1, -5, 14, _OPCODE_BASE)
    header += bytes(_STANDARD_LENGTHS)
    header += b"".join(_cstr(d) for d in dirs) + b"\0"
    header += b"".join(_cstr(f) + uleb(d) + uleb(0) + uleb(0) for f, d in files) + b"\0"
    prog = bytearray()
    prog += b"\0" + uleb(9) + bytes([_DW_LNE_set_address]) + struct.pack("<Q", section.address)
    address, line, file = section.address, 1, 1
    for row, name in zip(rows, names):
        if index[name] != file:
            file = index[name]
            prog += bytes([_DW_LNS_set_file]) + uleb(file)
        if row.line != line:
            prog += bytes([_DW_LNS_advance_line]) + sleb(row.line - line)
            line = row.line
        if row.address != address:
            prog += bytes([_DW_LNS_advance_pc]) + uleb(row.address - address)
            address = row.address
        prog += bytes([_DW_LNS_copy])
    if section.end != address:
        prog += bytes([_DW_LNS_advance_pc]) + uleb(section.end - address)
    prog += b"\0" + uleb(1) + bytes([_DW_LNE_end_sequence])
    body = struct.pack("<H", 4) + struct.pack("<I", len(header)) + bytes(header) + bytes(prog)
    return struct.pack("<I", len(body)) + body, len(rows)


def _abbrev() -> bytes:
    unit = [(_DW_AT_producer, _DW_FORM_string), (_DW_AT_language, _DW_FORM_data2),
            (_DW_AT_name, _DW_FORM_string), (_DW_AT_comp_dir, _DW_FORM_string),
            (_DW_AT_stmt_list, _DW_FORM_sec_offset), (_DW_AT_low_pc, _DW_FORM_addr),
            (_DW_AT_high_pc, _DW_FORM_data8)]
    function = [(_DW_AT_name, _DW_FORM_string), (_DW_AT_low_pc, _DW_FORM_addr),
                (_DW_AT_high_pc, _DW_FORM_data8)]

    def entry(code: int, tag: int, children: bool, attrs) -> bytes:
        return (uleb(code) + uleb(tag) + bytes([int(children)])
                + b"".join(uleb(a) + uleb(f) for a, f in attrs) + b"\0\0")
    return (entry(1, _DW_TAG_compile_unit, True, unit)
            + entry(2, _DW_TAG_subprogram, False, function)
            + entry(3, _DW_TAG_subprogram, False, [*function, (_DW_AT_external, _DW_FORM_flag_present)])
            + b"\0")


def functions(image: Image) -> list[Function]:
    """The functions in executable sections, for debuggers: each label there (not `.L`) starts
    one, unless it lies inside a function whose size the input gave (an inner label); a size
    the input did not give runs to the next start or the section end.  One name per address:
    a global before a local."""
    labels: dict[int, str] = {}
    for name, address in sorted(image.symbols.items(), key=lambda kv: (kv[0] not in image.globals, kv[0])):
        sec = image.section_at(address)
        if sec is not None and sec.executable and not name.startswith(".L") and "@" not in name \
                and not name[:1].isdigit() and "\x02" not in name:
            labels.setdefault(address, name)
    sized = [(a, a + i.size) for n, a in image.symbols.items()
             if (i := image.symbol_info.get(n)) is not None and i.kind == "func" and i.size]
    starts = sorted((a, n) for a, n in labels.items() if not any(lo < a < hi for lo, hi in sized))
    out = []
    for k, (address, name) in enumerate(starts):
        sec = image.section_at(address)
        assert sec is not None
        info = image.symbol_info.get(name)
        size = info.size if info is not None and info.size else 0
        if not size:
            later = [a for a, _ in starts[k + 1:] if address < a < sec.end]
            size = (later[0] if later else sec.end) - address
        out.append(Function(name, address, size, name in image.globals))
    return out


def _unit(name: str, comp_dir: str, stmt_list: int, section: Section,
          funcs: Sequence[Function]) -> bytes:
    die = (uleb(1) + _cstr(PRODUCER) + struct.pack("<H", _DW_LANG_Mips_Assembler) + _cstr(name)
           + _cstr(comp_dir) + struct.pack("<I", stmt_list) + struct.pack("<Q", section.address)
           + struct.pack("<Q", len(section.data)))
    for f in funcs:
        die += (uleb(3 if f.external else 2) + _cstr(f.name) + struct.pack("<Q", f.address)
                + struct.pack("<Q", f.size))
    die += b"\0"                                    # end of the unit's children
    body = struct.pack("<HIB", 4, 0, 8) + die
    return struct.pack("<I", len(body)) + body


def _aranges(info_offset: int, section: Section) -> bytes:
    body = struct.pack("<HIBB", 2, info_offset, 8, 0) + b"\0" * 4   # pad to 16 bytes
    body += struct.pack("<QQ", section.address, len(section.data)) + struct.pack("<QQ", 0, 0)
    return struct.pack("<I", len(body)) + body


def debug_sections(image: Image, comp_dir: str) -> DebugSections:
    """Line tables, units and ranges for every executable section with source lines."""
    line, info, aranges = bytearray(), bytearray(), bytearray()
    total = 0
    funcs = functions(image)
    for section in image.sections:
        if not section.executable:
            continue
        rows = [r for r in image.lines if section.address <= r.address < section.end and r.size]
        if not rows:
            continue
        program, n = _line_program(section, rows, comp_dir)
        mine = [f for f in funcs if section.address <= f.address < section.end]
        unit = _unit(source_path(rows[0].file, comp_dir), comp_dir, len(line), section, mine)
        aranges += _aranges(len(info), section)
        line += program
        info += unit
        total += n
    return DebugSections(bytes(line), bytes(info), _abbrev(), bytes(aranges), total)


__all__ = ["DebugSections", "Function", "PRODUCER", "debug_sections", "functions", "sleb",
           "source_path", "uleb"]
