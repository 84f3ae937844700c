# SPDX-License-Identifier: MIT
"""Linking relocatable objects into an Image, the way `ld -r`-free kernel objects meet a linker.

Two steps, so that the keystone backend can link with objects both ways: `place_objects`
gives every loaded section of every object its address (the layout policy of `link.place`)
and so the address of every symbol the objects define; `relocate` then patches the bytes with
the symbols the objects and the rest of the program (`provided`) define, and builds the Image
(sections, symbols with sizes and types, the decoded `__ex_table`, the line map).
Spec: x86-64 psABI §4.4.1 (relocation calculations: S + A, S + A - P); System V gABI "Symbol
Table" (binding: a weak definition yields to a global one, an undefined weak symbol is 0).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import AsmError, AsmLimitError
from ..image import IMAGE_BASE, AltEntry, Image, SourceLine, SymbolInfo
from .alternatives import ALT_SECTION, read_table
from .limits import MAX_IMAGE_BYTES
from .link import Piece, Placement, SectionSpec, build_image, merge_symbols, place
from .objfile import ObjectFile, ObjReloc, ObjSymbol

# x86-64 relocation types seamemu applies: name, field width, PC-relative, signed range check.
# Spec: x86-64 psABI Table 4.10 "Relocation Types" (numbers, fields, calculations).
R_X86_64: dict[int, tuple[str, int, bool, bool]] = {
    1: ("R_X86_64_64", 8, False, False),
    2: ("R_X86_64_PC32", 4, True, True),
    4: ("R_X86_64_PLT32", 4, True, True),     # no PLT in a kernel image: S + A - P
    10: ("R_X86_64_32", 4, False, False),
    11: ("R_X86_64_32S", 4, False, True),
    12: ("R_X86_64_16", 2, False, False),
    13: ("R_X86_64_PC16", 2, True, True),
    14: ("R_X86_64_8", 1, False, False),
    15: ("R_X86_64_PC8", 1, True, True),
    24: ("R_X86_64_PC64", 8, True, True),
}
_SUPPORTED = ", ".join(sorted(v[0].removeprefix("R_X86_64_") for v in R_X86_64.values()))
_KEY_STRIDE = 1 << 20     # piece scope = object index * stride + section index


def _key(obj: int, section: int) -> int:
    return obj * _KEY_STRIDE + section


@dataclass(frozen=True)
class PlacedObjects:
    """Objects with every loaded section at its address, before relocation."""

    objects: tuple[ObjectFile, ...]
    specs: tuple[SectionSpec, ...]
    placement: Placement
    base: int
    defined: Mapping[str, int]          # global (and weak) definitions: name -> address
    defined_in: Mapping[str, str]       # name -> the object that defines it

    def address(self, obj: int, section: int) -> int | None:
        sec = self.objects[obj].sections[section]
        return self.placement.piece_address.get((_key(obj, section), sec.name))

    @property
    def end(self) -> int:
        """One past the last byte placed (`base` when nothing was)."""
        ends = [self.placement.section_address[n] + self.placement.section_size[n]
                for n in self.placement.order]
        return max(ends, default=self.base)


def place_objects(objects: Sequence[ObjectFile], base: int = IMAGE_BASE) -> PlacedObjects:
    """Lay out the loaded sections of `objects` from `base` (same-named sections merged)."""
    specs: dict[str, SectionSpec] = {}
    pieces: list[Piece] = []
    total = 0
    for k, obj in enumerate(objects):
        for sec in obj.sections:
            if sec.loaded:
                total += sec.size
                if total > MAX_IMAGE_BYTES:   # checked before any section is allocated
                    raise AsmLimitError(f"section {sec.name} ({sec.size:,} bytes) makes the image "
                                        f"{total:,} bytes, past the {MAX_IMAGE_BYTES >> 20} MiB "
                                        "image limit (docs/limits.md)", obj.name)
                specs.setdefault(sec.name, SectionSpec(sec.name, sec.flags, sec.nobits))
                pieces.append(Piece(_key(k, sec.index), sec.name, sec.size, sec.align))
    placement = place(list(specs.values()), pieces, base=base)
    placed = PlacedObjects(tuple(objects), tuple(specs.values()), placement, base, {}, {})
    defined: dict[str, int] = {}
    defined_in: dict[str, str] = {}
    strength: dict[str, bool] = {}
    for k, obj in enumerate(objects):
        for sym in obj.symbols:
            if sym.common:
                raise AsmError(f"common symbol `{sym.name}` (.comm) is not supported: define it "
                               "in a section (.bss) instead", obj.name)
            if sym.bind == "local" or sym.section is None or not _named(sym):
                continue
            at = placed.address(k, sym.section)
            if at is None:
                continue
            strong = sym.bind == "global"
            if sym.name in defined:
                if strong and strength[sym.name]:
                    raise AsmError(f"global symbol `{sym.name}` is also defined in "
                                   f"{defined_in[sym.name]}", obj.name)
                if not strong or strength[sym.name]:
                    continue            # a weak definition yields to the one already seen
            defined[sym.name] = at + sym.value
            defined_in[sym.name] = obj.name
            strength[sym.name] = strong
    return PlacedObjects(tuple(objects), tuple(specs.values()), placement, base, defined,
                         defined_in)


def relocate(placed: PlacedObjects, provided: Mapping[str, int] | None = None,
             source_text: Callable[[str, int], str] | None = None) -> Image:
    """Apply every relocation and build the Image of the placed objects.

    `provided` are global symbols defined elsewhere in the program (the assembled sources,
    stubs); `source_text(file, line)` gives a line map entry its text (default: read from disk).
    AsmError names the first undefined symbol or unsupported relocation, with the source line
    of the bytes it patches when the object has a line table.
    """
    provided = dict(provided or {})
    text_of = source_text or disk_text()
    pl = placed.placement
    contents = {n: bytearray(s) for n, s in pl.section_size.items()}
    per_scope: list[dict[str, tuple[int, SymbolInfo]]] = []
    lines: list[SourceLine] = []
    for k, obj in enumerate(placed.objects):
        located = _line_map(placed, k, text_of)
        lines.extend(located)
        for sec in obj.sections:
            at = placed.address(k, sec.index)
            if at is not None and not sec.nobits:
                off = at - pl.section_address[sec.name]
                contents[sec.name][off:off + len(sec.data)] = sec.data
        local = _symbol_table(placed, k)
        per_scope.append(local)
        for rel in obj.relocations:
            _apply(placed, k, rel, contents, local, provided, located)
    globals_ = set(placed.defined)
    merged = merge_symbols(per_scope, globals_, [o.name for o in placed.objects])
    image = build_image(list(placed.specs), pl, {n: bytes(b) for n, b in contents.items()},
                        {n: v[0] for n, v in merged.items()}, globals_, lines,
                        {n: v[1] for n, v in merged.items()})
    alternatives = _alternatives(placed, contents)
    return dataclasses.replace(image, alternatives=alternatives) if alternatives else image


def _alternatives(placed: PlacedObjects, contents: Mapping[str, bytearray]) -> tuple[AltEntry, ...]:
    """Every object's `.altinstructions`, relocated, in link order (the kernel's table order)."""
    out: list[AltEntry] = []
    for k, obj in enumerate(placed.objects):
        for sec in obj.sections:
            at = placed.address(k, sec.index) if sec.name == ALT_SECTION else None
            if at is None or not sec.size:
                continue
            entries = sum(1 for r in obj.relocations if r.section == sec.index) // 2
            off = at - placed.placement.section_address[sec.name]
            out.extend(read_table(bytes(contents[sec.name][off:off + sec.size]), at, entries,
                                  obj.name))
    return tuple(out)


def _named(sym: ObjSymbol) -> bool:
    # GNU as names numeric and macro-generated locals with \x01/\x02; they are not labels.
    return bool(sym.name) and sym.kind not in ("section", "file") \
        and "\x01" not in sym.name and "\x02" not in sym.name


def _symbol_table(placed: PlacedObjects, k: int) -> dict[str, tuple[int, SymbolInfo]]:
    """Every labelled address one object defines (absolute symbols only serve relocations)."""
    table: dict[str, tuple[int, SymbolInfo]] = {}
    for sym in placed.objects[k].symbols:
        if sym.section is None or not _named(sym):
            continue
        at = placed.address(k, sym.section)
        if at is None:
            continue
        if sym.bind != "local" and placed.defined.get(sym.name) != at + sym.value:
            continue                    # a weak definition another object overrides
        table[sym.name] = (at + sym.value, SymbolInfo(sym.size, sym.kind))
    return table


def _apply(placed: PlacedObjects, k: int, rel: ObjReloc, contents: dict[str, bytearray],
           local: Mapping[str, tuple[int, SymbolInfo]], provided: Mapping[str, int],
           lines: list[SourceLine]) -> None:
    obj = placed.objects[k]
    target = obj.sections[rel.section] if 0 <= rel.section < len(obj.sections) else None
    base = placed.address(k, rel.section) if target is not None else None
    if target is None or base is None:
        return                          # debug info, objtool's tables: not loaded
    place_at = base + rel.offset
    where = f"{target.name}+0x{rel.offset:x}"
    kind = R_X86_64.get(rel.type)
    if kind is None:
        from elftools.elf.enums import ENUM_RELOC_TYPE_x64
        names = {v: n for n, v in ENUM_RELOC_TYPE_x64.items() if isinstance(v, int)}
        raise _at(lines, place_at, obj.name,
                  f"{where}: relocation {names.get(rel.type, f'type {rel.type}')} is not "
                  f"supported (seamemu applies R_X86_64_{{{_SUPPORTED}}})")
    rname, width, pc, signed = kind
    if not 0 <= rel.symbol < len(obj.symbols):
        raise AsmError(f"{where}: relocation names symbol {rel.symbol}, which does not exist",
                       obj.name)
    sym = obj.symbols[rel.symbol]
    value = _symbol_value(placed, k, sym, local, provided)
    if value is None:
        raise _at(lines, place_at, obj.name,
                  f"undefined symbol `{sym.name}` (referenced at {where}); provide it in "
                  f"another input file or as a stub (--stub {sym.name})")
    result = value + rel.addend - (place_at if pc else 0)
    lo, hi = (-(1 << (8 * width - 1)), 1 << (8 * width - 1)) if signed else (0, 1 << (8 * width))
    if width < 8 and not lo <= result < hi:
        raise _at(lines, place_at, obj.name,
                  f"{where}: {rname} value 0x{result & ((1 << 64) - 1):016x} does not fit "
                  f"(symbol `{sym.name}`)")
    off = place_at - placed.placement.section_address[target.name]
    contents[target.name][off:off + width] = (result & ((1 << (8 * width)) - 1)).to_bytes(width, "little")


def _symbol_value(placed: PlacedObjects, k: int, sym: ObjSymbol,
                  local: Mapping[str, tuple[int, SymbolInfo]],
                  provided: Mapping[str, int]) -> int | None:
    if sym.absolute:
        return sym.value
    if sym.kind == "section" or (sym.section is not None and sym.bind == "local"):
        at = placed.address(k, sym.section) if sym.section is not None else None
        if at is None:
            name = placed.objects[k].sections[sym.section].name if sym.section is not None else "?"
            raise AsmError(f"a relocation refers to section {name}, which seamemu does not load",
                           placed.objects[k].name)
        return at + (sym.value if sym.kind != "section" else 0)
    if sym.name in placed.defined:
        return placed.defined[sym.name]
    if sym.name in provided:
        return provided[sym.name]
    if sym.section is None and sym.bind == "weak":
        return 0                        # an undefined weak symbol resolves to zero
    return None


def _line_map(placed: PlacedObjects, k: int, text_of: Callable[[str, int], str]
              ) -> list[SourceLine]:
    out = []
    for row in placed.objects[k].lines:
        at = placed.address(k, row.section) if 0 <= row.section < len(placed.objects[k].sections) else None
        if at is not None:
            out.append(SourceLine(at + row.offset, row.size, row.file, row.line,
                                  text_of(row.file, row.line)))
    return out


def _at(lines: list[SourceLine], address: int, name: str, message: str) -> AsmError:
    for ln in lines:
        if ln.address <= address < ln.address + max(ln.size, 1):
            return AsmError(message, ln.file, ln.line)
    return AsmError(message, name)


def disk_text() -> Callable[[str, int], str]:
    """`text(file, line)`: the stripped line read from disk (files read once), or ""."""
    cache: dict[str, list[str]] = {}

    def text(file: str, line: int) -> str:
        if file not in cache:
            try:
                cache[file] = Path(file).read_text(errors="replace").split("\n")
            except OSError:
                cache[file] = []
        body = cache[file]
        return body[line - 1].strip() if 0 < line <= len(body) else ""
    return text


def combine(first: Image, second: Image, names: tuple[str, str]) -> Image:
    """One Image of two linked parts (objects and assembled sources), sections by address.

    A global defined in both is an error naming both parts; a local name both use is kept
    for `first` and becomes `name@part` for `second`, as between files of one program.
    """
    clash = sorted(first.globals & second.globals)
    if clash:
        raise AsmError(f"global symbol `{clash[0]}` is defined in {names[0]} and in {names[1]}")
    symbols = dict(first.symbols)
    info = dict(first.symbol_info)
    tag = Path(names[1]).name
    for name, addr in second.symbols.items():
        key = name if name not in symbols or name in second.globals else f"{name}@{tag}"
        symbols.setdefault(key, addr)
        if name in second.symbol_info:
            info.setdefault(key, second.symbol_info[name])
    sections = tuple(sorted(first.sections + second.sections, key=lambda s: s.address))
    return Image(sections=sections, symbols=types.MappingProxyType(symbols),
                 extable=tuple(sorted(first.extable + second.extable, key=lambda e: e.fault)),
                 lines=tuple(sorted(first.lines + second.lines, key=lambda ln: ln.address)),
                 globals=first.globals | second.globals,
                 symbol_info=types.MappingProxyType(info),
                 warnings=first.warnings + second.warnings,
                 alternatives=first.alternatives + second.alternatives)


__all__ = ["PlacedObjects", "R_X86_64", "combine", "disk_text", "place_objects", "relocate"]
