# SPDX-License-Identifier: MIT
"""RDMSR (0F 32) and WRMSR (0F 30): their SDM rules as tables over one LP's MSRs, and effects.

Spec: Intel SDM Vol. 2B "RDMSR" and Vol. 2D "WRMSR" (operation and protected-mode exceptions:
#GP(0) at CPL > 0, for an MSR address that is reserved or unimplemented, and for a WRMSR that
sets reserved bits or writes a read-only MSR); SDM Vol. 3C §26.1.1 (privilege faults take
priority over VM exits), §26.1.3 (RDMSR/WRMSR exit when the "use MSR bitmaps" control is 0)
and Appendix C (basic exit reasons 31 RDMSR, 32 WRMSR).  Which MSRs exist on a platform, which
are read-only and which lock is in which bit come from seamemu.platform.msr_values.

The machine keeps one dict of MSR values per logical processor; these functions never change
it.  WRMSR's effect says which (msr, value) to store via `wrmsr_store`.  IA32_SEAMRR_PHYS_BASE
and _MASK are read from the LP's `CpuState` (which SEAMCALL checks too), so `set_state
(seamrr=...)`, a WRMSR to them and what RDMSR returns always agree.

Simplifications, each a deliberate choice:
- In VMX non-root operation (or in a TD) every RDMSR/WRMSR exits, as with "use MSR bitmaps"
  = 0; no VMM is modelled, so the run stops there.
- WRMSR's canonical-address checks (FS_BASE and friends) are not modelled: none of the MSRs
  this platform implements holds an address that must be canonical.
- A successful RDMSR/WRMSR is reported with decision kind "executed" (traps.table.KINDS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from seamemu.arch import msrs as m
from seamemu.platform.msr_values import LOCK_PROTECTED, READ_ONLY_MSRS, rdmsr_fault, wrmsr_fault
from seamemu.traps.cpu_state import CpuState
from seamemu.traps.rule_table import Check, Decision, Effect, decide, effect_of

RDMSR_LENGTH = 2
WRMSR_LENGTH = 2
EXIT_REASON_RDMSR = 31
EXIT_REASON_WRMSR = 32
EXECUTED = "executed"

_LOW32 = 0xFFFF_FFFF
_SRC_RD = "Intel SDM Vol. 2B RDMSR; Vol. 3C §26.1"
_SRC_WR = "Intel SDM Vol. 2D WRMSR; Vol. 3C §26.1"


def effective_msrs(cpu: CpuState, msrs: Mapping[int, int]) -> dict[int, int]:
    """The LP's MSRs as RDMSR reads them now: SEAMRR (when implemented) from the CpuState."""
    values = dict(msrs)
    if m.IA32_SEAMRR_PHYS_BASE in values:
        values[m.IA32_SEAMRR_PHYS_BASE] = cpu.seamrr_base_msr
    if m.IA32_SEAMRR_PHYS_MASK in values:
        values[m.IA32_SEAMRR_PHYS_MASK] = cpu.seamrr_mask_msr
    return values


@dataclass(frozen=True, slots=True)
class MsrInputs:
    cpu: CpuState
    msr: int                      # ECX (RCX bits 63:32 are ignored)
    values: Mapping[int, int]     # effective_msrs() of the LP
    value: int | None = None      # WRMSR: EDX:EAX

    @property
    def name(self) -> str:
        return m.msr_name(self.msr)

    @property
    def locked_by(self) -> str:
        msr, bit = LOCK_PROTECTED[self.msr]
        return f"{m.msr_name(msr)} bit {bit}"

    @property
    def why(self) -> str:
        if self.value is None:
            return rdmsr_fault(self.values, self.msr) or ""
        return wrmsr_fault(self.values, self.msr, self.value) or ""


def _in_guest(i: MsrInputs) -> bool:
    return i.cpu.vmx_non_root or i.cpu.td_guest


def _unknown(i: MsrInputs) -> bool:
    return i.msr not in i.values


def _locked(i: MsrInputs) -> bool:
    lock = LOCK_PROTECTED.get(i.msr)
    return lock is not None and bool(i.values.get(lock[0], 0) >> lock[1] & 1)


def _common_rows(insn: str, of: str, exit_reason: int, source: str) -> tuple[Check, ...]:
    """The three rows RDMSR and WRMSR share, in their order: CPL, guest, unknown MSR."""
    return (
        Check("gp_cpl", f"{insn} at CPL > 0 raises #GP(0) (before any VM exit).",
              lambda i: i.cpu.cpl > 0, "#GP", f"#GP(0): {insn} at CPL {{i.cpu.cpl}} > 0",
              source=source),
        Check("vmexit_guest", f"{insn} in VMX non-root operation or in a TD exits to the "
              "VMM/module.", _in_guest, "vmexit",
              f"VM exit (basic reason {exit_reason}, {insn} of {{i.name}}): executed in a guest; "
              "no VMM is modelled, so the run stops here", exit_reason=exit_reason, source=source),
        Check("gp_unknown", f"{insn} {of} an MSR the platform does not implement raises #GP(0).",
              _unknown, "#GP", f"#GP(0): {insn} {of} {{i.name}} (ECX 0x{{i.msr:08x}}): not "
              "implemented on this platform", source=source),
    )


