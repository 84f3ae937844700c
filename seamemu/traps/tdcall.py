# SPDX-License-Identifier: MIT
"""TDCALL (66 0F 01 CC): its checks as a table, and the effect of a TD's TDCALL on the module.

Spec: Intel TDX CPU Architectural Extensions, TDCALL, as quoted on the HJLebbink/asm-dude wiki
page "TDCALL": outside VMX non-root and SEAM non-root operation -> #UD; CPL > 0 -> #GP(0);
otherwise a VM exit (basic reason 77) to the VMM or, from a TD, to the TDX module.  KVM commit
9d7dfb95 confirms the CPL check precedes the VM exit (and that KVM answers an ordinary VM's
TDCALL exit with #UD).  In a TD the exit goes to the TDX module: intel/tdx-module tdx_1.5
src/td_dispatcher/tdx_td_dispatcher.c (TDX_1.5.01, 72d8cff), tdx_td_dispatcher() ->
td_call(), which first injects #GP(0) when the TD is not in 64-bit mode, then runs the leaf
and resumes the TD after the TDCALL with the status in RAX; it writes only GPRs, so RFLAGS
comes back as the TD had it.  No VMM of an ordinary VM is modelled: there the run stops at
the exit.
"""

from __future__ import annotations

from collections.abc import Mapping

from seamemu.arch.registers import ABI_ORDER
from seamemu.errors import InputError
from seamemu.traps.cpu_state import CpuState
from seamemu.traps.rule_table import (
    FAULT_VECTORS,
    Check,
    CpuInputs,
    Decision,
    Effect,
    check_reply_regs,
    decide_total,
    effect_of,
    halt_effect,
)
from seamemu.traps.target import HALT, GuestMemory, SeamReply, TdcallTarget

TDCALL_LENGTH = 4
EXIT_REASON_TDCALL = 77  # Spec: SDM Appendix C; Linux arch/x86/include/uapi/asm/vmx.h
# The registers a TDCALL hands the module: every GPR in ABI order and RBP (TDG.VP.VMCALL can
# pass RBP to the VMM, tdg_vp_vmcall.c).
TDCALL_REGS: tuple[str, ...] = ABI_ORDER + ("rbp",)

_SRC = "Intel TDCALL description (github.com/HJLebbink/asm-dude/wiki/TDCALL); KVM commit 9d7dfb95"
_MODULE = "intel/tdx-module tdx_1.5 src/td_dispatcher/tdx_td_dispatcher.c (td_call)"


TdcallInputs = CpuInputs    # the table reads the CPU state alone


TDCALL_CHECKS: tuple[Check, ...] = (
    Check("ud_not_guest", "TDCALL outside VMX non-root and SEAM non-root operation raises #UD.",
          lambda i: not (i.cpu.vmx_non_root or i.cpu.td_guest), "#UD",
          "#UD: TDCALL outside a guest (neither VMX non-root nor SEAM non-root operation)",
          source=_SRC),
    Check("gp_cpl", "TDCALL at CPL > 0 raises #GP(0), checked before the VM exit.",
          lambda i: i.cpu.cpl > 0, "#GP", "#GP(0): CPL {i.cpu.cpl} > 0", source=_SRC),
    Check("vmexit_non_root", "TDCALL in an ordinary VM exits to its VMM (reason 77).",
          lambda i: not i.cpu.td_guest, "vmexit",
          "VM exit (basic reason 77, TDCALL) to the VM's VMM (KVM answers it with #UD); no "
          "VMM of an ordinary VM is modelled, so the run stops here",
          exit_reason=EXIT_REASON_TDCALL, source=_SRC),
    Check("gp_td_not_64bit", "TDCALL from a TD outside 64-bit mode: the TDX module injects "
          "#GP(0).",
          lambda i: not i.cpu.long_mode, "#GP",
          "#GP(0): TDCALL from a TD outside 64-bit mode (injected by the TDX module)",
          source=_MODULE),
    Check("to_module", "Otherwise TDCALL from a TD exits to the TDX module (reason 77), which "
          "runs the leaf and resumes the TD.",
          lambda i: True, "module",
          "TDCALL from a TD: VM exit (basic reason 77) to the TDX module, which runs the leaf "
          "in RAX and resumes the TD after the TDCALL", exit_reason=EXIT_REASON_TDCALL,
          source=f"{_SRC}; {_MODULE}"),
)

_NO_TARGET = Decision("vmexit", "TDCALL from a TD: VM exit (basic reason 77) to the TDX module; "
                      "this machine has no module behind TDCALL, so the run stops here",
                      "no_target", exit_reason=EXIT_REASON_TDCALL)
_REG_SET = frozenset(TDCALL_REGS)


def decide_tdcall(cpu: CpuState) -> Decision:
    """What TDCALL does in this CPU state."""
    return decide_total(TDCALL_CHECKS, CpuInputs(cpu))


def execute_tdcall(cpu: CpuState, rflags: int, *, regs: Mapping[str, int] | None = None,
                   target: TdcallTarget | None = None, mem: GuestMemory | None = None,
                   lp: int = 0) -> Effect:
    """The effect of TDCALL: a fault, a VM exit that stops the run at the instruction, or, in a
    TD, the module's answer (its registers written, RIP past the TDCALL, RFLAGS as it was)."""
    decision = decide_tdcall(cpu)
    if decision.kind != "module":
        return effect_of(decision, rflags, TDCALL_LENGTH)
    if target is None or mem is None:
        return Effect(_NO_TARGET)
    given = regs or {}
    missing = [r for r in TDCALL_REGS if r not in given]
    if missing:
        raise InputError(f"execute_tdcall: regs lacks {', '.join(missing)}")
    return _apply_reply(decision, target.tdcall(lp, {r: given[r] for r in TDCALL_REGS}, mem))


def _apply_reply(decision: Decision, reply: SeamReply) -> Effect:
    if not isinstance(reply, SeamReply):
        raise InputError(f"TDCALL target returned {type(reply).__name__}, not a SeamReply")
    if reply.fault == HALT:
        return halt_effect(reply, "the TD was stopped")
    if reply.fault is not None:
        kind = reply.fault
        if kind not in FAULT_VECTORS:
            raise InputError(f"TDCALL target answered fault {kind!r}: a TD's TDCALL ends in a "
                             f"status, {HALT!r}, or one of {', '.join(sorted(FAULT_VECTORS))}")
        vector, code = FAULT_VECTORS[kind]
        injected = Decision(kind, f"{kind} injected into the TD by the TDX module", "injected",
                            vector, code)
        return Effect(injected, fault=(vector, code), reply=reply, record=reply.record)
    out = reply.regs
    check_reply_regs(out, _REG_SET, "the TDCALL target's reply")
    return Effect(decision, out, None, TDCALL_LENGTH, None, reply, reply.record)


__all__ = [
    "EXIT_REASON_TDCALL",
    "TDCALL_CHECKS",
    "TDCALL_LENGTH",
    "TDCALL_REGS",
    "TdcallInputs",
    "decide_tdcall",
    "execute_tdcall",
]
