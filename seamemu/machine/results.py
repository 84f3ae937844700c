# SPDX-License-Identifier: MIT
"""What a run reports: bounds, fault events, SEAM-family events, bound hits, the call result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from seamemu.errors import InputError
from seamemu.jsonout import JsonRecord, hex64, hex_map, json_as, record_json
from seamemu.machine.regs import NAMES
from seamemu.traps.rule_table import Decision
from seamemu.traps.target import CallRecord

OUTCOMES = ("returned", "fault", "bound", "vmexit", "halt")
# What the session and the tools call a "returned" run in which no SEAMCALL executed: RAX then
# holds whatever the function left there, not a status, and nothing was decided.
NO_SEAMCALL = "no-seamcall"
NO_SEAMCALL_TEXT = "no SEAMCALL was executed"
# The same for a TD guest's call, whose instruction is TDCALL.
NO_TDCALL = "no-tdcall"
NO_TDCALL_TEXT = "no TDCALL was executed"
# Each "nothing was called" outcome and its words.
NO_CALL: dict[str, str] = {NO_SEAMCALL: NO_SEAMCALL_TEXT, NO_TDCALL: NO_TDCALL_TEXT}


@dataclass(frozen=True)
class Bounds:
    """Every run stops after `max_insns` guest instructions or `timeout_s` wall seconds."""

    max_insns: int = 1_000_000
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_insns <= 0 or self.timeout_s <= 0:
            raise InputError(f"Bounds must be positive, got {self.max_insns}, {self.timeout_s}")


@dataclass(frozen=True)
class FaultEvent(JsonRecord):
    """One exception the guest raised, and who handled it (None: unhandled, the run stopped)."""

    JSON_KEYS = ("vector", "name", "error_code", "handled", "handled_by", "address", "symbol",
                 "fixup", "access", "detail")

    vector: int
    name: str                        # "#GP", "#UD", "#PF", ...
    error_code: int | None
    address: int = field(metadata=json_as(hex64))  # RIP the CPU reports: the insn, or after a trap
    symbol: str
    handled_by: str | None = None    # "extable", "idt" or None
    fixup: int | None = field(default=None, metadata=json_as(hex64))   # where execution resumed
    access: int | None = field(default=None, metadata=json_as(hex64))  # data address of a memory fault (CR2)
    detail: str = ""
    insn: bytes = b""                # instruction bytes at `address`
    regs: Mapping[str, int] = field(default_factory=dict)  # at the fault (unhandled only)
    # A JMP, CALL or RET at `address` whose non-canonical target the CPU refused (#GP(0)
    # at the branch: machine/noncanonical.py); its words are in `detail`.
    branch_target: int | None = None

    @property
    def handled(self) -> bool:
        return self.handled_by is not None

    def report(self) -> str:
        """A kernel-oops-like text for an unhandled fault."""
        ec = "" if self.error_code is None else f" error_code=0x{self.error_code:x}"
        lines = [f"unhandled {self.name} (vector {self.vector}){ec} at RIP 0x{self.address:016x} "
                 f"<{self.symbol}>"]
        if self.detail:
            lines.append(self.detail)
        if self.access is not None:
            lines.append(f"address: 0x{self.access:016x}")
        if self.insn:
            lines.append("Code: " + " ".join(f"{b:02x}" for b in self.insn))
        names = [n for n in NAMES if n in self.regs]
        for i in range(0, len(names), 3):
            lines.append("  ".join(f"{n.upper():>6}: 0x{self.regs[n]:016x}" for n in names[i:i + 3]))
        return "\n".join(lines)


class SeamEvent(NamedTuple):
    """One trapped instruction (SEAMCALL, TDCALL, VMXON, ...) and what it did.

    Immutable like the other results, but a NamedTuple: one is built per emulated SEAMCALL
    and that costs a quarter of a frozen dataclass (see traps.table.Effect).
    """

    insn: str
    lp: int
    address: int
    symbol: str
    decision: Decision
    record: CallRecord | None = None

    def to_json(self) -> dict:
        return record_json(self, convert={"address": hex64})


@dataclass(frozen=True)
class BoundInfo(JsonRecord):
    """Where a run was stopped by its bounds (or halted with nothing to wake it)."""

    kind: str      # "instructions", "time", "halt" or "debugger" (gdb killed the run)
    rip: int = field(metadata=json_as(hex64))
    symbol: str
    bytes: bytes
    limit: float


class CallResult(NamedTuple):
    """The outcome of `Machine.call`: registers before/after, faults, SEAM events, bounds.

    A NamedTuple like SeamEvent: one is built per call, and a frozen dataclass's __init__
    cost a tenth of a whole SEAMCALL round trip.

    `outcome`: "returned" (back at the sentinel return address), "fault" (an unhandled
    exception, the last of `faults`), "bound" (see `bound`), or "vmexit" (an instruction left
    the guest, which no modelled VMM catches; the last seam event says which).
    """

    outcome: str
    regs_before: Mapping[str, int]
    regs_after: Mapping[str, int]
    faults: tuple[FaultEvent, ...] = ()
    seam_events: tuple[SeamEvent, ...] = ()
    insn_count: int | None = None
    bound: BoundInfo | None = None
    lp: int = 0

    @property
    def rax(self) -> int:
        return self.regs_after["rax"]

    @property
    def fault(self) -> FaultEvent | None:
        """The unhandled fault that stopped the run, if any."""
        if self.outcome == "fault" and self.faults:
            return self.faults[-1]
        return None

    def to_json(self) -> dict:
        return record_json(self, ("outcome", "lp", "regs_before", "regs_after", "faults",
                                  "seam_events", "insn_count", "bound"),
                           {"regs_before": hex_map, "regs_after": hex_map})


__all__ = ["BoundInfo", "Bounds", "CallResult", "FaultEvent", "NO_CALL", "NO_SEAMCALL",
           "NO_SEAMCALL_TEXT", "NO_TDCALL", "NO_TDCALL_TEXT", "OUTCOMES", "SeamEvent"]
