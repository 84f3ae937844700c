# SPDX-License-Identifier: MIT
"""CPUID (0F A2): a VM exit in a guest, else the platform's CPUID table for the LP.

Spec: Intel SDM Vol. 3C §26.1.2 "Instructions That Cause VM Exits Unconditionally" (CPUID in
VMX non-root operation, which includes a TD) and Appendix C (basic exit reason 10); Intel SDM
Vol. 2A "CPUID" for the answers (seamemu.platform.cpuid_table).  No VMM and no TD-side TDX
module are modelled, so a CPUID in a guest stops the run at the instruction, as TDCALL does.

On the host, the answer is the platform's CPUID table for that LP, the same table the SEAM CPU
answers Intel's module from and the module model samples in TDH.SYS.INIT: one CPU, one CPUID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from seamemu.platform.cpuid_table import Regs, cpuid
from seamemu.traps.cpu_state import CpuState
from seamemu.traps.rule_table import Check, Effect, decide

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
          "VM exit (basic reason 10, CPUID leaf 0x{i.leaf:x}): executed in a guest; neither a "
          "VM's VMM nor a TD's CPUID virtualization is modelled, so the run stops here",
          exit_reason=EXIT_REASON_CPUID,
          source=_SRC),
    Check("answer", "Otherwise CPUID answers from the platform's CPUID table for the LP.",
          lambda i: True, EXECUTED,
          "CPUID leaf 0x{i.leaf:x} sub-leaf 0x{i.subleaf:x}: the platform's CPUID table",
          source=_SRC),
)


def execute_cpuid(cpu: CpuState, table: Mapping[tuple[int, int], Regs], leaf: int,
                  subleaf: int) -> Effect:
    """The effect of CPUID(leaf, subleaf) on an LP answering from `table`: a VM exit, or
    RAX/RBX/RCX/RDX written."""
    leaf &= 0xFFFF_FFFF
    subleaf &= 0xFFFF_FFFF
    decision = decide(CPUID_CHECKS, CpuidInputs(cpu, leaf, subleaf))
    assert decision is not None  # the last row always matches
    if decision.kind == "vmexit":
        return Effect(decision)
    regs = cpuid(table, leaf, subleaf)
    return Effect(decision, dict(zip(("rax", "rbx", "rcx", "rdx"), regs)),
                  rip_advance=CPUID_LENGTH)


__all__ = [
    "CPUID_CHECKS",
    "CPUID_LENGTH",
    "CpuidInputs",
    "EXIT_REASON_CPUID",
    "execute_cpuid",
]
