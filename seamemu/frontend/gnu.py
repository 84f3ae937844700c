# SPDX-License-Identifier: MIT
"""The GNU as backend: our C preprocessor, then `as --64`, then our own ELF reader and linker.

GNU as does macros, labels and relaxation itself; the sections are laid out with the same
policy as the keystone backend (link.place), relocations are applied here, and the line
map comes from the DWARF line table (`--gdwarf-3`), which GNU as attributes to the line of
the outermost macro invocation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import AsmError, EngineError
from ..image import Image, SourceLine
from .cpp import DEFAULT_INCLUDE_DIR, Output, with_line_markers
from .dwarf import line_rows
from .elf import (
    R_X86_64,
    SHN_ABS,
    SHN_UNDEF,
    SHT_INIT_ARRAY,
    SHT_NOBITS,
    SHT_PROGBITS,
    STB_LOCAL,
    STT_FILE,
    STT_SECTION,
    ElfError,
    ElfObject,
    read_elf,
)
from .link import Piece, SectionSpec, build_image, kept, merge_symbols, place

AS_TIMEOUT = 60.0
_LAID_OUT_TYPES = {SHT_PROGBITS, SHT_NOBITS, SHT_INIT_ARRAY, SHT_INIT_ARRAY + 1, SHT_INIT_ARRAY + 2}
_ERROR = re.compile(r"^(.*?):(\d+): Error: (.*)$", re.M)
_RODATA = re.compile(r"^(\s*(?:[\w.$]+:\s*)*)\.rodata\s*$")


def gnu_as() -> str:
    """Path of GNU as, or EngineError saying how to get it."""
    path = shutil.which("as")
    if path is None:
        raise EngineError("the GNU assembler `as` is not on PATH: install binutils, "
                          "or use the keystone backend")
    return path


def _run_as(text: str, name: str, include_dirs: Sequence[Path]) -> ElfObject:
    exe = gnu_as()
    # `.include` is GNU as's own: let it search beside the source, then the include dirs.
    search = [Path(name).parent, *include_dirs, DEFAULT_INCLUDE_DIR]
    with tempfile.TemporaryDirectory(prefix="seamemu-as-") as tmp:
        src = Path(tmp) / "input.s"
        obj = Path(tmp) / "output.o"
        src.write_text(text)
        args = [exe, "--64", "-L", "--gdwarf-3", *(f"-I{d}" for d in search), "-o", str(obj), str(src)]
        try:
            proc = subprocess.run(args,
                                  capture_output=True, text=True, timeout=AS_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise EngineError(f"GNU as did not finish {name} within {AS_TIMEOUT:g} s") from None
        if proc.returncode != 0:
            m = _ERROR.search(proc.stderr)
            if m:
                raise AsmError(f"GNU as: {m.group(3)}", m.group(1), int(m.group(2)))
            raise AsmError(f"GNU as failed: {proc.stderr.strip() or proc.returncode}", name)
        try:
            return read_elf(obj.read_bytes())
        except ElfError as exc:
            raise EngineError(f"cannot read GNU as output for {name}: {exc}") from None


def _source_text(out: Output) -> str:
    lines = []
    for ln in out.lines:
        # GNU as has no `.rodata` directive; the keystone backend accepts it, so map it.
        m = _RODATA.match(ln.text)
        text = f"{m.group(1)}.section .rodata" if m else ln.text
        lines.append(type(ln)(text, ln.file, ln.line, ln.raw))
    return with_line_markers(lines)


def assemble_gnu(outputs: Sequence[Output], names: Sequence[str],
                 include_dirs: Sequence[Path] = ()) -> Image:
    """Assemble preprocessed translation units with GNU as and link them into an Image."""
    objects = [_run_as(_source_text(out), name, include_dirs) for out, name in zip(outputs, names)]
    raw_text = {(ln.file, ln.line): ln.raw for out in outputs for ln in out.lines}

    specs: dict[str, SectionSpec] = {}
    pieces: list[Piece] = []
    for scope, obj in enumerate(objects):
        for sec in obj.sections:
            if sec.type in _LAID_OUT_TYPES and kept(sec.name):
                specs.setdefault(sec.name, SectionSpec(sec.name, sec.gas_flags, sec.type == SHT_NOBITS))
                pieces.append(Piece(scope, sec.name, sec.size, max(sec.align, 1)))
    placement = place(list(specs.values()), pieces)

    def section_base(scope: int, index: int) -> int | None:
        sec = objects[scope].sections[index]
        return placement.piece_address.get((scope, sec.name))

    # Symbols: every defined label; absolute ones only serve relocations.
    per_scope: list[dict[str, int]] = []
    globals_: dict[str, int] = {}
    for scope, obj in enumerate(objects):
        table: dict[str, int] = {}
        for sym in obj.symbols:
            if sym.type in (STT_SECTION, STT_FILE) or not sym.name or sym.shndx in (SHN_UNDEF, SHN_ABS):
                continue
            if "\x01" in sym.name or "\x02" in sym.name:
                continue
            base = section_base(scope, sym.shndx) if sym.shndx < len(obj.sections) else None
            if base is None:
                continue
            table[sym.name] = base + sym.value
            if sym.bind != STB_LOCAL:
                if sym.name in globals_:
                    raise AsmError(f"global symbol `{sym.name}` is defined in two files", names[scope])
                globals_[sym.name] = table[sym.name]
        per_scope.append(table)

    contents: dict[str, bytearray] = {n: bytearray(s) for n, s in placement.section_size.items()}
    lines: list[SourceLine] = []
    for scope, obj in enumerate(objects):
        located = _line_map(obj, scope, placement, raw_text)
        lines.extend(located)
        for sec in obj.sections:
            if sec.type in _LAID_OUT_TYPES and kept(sec.name) and sec.type != SHT_NOBITS:
                start = placement.piece_address[(scope, sec.name)] - placement.section_address[sec.name]
                contents[sec.name][start:start + len(sec.data)] = sec.data
        _relocate(obj, scope, names[scope], placement, contents, per_scope[scope], globals_, located)

    return build_image(list(specs.values()), placement, {k: bytes(v) for k, v in contents.items()},
                       merge_symbols(per_scope, set(globals_), list(names)), set(globals_), lines)


def _line_map(obj: ElfObject, scope: int, placement, raw_text) -> list[SourceLine]:
    debug = [s for s in obj.sections if s.name == ".debug_line"]
    if not debug:
        return []
    relocs = {}
    for r in obj.relocations:
        if r.section == debug[0].index:
            sym = obj.symbols[r.symbol]
            relocs[r.offset] = (sym.shndx, r.addend + (sym.value if sym.type != STT_SECTION else 0))
    out = []
    for row in line_rows(debug[0].data, relocs):
        if not 0 <= row.section < len(obj.sections):
            continue
        base = placement.piece_address.get((scope, obj.sections[row.section].name))
        if base is None:
            continue
        out.append(SourceLine(base + row.offset, row.size, row.file, row.line,
                              raw_text.get((row.file, row.line), "")))
    return out


def _relocate(obj: ElfObject, scope: int, name: str, placement, contents, local: dict[str, int],
              globals_: dict[str, int], lines: list[SourceLine]) -> None:
    for r in obj.relocations:
        target = obj.sections[r.section]
        if not (kept(target.name) and (scope, target.name) in placement.piece_address):
            continue
        kind = R_X86_64.get(r.type)
        place_at = placement.piece_address[(scope, target.name)] + r.offset
        if kind is None:
            raise _at(lines, place_at, name, f"unsupported relocation type {r.type}")
        rname, width, pc, signed = kind
        sym = obj.symbols[r.symbol]
        if sym.type == STT_SECTION:
            s_value = placement.piece_address.get((scope, obj.sections[sym.shndx].name))
        elif sym.shndx == SHN_ABS:
            s_value = sym.value
        elif sym.shndx == SHN_UNDEF:
            s_value = globals_.get(sym.name)
        else:
            s_value = local.get(sym.name)
        if s_value is None:
            raise _at(lines, place_at, name, f"undefined symbol `{sym.name}`")
        value = s_value + r.addend - (place_at if pc else 0)
        lo, hi = (-(1 << (8 * width - 1)), 1 << (8 * width - 1)) if signed else (0, 1 << (8 * width))
        if width < 8 and not lo <= value < hi:
            raise _at(lines, place_at, name, f"{rname} value 0x{value & ((1 << 64) - 1):016x} "
                                             f"does not fit (symbol `{sym.name}`)")
        off = place_at - placement.section_address[target.name]
        contents[target.name][off:off + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")


def _at(lines: list[SourceLine], address: int, name: str, message: str) -> AsmError:
    for ln in lines:
        if ln.address <= address < ln.address + max(ln.size, 1):
            return AsmError(message, ln.file, ln.line)
    return AsmError(message, name)


__all__ = ["AS_TIMEOUT", "assemble_gnu", "gnu_as"]
