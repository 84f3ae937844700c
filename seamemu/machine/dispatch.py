# SPDX-License-Identifier: MIT
"""The invalid-instruction dispatch table, and the ModRM decoding VMXON's operand needs.

Unicorn reports SEAMCALL, TDCALL, VMXON, VMXOFF, UD2 and every other opcode it cannot run as
an invalid instruction.  The LP's hook looks the bytes at RIP up here: first by address (for
instructions a loader patched, e.g. RDMSR/WRMSR, which Unicorn would otherwise execute), then
by byte prefix, longest first (registration order among equal lengths).  A handler returns an
`Effect`, or None for "not mine", in which case the next matching entry is tried; nothing
matching means #UD.  Adding an
instruction is `table.add_pattern(...)`/`table.add_address(...)`; the hook never changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from seamemu.machine.regs import GPR_BY_NUMBER
from seamemu.traps.rule_table import Effect

if TYPE_CHECKING:
    from seamemu.machine.lp import LogicalProcessor


class InsnHandler(Protocol):
    def __call__(self, lp: LogicalProcessor, rip: int, code: bytes,
                 vals: list[int]) -> Effect | None: ...


@dataclass(frozen=True)
class InsnEntry:
    name: str           # mnemonic reported in seam events ("seamcall", "rdmsr", ...)
    handler: Callable
    pattern: bytes = b""
    address: int | None = None


class InsnTable:
    """Byte pattern or patched address -> handler, for instructions Unicorn cannot run."""

    def __init__(self) -> None:
        self._patterns: list[InsnEntry] = []
        self._addresses: dict[int, InsnEntry] = {}
        # Fast path: pattern length -> {pattern: first entry}, longest length first, so
        # the usual lookup is one dict probe per distinct length.
        self._by_length: list[tuple[int, dict[bytes, InsnEntry]]] = []

    def add_pattern(self, pattern: bytes, name: str, handler: Callable) -> None:
        if not pattern:
            raise ValueError("add_pattern: empty byte pattern")
        entry = InsnEntry(name, handler, pattern=bytes(pattern))
        self._patterns.append(entry)
        lengths = dict(self._by_length)
        lengths.setdefault(len(entry.pattern), {}).setdefault(entry.pattern, entry)
        self._by_length = sorted(lengths.items(), key=lambda kv: -kv[0])

    def first(self, rip: int, code: bytes) -> InsnEntry | None:
        """The most specific entry for the instruction: patched address, else longest pattern."""
        entry = self._addresses.get(rip)
        if entry is not None:
            return entry
        for n, by_pattern in self._by_length:
            entry = by_pattern.get(code[:n])
            if entry is not None:
                return entry
        return None

    def add_address(self, address: int, name: str, handler: Callable) -> None:
        self._addresses[address] = InsnEntry(name, handler, address=address)

    def candidates(self, rip: int, code: bytes) -> list[InsnEntry]:
        """Entries that may own the instruction at `rip`, most specific first."""
        found = []
        entry = self._addresses.get(rip)
        if entry is not None:
            found.append(entry)
        found.extend(sorted((e for e in self._patterns if code.startswith(e.pattern)),
                            key=lambda e: -len(e.pattern)))
        return found

    @property
    def entries(self) -> tuple[InsnEntry, ...]:
        return tuple(self._patterns) + tuple(self._addresses.values())


def memory_operand(code: bytes, pos: int, rex: int, vals: list[int], next_rip_base: int
                   ) -> tuple[int | None, int, int]:
    """Decode the ModRM (+SIB, displacement) at code[pos] in 64-bit mode.

    Returns (effective address or None for a register operand, ModRM.reg, bytes consumed).
    `next_rip_base` is the instruction's address; RIP-relative operands add its length.
    Spec: Intel SDM Vol. 2A §2.2.1 (REX), Tables 2-2 and 2-3 (ModRM/SIB), §2.2.1.6 (RIP-rel).
    """
    modrm = code[pos]
    mod, reg, rm = modrm >> 6, (modrm >> 3) & 7, modrm & 7
    n = 1
    if mod == 3:
        return None, reg, n
    base_num: int | None
    index_num: int | None = None
    scale = 1
    if rm == 4:  # SIB follows
        sib = code[pos + n]
        n += 1
        scale = 1 << (sib >> 6)
        idx = ((sib >> 3) & 7) | ((rex & 2) << 2)
        index_num = None if idx == 4 else idx
        base = sib & 7
        base_num = None if (base == 5 and mod == 0) else base | ((rex & 1) << 3)
        if base == 5 and mod == 0:
            mod_disp = 4
        else:
            mod_disp = (0, 1, 4)[mod]
        rip_relative = False
    elif rm == 5 and mod == 0:
        base_num, mod_disp, rip_relative = None, 4, True
    else:
        base_num, mod_disp, rip_relative = rm | ((rex & 1) << 3), (0, 1, 4)[mod], False
    disp = int.from_bytes(code[pos + n:pos + n + mod_disp], "little", signed=True) if mod_disp else 0
    n += mod_disp
    ea = disp
    if base_num is not None:
        ea += vals[GPR_BY_NUMBER[base_num]]
    if index_num is not None:
        ea += vals[GPR_BY_NUMBER[index_num]] * scale
    if rip_relative:
        ea += next_rip_base + pos + n
    return ea & ((1 << 64) - 1), reg, n


__all__ = ["InsnEntry", "InsnHandler", "InsnTable", "memory_operand"]
