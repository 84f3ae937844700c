# SPDX-License-Identifier: MIT
"""MOV SS (8E /2) in 64-bit mode: the selector checks as a table, and the interrupt shadow.

Spec: Intel SDM Vol. 2B "MOV—Move" (Operation, "IF SS is loaded"; 64-Bit Mode Exceptions):
- a NULL selector (index 0, TI 0) may be loaded into SS only at CPL < 3 with RPL = CPL,
  else #GP(0);
- a selector outside its descriptor table's limit, RPL != CPL, a segment that is not a
  writable data segment, or DPL != CPL: #GP(selector);
- a segment that is not present: #SS(selector).
The error code of a selector fault is the selector with its RPL bits cleared (SDM Vol. 3A
§6.13 "Error Code": EXT and IDT are 0 for a fault of the instruction itself).  There is no
LDT on this machine (LDTR is null), so a TI = 1 selector is always outside its table.

A successful MOV SS blocks interrupts and debug exceptions until the next instruction
completes (SDM Vol. 3A §6.8.3 "Masking Exceptions and Interrupts When Switching Stacks"), and
SEAMCALL in that shadow raises #GP(0) (traps/seamcall.py, row gp_mov_ss).  POP SS, the other
way to set the shadow, is invalid in 64-bit mode (#UD; SDM Vol. 2B "POP").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from seamemu.traps.cpu_state import CpuState
from seamemu.traps.rule_table import Check, Decision, Effect, decide

EXECUTED = "executed"
_SRC = "Intel SDM Vol. 2B MOV (Operation, 64-Bit Mode Exceptions)"

# Segment descriptor bits (high dword << 32).  Spec: SDM Vol. 3A §3.4.5.
_DESC_TYPE_A = 1 << 40     # accessed
_DESC_TYPE_W = 1 << 41     # data: writable
_DESC_TYPE_CODE = 1 << 43  # 1: code segment
_DESC_S = 1 << 44          # 1: code or data (not system)
_DESC_DPL_SHIFT = 45
_DESC_P = 1 << 47


@dataclass(frozen=True, slots=True)
class MovSsInputs:
    """What the MOV SS checks read: the CPU, the selector and its descriptor (None: no entry)."""

    cpu: CpuState
    selector: int
    descriptor: int | None

    @property
    def null(self) -> bool:
        return self.selector & 0xFFFC == 0

    @property
    def rpl(self) -> int:
        return self.selector & 3

    @property
    def dpl(self) -> int:
        return ((self.descriptor or 0) >> _DESC_DPL_SHIFT) & 3

    @property
    def writable_data(self) -> bool:
        d = self.descriptor or 0
        return bool(d & _DESC_S) and not d & _DESC_TYPE_CODE and bool(d & _DESC_TYPE_W)


MOV_SS_CHECKS: tuple[Check, ...] = (
    Check("gp_null", "MOV SS with a NULL selector at CPL 3, or with RPL != CPL, raises #GP(0).",
          lambda i: i.null and (i.cpu.cpl == 3 or i.rpl != i.cpu.cpl), "#GP",
          "#GP(0): MOV SS with the NULL selector 0x{i.selector:04x} at CPL {i.cpu.cpl}",
          source=_SRC),
    Check("null_ok", "MOV SS with a NULL selector at CPL < 3 and RPL = CPL loads it.",
          lambda i: i.null, EXECUTED,
          "MOV SS: SS = NULL selector 0x{i.selector:04x}; the next instruction runs in the "
          "MOV SS shadow", source=_SRC),
    Check("gp_limit", "MOV SS with a selector outside its descriptor table raises #GP(sel).",
          lambda i: i.descriptor is None, "#GP",
          "#GP(0x{i.selector:04x}): MOV SS selector outside the descriptor table", source=_SRC),
    Check("gp_rpl", "MOV SS with RPL != CPL raises #GP(sel).",
          lambda i: i.rpl != i.cpu.cpl, "#GP",
          "#GP(0x{i.selector:04x}): MOV SS selector RPL {i.rpl} != CPL {i.cpu.cpl}", source=_SRC),
    Check("gp_not_writable", "MOV SS of a segment that is not writable data raises #GP(sel).",
          lambda i: not i.writable_data, "#GP",
          "#GP(0x{i.selector:04x}): MOV SS of a segment that is not a writable data segment",
          source=_SRC),
    Check("gp_dpl", "MOV SS with DPL != CPL raises #GP(sel).",
          lambda i: i.dpl != i.cpu.cpl, "#GP",
          "#GP(0x{i.selector:04x}): MOV SS descriptor DPL {i.dpl} != CPL {i.cpu.cpl}",
          source=_SRC),
    Check("ss_not_present", "MOV SS of a segment that is not present raises #SS(sel).",
          lambda i: not (i.descriptor or 0) & _DESC_P, "#SS",
          "#SS(0x{i.selector:04x}): MOV SS of a segment that is not present", source=_SRC),
    Check("load", "Otherwise MOV SS loads SS and starts the MOV SS shadow.",
          lambda i: True, EXECUTED,
          "MOV SS: SS = 0x{i.selector:04x}; the next instruction runs in the MOV SS shadow",
          source=_SRC),
)


def decide_mov_ss(cpu: CpuState, selector: int, descriptor: int | None) -> Decision:
    """What MOV SS does with this selector (and its descriptor, None when outside the table)."""
    inputs = MovSsInputs(cpu, selector & 0xFFFF, descriptor)
    verdict = decide(MOV_SS_CHECKS, inputs)
    assert verdict is not None  # the last row always matches
    if verdict.kind in ("#GP", "#SS") and verdict.check != "gp_null":
        verdict = dataclasses.replace(verdict, error_code=inputs.selector & 0xFFFC)
    return verdict


def execute_mov_ss(cpu: CpuState, selector: int, descriptor: int | None, length: int) -> Effect:
    """A fault at the instruction, or RIP advanced past it (the caller loads SS)."""
    decision = decide_mov_ss(cpu, selector, descriptor)
    if decision.kind == EXECUTED or decision.vector is None:
        return Effect(decision, rip_advance=length)
    return Effect(decision, fault=(decision.vector, decision.error_code))


def accessed(descriptor: int) -> int:
    """The descriptor with its accessed bit set, as loading it leaves it in the table."""
    return descriptor | _DESC_TYPE_A


__all__ = [
    "MOV_SS_CHECKS",
    "MovSsInputs",
    "accessed",
    "decide_mov_ss",
    "execute_mov_ss",
]
