# SPDX-License-Identifier: MIT
"""SYSCALL (0F 05) and SYSENTER (0F 34) on a CPU whose fast-system-call MSRs are not set up.

The emulated CPU runs the code under test as a kernel would run a helper, but nothing here
programs the system-call entry points: IA32_EFER.SCE stays 0 and IA32_SYSENTER_CS stays 0
(neither MSR is in the platform's RDMSR table).  So, per the instructions' SDM operation:

- SYSCALL: "IF (CS.L != 1) or (IA32_EFER.LMA != 1) or (IA32_EFER.SCE != 1) THEN #UD".
  Spec: Intel SDM Vol. 2B "SYSCALL—Fast System Call", Operation and 64-Bit Mode Exceptions.
- SYSENTER: "IF CR0.PE = 0 OR IA32_SYSENTER_CS[15:2] = 0 THEN #GP(0)" (SYSENTER is legal in
  64-bit mode on Intel CPUs).  Spec: Intel SDM Vol. 2B "SYSENTER—Fast System Call",
  Operation and Protected Mode Exceptions.

Unicorn would execute either as a no-op (it hands them to instruction hooks and steps over
them), so the LP hooks both and applies these decisions instead.  SYSRET and SYSEXIT need no
help: Unicorn already raises #UD (EFER.SCE clear) and #GP(0) (SYSENTER_CS zero) for them.
"""

from __future__ import annotations

from seamemu.traps.cpu_state import CpuState
from seamemu.traps.rule_table import Check, CpuInputs, Decision, Effect, decide_total, effect_of

SYSCALL_LENGTH = 2
SYSENTER_LENGTH = 2

_SRC_SYSCALL = "Intel SDM Vol. 2B SYSCALL (Operation, 64-Bit Mode Exceptions)"
_SRC_SYSENTER = "Intel SDM Vol. 2B SYSENTER (Operation, Protected Mode Exceptions)"


SyscallInputs = CpuInputs   # the tables read the CPU state alone


SYSCALL_CHECKS: tuple[Check, ...] = (
    Check("ud_not_64bit", "SYSCALL outside 64-bit mode raises #UD.",
          lambda i: not i.cpu.long_mode, "#UD",
          "#UD: SYSCALL outside 64-bit mode (CS.L or IA32_EFER.LMA is 0)", source=_SRC_SYSCALL),
    Check("ud_sce_clear", "SYSCALL with IA32_EFER.SCE = 0 raises #UD.",
          lambda i: True, "#UD",
          "#UD: SYSCALL with IA32_EFER.SCE = 0 (this CPU's system-call MSRs are not set up)",
          source=_SRC_SYSCALL),
)

SYSENTER_CHECKS: tuple[Check, ...] = (
    Check("gp_sysenter_cs", "SYSENTER with IA32_SYSENTER_CS[15:2] = 0 raises #GP(0).",
          lambda i: True, "#GP",
          "#GP(0): SYSENTER with IA32_SYSENTER_CS[15:2] = 0 (this CPU's SYSENTER MSRs are "
          "not set up)", source=_SRC_SYSENTER),
)


def decide_syscall(cpu: CpuState) -> Decision:
    return decide_total(SYSCALL_CHECKS, CpuInputs(cpu))


def decide_sysenter(cpu: CpuState) -> Decision:
    return decide_total(SYSENTER_CHECKS, CpuInputs(cpu))


def execute_syscall(cpu: CpuState, rflags: int) -> Effect:
    return effect_of(decide_syscall(cpu), rflags, SYSCALL_LENGTH)


def execute_sysenter(cpu: CpuState, rflags: int) -> Effect:
    return effect_of(decide_sysenter(cpu), rflags, SYSENTER_LENGTH)


__all__ = [
    "SYSCALL_CHECKS",
    "SYSCALL_LENGTH",
    "SYSENTER_CHECKS",
    "SYSENTER_LENGTH",
    "SyscallInputs",
    "decide_syscall",
    "decide_sysenter",
    "execute_syscall",
    "execute_sysenter",
]
