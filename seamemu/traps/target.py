# SPDX-License-Identifier: MIT
"""What the SEAMCALL trap hands to whatever sits behind it, and what it gets back.

Any object with these methods can stand behind the trap (the TDX module model, a test double,
a recorded replay), the way any function can stand in for an httpx transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from seamemu.jsonout import JsonRecord, hex64, hex_map, hex_short, json_as


class GuestMemory(Protocol):
    """Guest physical memory as the module sees it (the machine provides it)."""

    def read(self, pa: int, size: int) -> bytes: ...

    def write(self, pa: int, data: bytes) -> None: ...

    def present(self, pa: int, size: int) -> bool: ...


# Instruction-level outcomes a reply may ask for instead of a status (fault injection, and the
# P-SEAMLDR's one-LP-at-a-time rule): the trap applies them as the CPU would.
INJECTABLE_FAULTS = ("#GP", "#UD", "VMfailInvalid")
# A target that stopped for good inside the call (Intel's module hit its fatal path): the
# SEAMCALL never returns; the machine stops the run and reports the record's note.
HALT = "halt"


def _ranges_json(ranges: tuple[tuple[int, int], ...]) -> list:
    return [[hex_short(pa), size] for pa, size in ranges]


@dataclass(frozen=True)
class CallRecord(JsonRecord):
    """One SEAMCALL that reached the module: everything a test, a log or --json needs."""

    seq: int
    lp: int
    leaf: int                       # RAX bits 15:0 (or the full RAX for P-SEAMLDR leaves)
    leaf_name: str                  # "TDH.SYS.INFO", or "unknown" / "not modelled"
    version: int
    # Every register the SEAMCALL ABI can carry (RAX, RCX, RDX, R8-R15, RBX, RDI, RSI) as it
    # was at the SEAMCALL, whether the leaf read it or not; `consumed` names the ones it read.
    inputs: Mapping[str, int] = field(metadata=json_as(hex_map))
    consumed: tuple[str, ...] = field(default=(), kw_only=True)  # the `inputs` the leaf read
    outputs: Mapping[str, int] = field(metadata=json_as(hex_map))
    status: int = field(metadata=json_as(hex64))
    status_name: str
    state_before: str = ""
    state_after: str = ""
    note: str = ""                  # e.g. "not modelled", "injected", "P-SEAMLDR"
    injected: str | None = None
    memory_written: tuple[tuple[int, int], ...] = field(  # (pa, size) ranges the leaf wrote
        default=(), metadata=json_as(_ranges_json))
    checks: tuple[str, ...] = ()    # ids of the leaf checks evaluated, in order

    @property
    def consumed_inputs(self) -> dict[str, int]:
        """The inputs the leaf read, in the order the leaf lists them."""
        return {r: self.inputs[r] for r in self.consumed if r in self.inputs}


@dataclass(frozen=True)
class SeamReply:
    """The module's answer: the registers it changed (always `rax`), or an instruction fault."""

    regs: Mapping[str, int] = field(default_factory=dict)
    fault: str | None = None        # one of INJECTABLE_FAULTS, HALT, or None
    record: CallRecord | None = None


class SeamTarget(Protocol):
    """What sits behind SEAMCALL: the TDX module and the P-SEAMLDR."""

    def module_loaded(self) -> bool: ...

    def pseamldr_present(self) -> bool: ...

    def pseamldr_busy(self, lp: int) -> bool: ...

    def seamcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory) -> SeamReply: ...


__all__ = ["CallRecord", "GuestMemory", "HALT", "INJECTABLE_FAULTS", "SeamReply", "SeamTarget"]
