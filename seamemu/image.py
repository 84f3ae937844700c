# SPDX-License-Identifier: MIT
"""An assembled program: sections at addresses, a symbol table, an exception table, a line map.

The assembler front end (either backend) makes an Image; the machine loads it; the tracer and
the listing read it.  It is plain data, so every layer may hold one.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field

# Where the front end lays out the first section; later sections follow on 4 KiB boundaries.
IMAGE_BASE = 0x0040_0000


@dataclass(frozen=True)
class Section:
    name: str
    address: int
    data: bytes
    flags: str = ""  # GAS flags: "a" alloc, "x" exec, "w" write

    @property
    def end(self) -> int:
        return self.address + len(self.data)

    @property
    def executable(self) -> bool:
        return "x" in self.flags


@dataclass(frozen=True)
class ExtableEntry:
    """One struct exception_table_entry, with its self-relative offsets resolved."""

    fault: int  # address of the instruction that may fault
    fixup: int  # where execution resumes
    type: int   # EX_TYPE_* (seamemu.arch.kernel)


@dataclass(frozen=True)
class AltEntry:
    """One struct alt_instr (the kernel's alternatives), its self-relative offsets resolved.

    `flags` are ALT_FLAG_* whatever the layout (seamemu.arch.cpufeatures); `origin` names the
    object file the entry came from, `layout` the size of the struct alt_instr it was read as
    (which releases wrote it: seamemu.arch.cpufeatures.ALT_LAYOUTS).
    """

    instr: int            # the original instructions
    replacement: int      # the replacement, in .altinstr_replacement
    feature: int          # X86_FEATURE_* number
    flags: int
    instrlen: int
    replacementlen: int
    origin: str
    layout: int


@dataclass(frozen=True)
class SourceLine:
    """The source line an emitted item came from (instruction or data)."""

    address: int
    size: int
    file: str
    line: int
    text: str


@dataclass(frozen=True)
class SymbolInfo:
    """What an object file's symbol table says of a symbol besides its address."""

    size: int = 0
    kind: str = "notype"  # ELF STT_*, lowercase without the prefix: func, object, notype


@dataclass(frozen=True)
class Image:
    sections: tuple[Section, ...]
    symbols: Mapping[str, int]
    extable: tuple[ExtableEntry, ...] = ()
    lines: tuple[SourceLine, ...] = ()
    globals: frozenset[str] = frozenset()
    # Sizes and types where the input said them (objects, `.size`/`.type`); absent: unknown.
    symbol_info: Mapping[str, SymbolInfo] = field(default_factory=dict)
    # What the assembler warned about, "FILE:LINE: message" (GNU as's words, either backend).
    warnings: tuple[str, ...] = ()
    # .altinstructions decoded, in table order (applied by frontend.alternatives, not here).
    alternatives: tuple[AltEntry, ...] = ()
    _by_addr: tuple[tuple[int, str], ...] = field(default=(), compare=False, repr=False)
    _names: dict = field(default_factory=dict, compare=False, repr=False)  # symbolize cache
    _addrs: tuple[int, ...] = field(default=(), compare=False, repr=False)
    _line_index: tuple = field(default=(), compare=False, repr=False)     # built on first use

    def __post_init__(self) -> None:
        # Symbols sorted by address for symbol+offset lookups; ".L" and numeric locals last.
        ranked = sorted(self.symbols.items(), key=lambda kv: (kv[1], _local(kv[0]), kv[0]))
        object.__setattr__(self, "_by_addr", tuple((a, n) for n, a in ranked))
        object.__setattr__(self, "_addrs", tuple(a for a, _ in self._by_addr))

    # -- lookups -----------------------------------------------------------------------------
    def address_of(self, name: str) -> int:
        """Address of a symbol; KeyError names it when absent."""
        try:
            return self.symbols[name]
        except KeyError:
            raise KeyError(f"no symbol {name!r} in the image") from None

    def symbolize(self, address: int) -> str:
        """`symbol+0xoff` for an address, preferring global names over local labels."""
        name = self._names.get(address)
        if name is None:
            name = self._names[address] = self._symbolize(address)
        return name

    def _symbolize(self, address: int) -> str:
        addrs = self._addrs
        i = bisect.bisect_right(addrs, address) - 1
        if i < 0 or self.section_at(address) is None:
            return f"0x{address:x}"
        base = addrs[i]
        # Among labels at or before the address, take the nearest non-local one if it is in
        # the same section, so listings read `__seamcall_ret+0x1c` rather than `.Lfoo+0x4`.
        j = i
        while j >= 0 and _local(self._by_addr[j][1]):
            j -= 1
        if j >= 0 and self.section_at(self._by_addr[j][0]) == self.section_at(address):
            base, name = self._by_addr[j]
        else:
            base, name = self._by_addr[i]
        off = address - base
        return name if off == 0 else f"{name}+0x{off:x}"

    def section_at(self, address: int) -> Section | None:
        return next((s for s in self.sections if s.address <= address < s.end), None)

    def extable_entry(self, address: int) -> ExtableEntry | None:
        return next((e for e in self.extable if e.fault == address), None)

    def line_at(self, address: int) -> SourceLine | None:
        """The first line (in `lines` order) whose bytes cover `address`."""
        if not self._line_index and self.lines:
            object.__setattr__(self, "_line_index", _index_lines(self.lines))
        if not self.lines:
            return None
        starts, reach, order = self._line_index
        # Candidates start at or before the address; walk back only while an earlier line
        # could still reach it (reach[j] is the furthest end among lines 0..j by start).
        best = None
        j = bisect.bisect_right(starts, address) - 1
        while j >= 0 and reach[j] > address:
            k = order[j]
            ln = self.lines[k]
            if address < ln.address + max(ln.size, 1) and (best is None or k < best):
                best = k
            j -= 1
        return None if best is None else self.lines[best]

    @property
    def end(self) -> int:
        return max((s.end for s in self.sections), default=IMAGE_BASE)


def _index_lines(lines: tuple[SourceLine, ...]) -> tuple:
    """Lines sorted by start address, with the running furthest end, for line_at()."""
    order = sorted(range(len(lines)), key=lambda k: (lines[k].address, k))
    starts, reach, furthest = [], [], -1
    for k in order:
        ln = lines[k]
        furthest = max(furthest, ln.address + max(ln.size, 1))
        starts.append(ln.address)
        reach.append(furthest)
    return tuple(starts), tuple(reach), tuple(order)


def _local(name: str) -> bool:
    return name.startswith(".L") or name[:1].isdigit() or "\x02" in name


__all__ = [
    "AltEntry",
    "ExtableEntry",
    "IMAGE_BASE",
    "Image",
    "Section",
    "SourceLine",
    "SymbolInfo",
]
