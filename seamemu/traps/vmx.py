# SPDX-License-Identifier: MIT
"""VMXON (F3 0F C7 /6 m64) and VMXOFF (0F 01 C4): their SDM rules as tables, and effects.

Spec: Intel SDM Vol. 3C §31.3 "VMX Instruction Reference", VMXON and VMXOFF operation
pseudo-code; VM-exit basic reasons 26 (VMXOFF) and 27 (VMXON) from SDM Appendix C.

Simplifications, each a deliberate choice:
- "IA32_EFER.LMA = 1 and CS.L = 0" (compatibility mode) and "CR0.PE = 0" collapse into
  `long_mode` false -> #UD; seamemu runs 64-bit code only.
- IA32_FEATURE_CONTROL, A20M and the CR0/CR4 fixed bits are taken as correctly set up.
- The VMXON region's revision identifier is not checked (no IA32_VMX_BASIC is modelled);
  the pointer must be 4 KiB aligned and below 2^52 (the architectural MAXPHYADDR limit).
- VMXON in VMX root operation is VMfail(error 15, "VMXON executed in VMX root operation").
  VMfail is VMfailValid only when a current VMCS exists; seamemu models no VMPTRLD, so the
  current-VMCS pointer is always invalid and the outcome is VMfailInvalid (CF=1).
- Dual-monitor SMM treatment (VMXOFF VMfail) is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.traps.cpu_state import CpuState
from seamemu.traps.rule_table import Check, Decision, Effect, decide_total, effect_of, vmexit_in_non_root

EXIT_REASON_VMXOFF = 26
EXIT_REASON_VMXON = 27
VMXOFF_LENGTH = 3
_SDM = "Intel SDM Vol. 3C §31.3"


@dataclass(frozen=True, slots=True)
class VmxInputs:
    cpu: CpuState
    pointer: int | None = None  # VMXON: the 64-bit VMXON pointer; None for a register operand


def _bad_pointer(p: int | None) -> bool:
    return p is not None and (p & 0xFFF != 0 or p >> 52 != 0)


VMXON_CHECKS: tuple[Check, ...] = (
    Check("ud_register_operand", "VMXON with a register operand raises #UD.",
          lambda i: i.pointer is None, "#UD", "#UD: VMXON needs a memory operand", source=_SDM),
    Check("ud_vmxe", "VMXON with CR4.VMXE = 0 raises #UD.",
          lambda i: not i.cpu.cr4_vmxe, "#UD", "#UD: VMXON with CR4.VMXE = 0", source=_SDM),
    Check("ud_not_64bit", "VMXON outside 64-bit mode raises #UD (seamemu simplification).",
          lambda i: not i.cpu.long_mode, "#UD", "#UD: VMXON outside 64-bit mode", source=_SDM),
    Check("gp_cpl_outside", "VMXON outside VMX operation at CPL > 0 raises #GP(0).",
          lambda i: not i.cpu.vmx_operation and i.cpu.cpl > 0, "#GP",
          "#GP(0): VMXON at CPL {i.cpu.cpl} > 0", source=_SDM),
    Check("vmfail_pointer", "VMXON with a misaligned or too wide VMXON pointer fails with "
          "VMfailInvalid.",
          lambda i: not i.cpu.vmx_operation and _bad_pointer(i.pointer), "VMfailInvalid",
          "VMfailInvalid: VMXON pointer 0x{i.pointer:016x} is not 4 KiB aligned or sets bits "
          "beyond the physical-address width", source=_SDM),
    Check("enter", "Otherwise VMXON outside VMX operation enters VMX root operation.",
          lambda i: not i.cpu.vmx_operation, "VMsucceed",
          "VMsucceed: VMXON entered VMX root operation", source=_SDM),
    vmexit_in_non_root("VMXON", EXIT_REASON_VMXON, _SDM),
    Check("gp_cpl_root", "VMXON in VMX root operation at CPL > 0 raises #GP(0).",
          lambda i: i.cpu.cpl > 0, "#GP", "#GP(0): VMXON at CPL {i.cpu.cpl} > 0", source=_SDM),
    Check("vmfail_in_root", "VMXON in VMX root operation fails (VM-instruction error 15); "
          "with no current VMCS that is VMfailInvalid.",
          lambda i: True, "VMfailInvalid",
          "VMfailInvalid: VMXON executed in VMX root operation (VM-instruction error 15; no "
          "current VMCS, so VMfailInvalid: CF=1)", source=_SDM),
)

VMXOFF_CHECKS: tuple[Check, ...] = (
    Check("ud_not_vmx", "VMXOFF outside VMX operation raises #UD.",
          lambda i: not i.cpu.vmx_operation, "#UD", "#UD: VMXOFF outside VMX operation",
          source=_SDM),
    Check("ud_not_64bit", "VMXOFF outside 64-bit mode raises #UD (seamemu simplification).",
          lambda i: not i.cpu.long_mode, "#UD", "#UD: VMXOFF outside 64-bit mode", source=_SDM),
    vmexit_in_non_root("VMXOFF", EXIT_REASON_VMXOFF, _SDM),
    Check("gp_cpl", "VMXOFF at CPL > 0 raises #GP(0).",
          lambda i: i.cpu.cpl > 0, "#GP", "#GP(0): VMXOFF at CPL {i.cpu.cpl} > 0", source=_SDM),
    Check("leave", "Otherwise VMXOFF leaves VMX operation.",
          lambda i: True, "VMsucceed", "VMsucceed: VMXOFF left VMX operation", source=_SDM),
)


def decide_vmxon(cpu: CpuState, pointer: int | None) -> Decision:
    return decide_total(VMXON_CHECKS, VmxInputs(cpu, pointer))


def decide_vmxoff(cpu: CpuState) -> Decision:
    return decide_total(VMXOFF_CHECKS, VmxInputs(cpu))


def execute_vmxon(cpu: CpuState, pointer: int | None, rflags: int, length: int) -> Effect:
    """VMXON of `length` bytes; `pointer` is the m64 operand's value (None: register form)."""
    decision = decide_vmxon(cpu, pointer)
    new = cpu.with_(vmx_operation=True, vmx_non_root=False) if decision.kind == "VMsucceed" else None
    return effect_of(decision, rflags, length, new)


def execute_vmxoff(cpu: CpuState, rflags: int) -> Effect:
    decision = decide_vmxoff(cpu)
    new = cpu.with_(vmx_operation=False) if decision.kind == "VMsucceed" else None
    return effect_of(decision, rflags, VMXOFF_LENGTH, new)


__all__ = [
    "EXIT_REASON_VMXOFF",
    "EXIT_REASON_VMXON",
    "VMXOFF_CHECKS",
    "VMXOFF_LENGTH",
    "VMXON_CHECKS",
    "VmxInputs",
    "decide_vmxoff",
    "decide_vmxon",
    "execute_vmxoff",
    "execute_vmxon",
]
