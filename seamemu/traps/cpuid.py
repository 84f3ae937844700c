# SPDX-License-Identifier: MIT
"""CPUID (0F A2): a VM exit in a guest, else the platform's fields over the CPU model's answer.

Spec: Intel SDM Vol. 3C §26.1.2 "Instructions That Cause VM Exits Unconditionally" (CPUID in
VMX non-root operation, which includes a TD) and Appendix C (basic exit reason 10); Intel SDM
Vol. 2A "CPUID" for the fields (seamemu.arch.cpuid).  No VMM and no TD-side TDX module are
modelled, so a CPUID in a guest stops the run at the instruction, as TDCALL does.

On the host, the answer is Unicorn's own CPU model (its vendor, family, the rest of the
feature flags, the rule that a leaf above the maximum returns the highest basic leaf) with
every field the platform implies (platform/cpuid_values.py) written over it, so the bits
that matter here (VMX, SMX, TME, the address widths) agree with the platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from seamemu.arch.cpuid import REGISTERS, CpuidField
from seamemu.traps.cpu_state import CpuState
from seamemu.traps.rule_table import Check, Decision, Effect, decide

CPUID_LENGTH = 2
EXIT_REASON_CPUID = 10  # Spec: SDM Vol. 3C Appendix C; Linux arch/x86/include/uapi/asm/vmx.h
EXECUTED = "executed"
_SRC = "Intel SDM Vol. 3C §26.1.2; Vol. 2A CPUID"


@dataclass(frozen=True, slots=True)
class CpuidInputs:
    cpu: CpuState
    leaf: int
    subleaf: int


CPUID_CHECKS: tuple[Check, ...] = (
    Check("vmexit_guest", "CPUID in VMX non-root operation (or a TD) causes a VM exit.",
          lambda i: i.cpu.vmx_non_root or i.cpu.td_guest, "vmexit",
          "VM exit (basic reason 10, CPUID leaf 0x{i.leaf:x}): executed in a guest; no VMM or "
          "TD-side module is modelled, so the run stops here", exit_reason=EXIT_REASON_CPUID,
          source=_SRC),
    Check("answer", "Otherwise CPUID answers with the platform's fields over the CPU model's.",
          lambda i: True, EXECUTED,
          "CPUID leaf 0x{i.leaf:x} sub-leaf 0x{i.subleaf:x}", source=_SRC),
)


def cpuid_answer(values: Mapping[CpuidField, int], leaf: int, subleaf: int,
                 model: tuple[int, int, int, int]) -> tuple[tuple[int, int, int, int], list[str]]:
    """(EAX, EBX, ECX, EDX) with the platform's `values` over the CPU model's answer, and the
    platform fields that were applied, in words."""
    out = dict(zip(REGISTERS, model))
    applied = []
    for f, value in values.items():
        if f.leaf == leaf and (f.subleaf is None or f.subleaf == subleaf):
            out[f.register] = (out[f.register] & ~f.mask) | ((value << f.lo) & f.mask)
            bits = f"[{f.hi}:{f.lo}]" if f.hi != f.lo else f"[{f.lo}]"
            applied.append(f"{f.register.upper()}{bits} {f.name} = {value}")
    return (out["eax"], out["ebx"], out["ecx"], out["edx"]), applied


def execute_cpuid(cpu: CpuState, values: Mapping[CpuidField, int], leaf: int, subleaf: int,
                  model: tuple[int, int, int, int]) -> Effect:
    """The effect of CPUID(leaf, subleaf): a VM exit, or RAX/RBX/RCX/RDX written."""
    leaf &= 0xFFFF_FFFF
    subleaf &= 0xFFFF_FFFF
    decision = decide(CPUID_CHECKS, CpuidInputs(cpu, leaf, subleaf))
    assert decision is not None  # the last row always matches
    if decision.kind == "vmexit":
        return Effect(decision)
    regs, applied = cpuid_answer(values, leaf, subleaf, model)
    rule = decision.rule + (": from the platform " + ", ".join(applied) if applied
                            else ": Unicorn's CPU model (no platform field in this leaf)")
    decision = Decision(decision.kind, rule, decision.check)
    return Effect(decision, dict(zip(("rax", "rbx", "rcx", "rdx"), regs)),
                  rip_advance=CPUID_LENGTH)


__all__ = [
    "CPUID_CHECKS",
    "CPUID_LENGTH",
    "CpuidInputs",
    "EXIT_REASON_CPUID",
    "cpuid_answer",
    "execute_cpuid",
]
