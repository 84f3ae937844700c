# SPDX-License-Identifier: MIT
"""What one call through a stub means to a user: outcome, RAX, outputs, module calls, ABI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from seamemu.arch.ghci import tdvmcall_status_name
from seamemu.arch.kernel import SW_ERROR_NAMES
from seamemu.arch.registers import CALLEE_SAVED, GPRS, RFLAGS_DF
from seamemu.arch.status import status_name
from seamemu.jsonout import JsonRecord, hex64, hex_map, hex_regs, json_as
from seamemu.machine.results import (
    NO_CALL,
    NO_SEAMCALL,
    NO_SEAMCALL_TEXT,
    NO_TDCALL,
    NO_TDCALL_TEXT,
    BoundInfo,
    CallResult,
    FaultEvent,
)
from seamemu.traps.target import CallRecord

# SEAMCALL decisions that end the instruction without the module answering.
INSTRUCTION_FAILURES = ("#UD", "#GP", "VMfailInvalid")



def rax_name(value: int, leaf: int = 0, convention: str = "") -> str:
    """RAX after a call through a stub: a kernel software code, or the status of whichever SEAM
    software answered (the P-SEAMLDR when the leaf had RAX bit 63 set, else the module); after
    __tdx_hypercall, the VMM's status (R10)."""
    if convention == "hypercall":
        return tdvmcall_status_name(value)
    return SW_ERROR_NAMES.get(value) or status_name(value, loader=bool(leaf >> 63))


@dataclass(frozen=True)
class AbiCheck(JsonRecord):
    """SysV: callee-saved registers and RSP restored, DF clear, returned to the caller."""

    JSON_KEYS = ("preserved", "clobbered", "rsp_balanced", "df_clear", "returned")

    clobbered: tuple[str, ...]
    rsp_balanced: bool
    df_clear: bool
    returned: bool

    @property
    def preserved(self) -> bool:
        return not self.clobbered and self.rsp_balanced and self.df_clear and self.returned


def abi_check(before: Mapping[str, int], after: Mapping[str, int], returned: bool) -> AbiCheck:
    # The machine's `before` RSP points at the pushed return address; RET pops it.
    clobbered = tuple(r for r in CALLEE_SAVED if before[r] != after[r]) if returned else ()
    return AbiCheck(
        clobbered=clobbered,
        rsp_balanced=(not returned) or after["rsp"] == before["rsp"] + 8,
        df_clear=(not returned) or not after.get("rflags", 0) & RFLAGS_DF,
        returned=returned,
    )


def _regs_json(regs: Mapping[str, int]) -> dict[str, str]:
    return hex_regs(regs, GPRS) | {"rflags": hex64(regs.get("rflags", 0))}


@dataclass(frozen=True)
class RunResult(JsonRecord):
    JSON_KEYS = ("schema", "entry", "convention", "lp", "leaf", "outcome", "rax", "rax_name",
                 "rule", "regs", "inputs", "out", "calls", "abi", "fault", ("bound", "bound_json"))
    schema: ClassVar[int] = 1

    entry: str
    convention: str
    lp: int
    leaf: int
    outcome: str                      # "#UD" | "#GP" | "VMfailInvalid" | "returned" |
                                      # "no-seamcall" | "no-tdcall" | an unhandled fault |
                                      # "bound" | "halted"
    rax: int = field(metadata=json_as(hex64))
    regs: Mapping[str, int] = field(metadata=json_as(_regs_json))  # after the call, ABI order
    inputs: Mapping[str, int] = field(metadata=json_as(hex_map))
    out: Mapping[str, int] | None = field(metadata=json_as(hex_map))  # the struct after (if any)
    calls: tuple[CallRecord, ...]
    abi: AbiCheck
    rule: str = ""                    # the SEAMCALL rule that decided, e.g. "#GP(0): CPL 3 > 0"
    fault: FaultEvent | None = None   # the last exception the call raised (handled or not)
    bound: BoundInfo | None = None    # where a bound stopped the run
    bound_disasm: str = ""            # the instruction it stopped at, disassembled
    oops: str = ""                    # kernel-oops-like report of an unhandled fault
    events: tuple = field(default=(), compare=False)
    raw: CallResult = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    @property
    def rax_name(self) -> str | None:
        """RAX by name (None when nothing was called: RAX is then no status)."""
        return None if self.outcome in NO_CALL else rax_name(self.rax, self.leaf, self.convention)

    @property
    def bound_json(self) -> dict[str, Any] | None:
        if self.bound is None:
            return None
        return self.bound.to_json() | {"disasm": self.bound_disasm or "?"}


__all__ = [
    "AbiCheck",
    "INSTRUCTION_FAILURES",
    "NO_CALL",
    "NO_SEAMCALL",
    "NO_SEAMCALL_TEXT",
    "NO_TDCALL",
    "NO_TDCALL_TEXT",
    "RunResult",
    "abi_check",
    "rax_name",
]
