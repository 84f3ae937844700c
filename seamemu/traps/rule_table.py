# SPDX-License-Identifier: MIT
"""The shape every instruction rule table shares: checks in order, the decision, the effect.

An instruction's semantics is a tuple of `Check` rows walked top to bottom; the first row whose
predicate holds decides.  The tables are data so that `explain` and diagram tools can render
them and tests can fire them row by row.  A `Decision` says what the CPU does; an `Effect` is
what the machine must apply (register writes, RFLAGS, RIP advance or a fault).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from seamemu.arch.kernel import X86_TRAP_GP, X86_TRAP_PF, X86_TRAP_SS, X86_TRAP_UD
from seamemu.arch.registers import RFLAGS_ARITH, RFLAGS_CF, RFLAGS_ZF
from seamemu.errors import InputError
from seamemu.jsonout import JsonRecord
from seamemu.traps.cpu_state import CpuState
from seamemu.traps.target import CallRecord, SeamReply

# Decision kinds.  "module"/"pseamldr": SEAMCALL reaches its target; "VMsucceed": a VMX
# instruction completed; "vmexit": control would leave the guest (no VMM is modelled).
# "executed": an instruction that simply ran (RDMSR/WRMSR that passed every check).
# "halt": the SEAMCALL target stopped for good (Intel's module on its fatal path).
KINDS = ("#UD", "#GP", "#PF", "#SS", "VMfailInvalid", "VMfailValid", "VMsucceed", "executed",
         "vmexit", "module", "pseamldr", "halt")

# Where a fault kind sends the CPU: (vector, error code or None when none is pushed).
FAULT_VECTORS: dict[str, tuple[int, int | None]] = {
    "#GP": (X86_TRAP_GP, 0),
    "#UD": (X86_TRAP_UD, None),
    "#PF": (X86_TRAP_PF, 0),  # an instruction's memory operand is not present (read, CPL 0)
    "#SS": (X86_TRAP_SS, 0),  # MOV SS of a segment that is not present (error code: selector)
}


_NO_REGS: Mapping[str, int] = MappingProxyType({})


@dataclass(frozen=True)
class Check:
    """One row: if `predicate(inputs)` holds, the instruction ends with `kind`."""

    id: str
    sentence: str                       # the rule in words, for explain/diagram tools
    predicate: Callable[[Any], bool]
    kind: str
    rule: str                           # template, formatted with the inputs' fields
    exit_reason: int | None = None      # for kind "vmexit"
    active: bool = True                 # False: documented but not applied (unconfirmed)
    source: str = ""                    # where the rule comes from

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"check {self.id}: unknown kind {self.kind!r}")


@dataclass(frozen=True, slots=True)
class Decision(JsonRecord):
    """What the instruction does, and which row of its table said so."""

    kind: str
    rule: str
    check: str
    vector: int | None = None
    error_code: int | None = None
    exit_reason: int | None = None

    @property
    def is_fault(self) -> bool:
        return self.kind in FAULT_VECTORS


class Effect(NamedTuple):
    """What the machine applies for one trapped instruction.

    `fault` set: deliver (vector, error code) at the instruction, nothing else changes.
    Otherwise write `regs`, set RFLAGS to `rflags` when not None, and advance RIP by
    `rip_advance`.  A "vmexit" decision stops the run at the instruction.  `cpu` is the
    logical processor's new state when the instruction changed it.

    An immutable NamedTuple rather than a frozen dataclass: one is built per SEAMCALL on
    the hot path, and construction measured 0.3 us against 1.3-2.3 us for the dataclass.
    """

    decision: Decision
    regs: Mapping[str, int] = _NO_REGS
    rflags: int | None = None
    rip_advance: int = 0
    fault: tuple[int, int | None] | None = None
    reply: SeamReply | None = None
    record: CallRecord | None = None
    cpu: CpuState | None = None


@dataclass(frozen=True, slots=True)
class CpuInputs:
    """The inputs of a table that reads the CPU state alone (SYSCALL, SYSENTER, TDCALL)."""

    cpu: CpuState


def vmexit_in_non_root(insn: str, exit_reason: int, source: str) -> Check:
    """The row every VMX instruction has: in VMX non-root operation it is a VM exit.
    Spec: Intel SDM Vol. 3C §26.1.2 (instructions that cause VM exits unconditionally)."""
    return Check("vmexit_non_root",
                 f"{insn} in VMX non-root operation causes a VM exit (reason {exit_reason}).",
                 lambda i: i.cpu.vmx_non_root, "vmexit",
                 f"VM exit (basic reason {exit_reason}, {insn}): executed in VMX non-root "
                 "operation", exit_reason=exit_reason, source=source)


def decide_total(checks: tuple[Check, ...], inputs: Any) -> Decision:
    """The decision of a table whose last row always holds."""
    verdict = decide(checks, inputs)
    if verdict is None:
        raise InputError(f"rule table {[c.id for c in checks]} has no row for {inputs}")
    return verdict


def check_reply_regs(regs: Mapping[str, int], allowed: frozenset[str], who: str) -> None:
    """InputError unless a target's reply holds RAX and only `allowed` 64-bit registers."""
    if "rax" not in regs:
        raise InputError(f"{who} must hold rax (the completion status)")
    for name, value in regs.items():
        if name not in allowed:
            raise InputError(f"{who} names {name!r}, not a register it can write")
        if not isinstance(value, int) or not 0 <= value <= (1 << 64) - 1:
            raise InputError(f"{who}[{name!r}] = {value!r} is not a 64-bit value")


