# SPDX-License-Identifier: MIT
"""The scripted module behind the trap, and what the instruction itself should do for a case.

`ScriptedModule` is a `SeamTarget` that answers every SEAMCALL with the case's planned answer
(a status and output registers, or #GP/#UD/VMfailInvalid) and keeps the exact registers the
first SEAMCALL handed it, so the invariants can compare them with what the caller supplied.
`RealAnswers` lets Intel's module answer instead and reports what it answered.
`instruction_outcome` says, from the CPU state alone, whether SEAMCALL (or, for the guest's
conventions, TDCALL) reaches the module at all; it asks the same decision tables the traps use
(seamemu.traps), so the two cannot drift.  The scripted module answers a TD's TDCALL too (it is
then the module's guest side, with the VMM behind it folded into its planned answer).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from seamemu.arch.kernel import TDX_SEAMCALL_GP, TDX_SEAMCALL_UD, TDX_SEAMCALL_VMFAILINVALID
from seamemu.fuzz.case import Answer, Case, Cpu
from seamemu.traps import seamcall
from seamemu.traps.cpu_state import SEAMRR_MASK_LOCK, SEAMRR_MASK_VALID, CpuState
from seamemu.traps.seamcall import LOADER_BIT, SeamcallTable, decide_seamcall
from seamemu.traps.target import GuestMemory, SeamReply
from seamemu.traps.tdcall import decide_tdcall

# RAX after a call through an args stub when the instruction itself failed.
# Spec: Linux arch/x86/include/asm/tdx.h (095b71a); arch/x86/virt/vmx/tdx/tdxcall.S.
SW_CODE_OF = {"#GP": TDX_SEAMCALL_GP, "#UD": TDX_SEAMCALL_UD,
              "VMfailInvalid": TDX_SEAMCALL_VMFAILINVALID}


class ScriptedModule:
    """A SeamTarget answering as planned; P-SEAMLDR always present and never busy."""

    def __init__(self) -> None:
        self.loaded = True
        self.reply = SeamReply({"rax": 0})
        self.received: Mapping[str, int] | None = None
        self.calls = 0
        self._fault_replies = {k: SeamReply({}, fault=k) for k in SW_CODE_OF}

    def arm(self, answer: Answer, loaded: bool) -> None:
        """Plan the next run's answer and reset what was received."""
        self.loaded = loaded
        self.calls = 0
        self.received = None
        if answer.kind == "status":
            regs = dict(answer.outputs)
            regs["rax"] = answer.status
            self.reply = SeamReply(regs)
        else:
            self.reply = self._fault_replies[answer.kind]

    # -- SeamTarget ----------------------------------------------------------------------------
    def module_loaded(self) -> bool:
        return self.loaded

    def pseamldr_present(self) -> bool:
        return True

    def pseamldr_busy(self, lp: int) -> bool:
        return False

    def seamcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory) -> SeamReply:
        if self.calls == 0:
            self.received = regs  # a fresh dict per SEAMCALL (traps build it), safe to keep
        self.calls += 1
        return self.reply

    # -- TdcallTarget: the same plan, for a TD's TDCALL ------------------------------------------
    def tdcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory) -> SeamReply:
        return self.seamcall(lp, regs, mem)


class RealAnswers(ScriptedModule):
    """Intel's module answering instead of the plan (`seamemu fuzz --module-binary`).

    The stub is what is fuzzed; the module's answer is whatever Intel's code says for the
    case's registers (its state carries over from case to case).  `answer` is that answer in
    the plan's terms, so the invariants and every reproducer use it; a module that halted is
    reloaded and the run is not judged (`halted`).
    """

    def __init__(self) -> None:
        super().__init__()
        self.real: Any = None               # the IntelModuleTarget, set once memory exists
        self.answer: Answer | None = None
        self.halted = ""

    def arm(self, answer: Answer, loaded: bool) -> None:
        super().arm(answer, loaded)
        self.answer = None
        self.halted = ""

    def pseamldr_present(self) -> bool:
        return bool(self.real.pseamldr_present()) if self.real is not None else True

    def seamcall(self, lp: int, regs: Mapping[str, int], mem: GuestMemory) -> SeamReply:
        if self.calls == 0:
            self.received = regs
        self.calls += 1
        reply = self.real.seamcall(lp, regs, mem)
        if reply.fault == "halt":
            self.halted = reply.record.note if reply.record is not None else "halted"
            self.real.reset()
        elif self.answer is None:
            if reply.fault is not None:
                self.answer = Answer(reply.fault)
            else:
                outs = tuple(sorted((r, v) for r, v in reply.regs.items() if r != "rax"))
                self.answer = Answer("status", reply.regs["rax"], outs)
        return reply


@functools.lru_cache(maxsize=64)
def cpu_state(cpu: Cpu) -> CpuState:
    """The CpuState a Cpu choice stands for (SEAMRR off clears VALID and LOCK, as --seamrr off)."""
    base = CpuState()
    mask = base.seamrr_mask_msr
    if not cpu.seamrr:
        mask &= ~(SEAMRR_MASK_VALID | SEAMRR_MASK_LOCK)
    if cpu.td:   # a TD's vCPU: VMX non-root operation, whatever `vmx` says of the host
        return base.with_(vmx_non_root=True, td_guest=True, cpl=cpu.cpl, seamrr_mask_msr=mask)
    return base.with_(vmx_operation=cpu.vmx, cpl=cpu.cpl, seamrr_mask_msr=mask)


@functools.lru_cache(maxsize=256)
def _decision(table: SeamcallTable, cpu: Cpu, loader: bool) -> str:
    # Keyed on the table too: a table never changes, so an answer never goes stale.
    return decide_seamcall(cpu_state(cpu), LOADER_BIT if loader else 0, cpu.module, True, False,
                           table=table).kind


@functools.lru_cache(maxsize=64)
def _tdcall_decision(cpu: Cpu) -> str:
    return decide_tdcall(cpu_state(cpu)).kind


def instruction_outcome(case: Case, insn: str = "seamcall") -> str:
    """What the instruction does for this case: "module" (the module answers as planned),
    "#GP", "#UD" or "VMfailInvalid" (from the CPU state, or injected by the module's answer).
    `insn` is the convention's (Spec.instruction): SEAMCALL, or TDCALL for the guest's."""
    if insn == "tdcall":
        kind = _tdcall_decision(case.cpu)
        # An ordinary VM's TDCALL exits to its VMM (not modelled): the run stops there.
        return "module" if kind == "module" and case.answer.kind == "status" else kind
    kind = _decision(seamcall.SEAMCALL_TABLE, case.cpu, bool(case.leaf & LOADER_BIT))
    if kind in ("module", "pseamldr"):
        return "module" if case.answer.kind == "status" else case.answer.kind
    return kind


def module_called(case: Case, insn: str = "seamcall") -> bool:
    """Whether the instruction reaches the module (it may still answer with a fault)."""
    if insn == "tdcall":
        return _tdcall_decision(case.cpu) == "module"
    return _decision(seamcall.SEAMCALL_TABLE, case.cpu, bool(case.leaf & LOADER_BIT)) in \
        ("module", "pseamldr")


__all__ = ["SW_CODE_OF", "ScriptedModule", "cpu_state", "instruction_outcome", "module_called"]
