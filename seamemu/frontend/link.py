# SPDX-License-Identifier: MIT
"""Where sections go, and the Image both backends build: one layout policy for both.

Each input file contributes a piece to each section it uses (like an object file's input
section); pieces of one section are concatenated in file order, each aligned as it asks.
Sections start at IMAGE_BASE on 4 KiB boundaries, executable ones first, each group in the
order the sections were first created (GNU as creates .text, .data, .bss first).
Only allocatable sections are the program (`loaded`): not debug info or notes, and not the
metadata objtool and the ORC unwinder attach to kernel code.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..arch.kernel import EXTABLE_ENTRY_SIZE
from ..errors import AsmError
from ..image import IMAGE_BASE, ExtableEntry, Image, Section, SourceLine, SymbolInfo

PAGE = 0x1000
EXTABLE_SECTION = "__ex_table"
# Sections that are never part of the program image.
_SKIPPED_PREFIXES = (".debug", ".note", ".comment", ".rela", ".group")
# Sections objtool adds or reads (kernel builds run it on every object) and the ORC unwinder's
# tables: metadata about the code for the kernel's own patching and unwinding, never executed.
# Spec: Linux tools/objtool/check.c (create_*_sections), tools/objtool/orc_gen.c (orc_create),
# arch/x86/include/asm/orc_header.h, include/linux/objtool.h (the .discard.* annotations).
OBJTOOL_SECTIONS = (
    ".call_sites",
    ".cfi_sites",
    ".ibt_endbr_seal",
    ".orc_header",
    ".orc_unwind",
    ".orc_unwind_ip",
    ".retpoline_sites",
    ".return_sites",
    ".static_call_sites",
    "__mcount_loc",
)
OBJTOOL_PREFIXES = (".discard.",)


@dataclass(frozen=True)
class SectionSpec:
    name: str
    flags: str      # canonical subset of "awx"
    nobits: bool


@dataclass(frozen=True)
class Piece:
    scope: int
    section: str
    size: int
    align: int


@dataclass(frozen=True)
class Placement:
    section_address: Mapping[str, int]
    section_size: Mapping[str, int]
    piece_address: Mapping[tuple[int, str], int]
    order: tuple[str, ...]  # laid-out (non-empty) sections in address order


def is_objtool_section(name: str) -> bool:
    """Is this one of objtool's or the ORC unwinder's sections?"""
    return name in OBJTOOL_SECTIONS or name.startswith(OBJTOOL_PREFIXES)


def loaded(name: str, flags: str) -> bool:
    """Is a section part of the program: allocatable, not a note, not objtool's metadata?"""
    return "a" in flags and not name.startswith(_SKIPPED_PREFIXES) and not is_objtool_section(name)


def place(specs: Sequence[SectionSpec], pieces: Iterable[Piece], base: int = IMAGE_BASE) -> Placement:
    """Addresses of sections and pieces from `base`; `specs` is in creation order."""
    by_section: dict[str, list[Piece]] = {}
    for p in sorted(pieces, key=lambda p: p.scope):
        by_section.setdefault(p.section, []).append(p)
    ordered = [s for s in specs if "x" in s.flags] + [s for s in specs if "x" not in s.flags]
    cursor = base
    sec_addr: dict[str, int] = {}
    sec_size: dict[str, int] = {}
    piece_addr: dict[tuple[int, str], int] = {}
    order: list[str] = []
    for spec in ordered:
        base = cursor
        off = 0
        for p in by_section.get(spec.name, []):
            align = max(p.align, 1)
            off = (off + align - 1) // align * align
            piece_addr[(p.scope, spec.name)] = base + off
            off += p.size
        sec_addr[spec.name] = base
        sec_size[spec.name] = off
        if off:
            order.append(spec.name)
            cursor = (base + off + PAGE - 1) // PAGE * PAGE
    return Placement(sec_addr, sec_size, piece_addr, tuple(order))


def read_extable(sections: Sequence[Section]) -> tuple[ExtableEntry, ...]:
    """Decode `__ex_table` (struct exception_table_entry: insn, fixup, data; self-relative)."""
    table = [s for s in sections if s.name == EXTABLE_SECTION]
    if not table:
        return ()
    sec = table[0]
    if len(sec.data) % EXTABLE_ENTRY_SIZE:
        raise AsmError(f"{EXTABLE_SECTION} is {len(sec.data)} bytes, not a whole number of "
                       f"{EXTABLE_ENTRY_SIZE}-byte entries")
    out = []
    for off in range(0, len(sec.data), EXTABLE_ENTRY_SIZE):
        at = sec.address + off
        insn, fixup, data = (int.from_bytes(sec.data[off + k:off + k + 4], "little", signed=True)
                             for k in (0, 4, 8))
        out.append(ExtableEntry(fault=at + insn, fixup=at + 4 + fixup, type=data))
    return tuple(out)


def build_image(specs: Sequence[SectionSpec], placement: Placement,
                contents: Mapping[str, bytes], symbols: Mapping[str, int],
                globals_: Iterable[str], lines: Iterable[SourceLine],
                symbol_info: Mapping[str, SymbolInfo] | None = None) -> Image:
    """The Image: the loaded sections, their symbols, the decoded extable and the line map.

    Sections that are not `loaded` were laid out like the rest (so sources may refer to
    them) but are left out, with the symbols and lines that point into them.
    """
    flags = {s.name: s.flags for s in specs}
    sections = tuple(
        Section(name, placement.section_address[name], bytes(contents[name]), flags[name])
        for name in placement.order if loaded(name, flags[name])
    )
    dropped = [(placement.section_address[n], placement.section_address[n] + placement.section_size[n])
               for n in placement.order if not loaded(n, flags[n])]
    if dropped:
        starts = {s.address for s in sections}

        def inside(a: int) -> bool:
            return any(lo <= a < hi or (a == hi and a not in starts) for lo, hi in dropped)
        symbols = {n: a for n, a in symbols.items() if not inside(a)}
        lines = [ln for ln in lines if not inside(ln.address)]
    lines_sorted = tuple(sorted(lines, key=lambda ln: ln.address))
    return Image(
        sections=sections,
        symbols=types.MappingProxyType(dict(symbols)),
        extable=read_extable(sections),
        lines=lines_sorted,
        globals=frozenset(globals_),
        symbol_info=types.MappingProxyType({n: i for n, i in (symbol_info or {}).items()
                                            if n in symbols}),
    )


_V = TypeVar("_V")


def merge_symbols(per_scope: Sequence[Mapping[str, _V]], globals_: set[str],
                  scope_files: Sequence[str]) -> dict[str, _V]:
    """One flat symbol table: globals, then each file's locals (a clash gets `name@file`)."""
    out: dict[str, _V] = {}
    for table in per_scope:
        for name, addr in table.items():
            if name in globals_ and name not in out:
                out[name] = addr
    for scope, table in enumerate(per_scope):
        for name, addr in table.items():
            if name in globals_:
                continue
            key = name if name not in out else f"{name}@{Path(scope_files[scope]).name}"
            out.setdefault(key, addr)
    return out


__all__ = [
    "EXTABLE_SECTION",
    "OBJTOOL_PREFIXES",
    "OBJTOOL_SECTIONS",
    "PAGE",
    "Piece",
    "Placement",
    "SectionSpec",
    "build_image",
    "is_objtool_section",
    "loaded",
    "merge_symbols",
    "place",
    "read_extable",
]