def halt_effect(reply: SeamReply, why: str) -> Effect:
    """A target that stopped for good inside the call (Intel's module on its fatal path, a TD
    stopped): the run stops with the record's note (`why` when there is no record)."""
    note = reply.record.note if reply.record is not None else why
    return Effect(Decision("halt", note, "target"), reply=reply, record=reply.record)


def decide(checks: tuple[Check, ...], inputs: Any) -> Decision | None:
    """The decision of the first active row whose predicate holds, or None if none does."""
    for check in checks:
        if check.active and check.predicate(inputs):
            return decision_of(check, inputs)
    return None


def decision_of(check: Check, inputs: Any) -> Decision:
    vector, error_code = FAULT_VECTORS.get(check.kind, (None, None))
    return Decision(
        kind=check.kind,
        rule=check.rule.format(i=inputs),
        check=check.id,
        vector=vector,
        error_code=error_code,
        exit_reason=check.exit_reason,
    )


# VMX instruction status conventions.  Spec: Intel SDM Vol. 3C §31.2 "Conventions"
# (VMsucceed: CF=PF=AF=ZF=SF=OF=0; VMfailInvalid: CF=1, the rest 0; VMfailValid: ZF=1).
def vmsucceed(rflags: int) -> int:
    return rflags & ~RFLAGS_ARITH


def vmfail_invalid(rflags: int) -> int:
    return (rflags & ~RFLAGS_ARITH) | RFLAGS_CF


def vmfail_valid(rflags: int) -> int:
    return (rflags & ~RFLAGS_ARITH) | RFLAGS_ZF


def effect_of(decision: Decision, rflags: int, length: int, cpu: CpuState | None = None) -> Effect:
    """The effect of a decision that needs no target: faults, VM exits, VMX status flags."""
    if decision.is_fault:
        assert decision.vector is not None  # a fault decision names its vector
        return Effect(decision, fault=(decision.vector, decision.error_code))
    if decision.kind == "vmexit":
        return Effect(decision)
    if decision.kind == "VMfailInvalid":
        return Effect(decision, rflags=vmfail_invalid(rflags), rip_advance=length)
    if decision.kind == "VMfailValid":
        return Effect(decision, rflags=vmfail_valid(rflags), rip_advance=length)
    if decision.kind == "VMsucceed":
        return Effect(decision, rflags=vmsucceed(rflags), rip_advance=length, cpu=cpu)
    raise ValueError(f"decision {decision.check}: kind {decision.kind!r} needs a target")


def render_table(checks: tuple[Check, ...]) -> list[dict]:
    """The rows as plain data (id, sentence, outcome, rule template, active), in order."""
    return [
        {
            "id": c.id,
            "sentence": c.sentence,
            "outcome": c.kind,
            "rule": c.rule,
            "exit_reason": c.exit_reason,
            "active": c.active,
            "source": c.source,
        }
        for c in checks
    ]


__all__ = [
    "Check",
    "CpuInputs",
    "Decision",
    "Effect",
    "FAULT_VECTORS",
    "KINDS",
    "check_reply_regs",
    "decide",
    "decide_total",
    "decision_of",
    "effect_of",
    "halt_effect",
    "render_table",
    "vmexit_in_non_root",
    "vmfail_invalid",
    "vmfail_valid",
    "vmsucceed",
]
