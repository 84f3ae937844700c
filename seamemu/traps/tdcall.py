# SPDX-License-Identifier: MIT
"""TDCALL (66 0F 01 CC): its checks as a table; there is no TDX module behind it here.

Spec: Intel TDX CPU Architectural Extensions, TDCALL, as quoted on the HJLebbink/asm-dude
wiki page "TDCALL": outside VMX non-root and SEAM non-root operation -> #UD; CPL > 0 ->
#GP(0); otherwise a VM exit (basic reason 77) to the VMM or, from a TD, to the TDX module.
KVM commit 9d7dfb95 confirms the CPL check precedes the VM exit.  seamemu models the host
side only, so a TDCALL that gets past the checks is reported as a "vmexit" decision and the
run stops there.
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.traps.cpu_state import CpuState
from seamemu.traps.rule_table import Check, Decision, Effect, decide, effect_of

TDCALL_LENGTH = 4
EXIT_REASON_TDCALL = 77  # Spec: SDM Appendix C; Linux arch/x86/include/uapi/asm/vmx.h

_SRC = "Intel TDCALL description (github.com/HJLebbink/asm-dude/wiki/TDCALL); KVM commit 9d7dfb95"


@dataclass(frozen=True, slots=True)
class TdcallInputs:
    cpu: CpuState


TDCALL_CHECKS: tuple[Check, ...] = (
    Check("ud_not_guest", "TDCALL outside VMX non-root and SEAM non-root operation raises #UD.",
          lambda i: not (i.cpu.vmx_non_root or i.cpu.td_guest), "#UD",
          "#UD: TDCALL outside a guest (neither VMX non-root nor SEAM non-root operation)",
          source=_SRC),
    Check("gp_cpl", "TDCALL at CPL > 0 raises #GP(0).",
          lambda i: i.cpu.cpl > 0, "#GP", "#GP(0): CPL {i.cpu.cpl} > 0", source=_SRC),
    Check("vmexit_td", "TDCALL from a TD guest exits to the TDX module (not modelled).",
          lambda i: i.cpu.td_guest, "vmexit",
          "VM exit (basic reason 77, TDCALL) from a TD guest to the TDX module; seamemu has "
          "no TD-side module, so the run stops here", exit_reason=EXIT_REASON_TDCALL,
          source=_SRC),
    Check("vmexit_non_root", "TDCALL in VMX non-root operation exits to the VMM.",
          lambda i: True, "vmexit",
          "VM exit (basic reason 77, TDCALL) to the VMM; no VMM is modelled, so the run stops "
          "here", exit_reason=EXIT_REASON_TDCALL, source=_SRC),
)


def decide_tdcall(cpu: CpuState) -> Decision:
    """What TDCALL does in this CPU state."""
    verdict = decide(TDCALL_CHECKS, TdcallInputs(cpu))
    assert verdict is not None  # the last row always matches
    return verdict


def execute_tdcall(cpu: CpuState, rflags: int) -> Effect:
    """The effect of TDCALL: a fault, or a VM exit that stops the run at the instruction."""
    return effect_of(decide_tdcall(cpu), rflags, TDCALL_LENGTH)


__all__ = [
    "EXIT_REASON_TDCALL",
    "TDCALL_CHECKS",
    "TDCALL_LENGTH",
    "TdcallInputs",
    "decide_tdcall",
    "execute_tdcall",
]