RDMSR_CHECKS: tuple[Check, ...] = _common_rows("RDMSR", "of", EXIT_REASON_RDMSR, _SRC_RD)

WRMSR_CHECKS: tuple[Check, ...] = _common_rows("WRMSR", "to", EXIT_REASON_WRMSR, _SRC_WR) + (
    Check("gp_read_only", "WRMSR to a read-only MSR raises #GP(0).",
          lambda i: i.msr in READ_ONLY_MSRS, "#GP", "#GP(0): WRMSR to {i.name}: read-only",
          source=_SRC_WR),
    Check("gp_locked", "WRMSR to an MSR whose lock bit is set raises #GP(0).",
          _locked, "#GP", "#GP(0): WRMSR to {i.name}: locked ({i.locked_by} is set)",
          source=f"{_SRC_WR}; lock bits from seamemu.arch.msrs"),
    Check("gp_reserved", "WRMSR that sets reserved bits of the MSR raises #GP(0).",
          lambda i: bool(i.why), "#GP", "#GP(0): WRMSR to {i.name}: {i.why}", source=_SRC_WR),
)


def decide_rdmsr(cpu: CpuState, msrs: Mapping[int, int], rcx: int) -> Decision:
    """What RDMSR does on an LP holding `msrs`, with ECX taken from `rcx`."""
    values = effective_msrs(cpu, msrs)
    inputs = MsrInputs(cpu, rcx & _LOW32, values)
    verdict = decide(RDMSR_CHECKS, inputs)
    if verdict is not None:
        return verdict
    return Decision(EXECUTED, f"RDMSR {inputs.name} -> 0x{values[inputs.msr]:016x}", "read")


def decide_wrmsr(cpu: CpuState, msrs: Mapping[int, int], rcx: int, rax: int, rdx: int) -> Decision:
    """What WRMSR of EDX:EAX to ECX does on an LP holding `msrs`."""
    msr, value = wrmsr_store(rcx, rax, rdx)
    inputs = MsrInputs(cpu, msr, effective_msrs(cpu, msrs), value)
    verdict = decide(WRMSR_CHECKS, inputs)
    if verdict is not None:
        return verdict
    return Decision(EXECUTED, f"WRMSR {inputs.name} <- 0x{value:016x}", "write")


def wrmsr_store(rcx: int, rax: int, rdx: int) -> tuple[int, int]:
    """(MSR, value) a WRMSR writes: ECX, and EDX:EAX (the upper halves of RAX/RDX ignored)."""
    return rcx & _LOW32, (rdx & _LOW32) << 32 | (rax & _LOW32)


def execute_rdmsr(cpu: CpuState, msrs: Mapping[int, int], rcx: int, rflags: int) -> Effect:
    """RDMSR: EDX:EAX <- the MSR (RAX/RDX bits 63:32 cleared), RIP += 2; or a fault/exit."""
    decision = decide_rdmsr(cpu, msrs, rcx)
    if decision.kind != EXECUTED:
        return effect_of(decision, rflags, RDMSR_LENGTH)
    value = effective_msrs(cpu, msrs)[rcx & _LOW32]
    return Effect(decision, regs={"rax": value & _LOW32, "rdx": value >> 32},
                  rip_advance=RDMSR_LENGTH)


def execute_wrmsr(cpu: CpuState, msrs: Mapping[int, int], rcx: int, rax: int, rdx: int,
                  rflags: int) -> Effect:
    """WRMSR: RIP += 2 (the caller stores `wrmsr_store(...)` when the decision is executed).

    A write to IA32_SEAMRR_PHYS_BASE/_MASK also returns the LP's new CpuState.
    """
    decision = decide_wrmsr(cpu, msrs, rcx, rax, rdx)
    if decision.kind != EXECUTED:
        return effect_of(decision, rflags, WRMSR_LENGTH)
    msr, value = wrmsr_store(rcx, rax, rdx)
    new = None
    if msr == m.IA32_SEAMRR_PHYS_BASE:
        new = cpu.with_(seamrr_base_msr=value)
    elif msr == m.IA32_SEAMRR_PHYS_MASK:
        new = cpu.with_(seamrr_mask_msr=value)
    return Effect(decision, rip_advance=WRMSR_LENGTH, cpu=new)


__all__ = [
    "EXECUTED",
    "EXIT_REASON_RDMSR",
    "EXIT_REASON_WRMSR",
    "MsrInputs",
    "RDMSR_CHECKS",
    "RDMSR_LENGTH",
    "WRMSR_CHECKS",
    "WRMSR_LENGTH",
    "decide_rdmsr",
    "decide_wrmsr",
    "effective_msrs",
    "execute_rdmsr",
    "execute_wrmsr",
    "wrmsr_store",
]
