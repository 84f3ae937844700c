# SPDX-License-Identifier: MIT
"""`seamemu explain`: the SEAMCALL decision for a CPU state, in words, row by row.

The rows are walked from the table the trap itself runs on (seamemu.traps.seamcall), so the
explanation cannot drift from the behaviour; the call is then really made through the stub
and its result read the way the kernel reads it (seamemu.learn.kernel_view).  With a leaf,
the module's side follows: admission by its dispatcher, the leaf's inputs, checks in order
and outputs from the leaf's registered spec, and what this call actually answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from seamemu.arch.leaves import leaf_info, seamldr_leaf_info
from seamemu.errors import InputError
from seamemu.jsonout import hex64
from seamemu.learn.kernel_view import KernelView, kernel_view
from seamemu.machine.results import FaultEvent
from seamemu.model.leaf_spec import LeafSpec
from seamemu.session import RunResult, Session
from seamemu.session.result import NO_SEAMCALL, NO_SEAMCALL_TEXT, rax_name
from seamemu.trace import leaf_spec_or_none
from seamemu.traps import seamcall as seamcall_table
from seamemu.traps.cpu_state import CpuState
from seamemu.traps.rule_table import Decision, decision_of
from seamemu.traps.seamcall import LOADER_BIT, SeamcallInputs
from seamemu.traps.tdcall import TdcallInputs


@dataclass(frozen=True)
class RowVerdict:
    """One row of the SEAMCALL table as this state meets it."""

    number: int
    id: str
    sentence: str
    kind: str
    source: str
    active: bool
    reached: bool
    holds: bool
    rule: str = ""          # the rule text, formatted, for the row that decided

    @property
    def decided(self) -> bool:
        return bool(self.rule)


@dataclass(frozen=True)
class Explanation:
    """One SEAMCALL explained: the CPU state, each row of the table walked, the decision, the
    call's result, what the kernel does with it, and (with --leaf) the leaf's spec."""

    lp: int
    leaf_name: str
    cpu: CpuState
    module_loaded: bool
    pseamldr_present: bool
    rax: int
    rows: tuple[RowVerdict, ...]
    decision: Decision
    result: RunResult
    kernel: KernelView
    spec: LeafSpec | None       # with --leaf: the leaf's registered spec

    @property
    def outcome(self) -> str:
        return self.result.outcome


def walk_rows(inputs: SeamcallInputs | TdcallInputs,
              checks=None) -> tuple[tuple[RowVerdict, ...], Decision | None]:
    """Every row in table order: whether it is reached, whether it holds, the first that does."""
    checks = seamcall_table.SEAMCALL_CHECKS if checks is None else checks
    rows, decision = [], None
    for n, row in enumerate(checks, 1):
        reached = decision is None
        holds = bool(row.active and reached and row.predicate(inputs))
        rule = ""
        if holds:
            decision = decision_of(row, inputs)
            rule = decision.rule
        rows.append(RowVerdict(n, row.id, row.sentence, row.kind, row.source, row.active,
                               reached, holds, rule))
    return tuple(rows), decision


def explain(session: Session, entry: str, *, leaf: int, inputs: Mapping[str, int] | None = None,
            lp: int = 0, convention: str = "args", with_leaf: bool = False,
            kernel: str | None = None) -> Explanation:
    """Walk the SEAMCALL table for LP `lp`'s state, then make the call and read its result."""
    if not 0 <= lp < len(session.machine.lps):
        raise InputError(f"--lp {lp}: the platform has LPs 0..{len(session.machine.lps) - 1}")
    cpu = session.machine.lps[lp].cpu
    target = session.target
    rax = leaf
    loader = bool(rax & LOADER_BIT)
    present = bool(target.pseamldr_present())
    sin = SeamcallInputs(cpu, rax, bool(target.module_loaded()), present,
                         bool(target.pseamldr_busy(lp)) if loader and present else False)
    rows, decision = walk_rows(sin)
    result = session.call(entry, convention=convention, leaf=leaf, inputs=inputs, lp=lp)
    name = _leaf_name(leaf, session.module.abi)
    spec = leaf_spec_or_none(name) if with_leaf and name else None
    return Explanation(lp, name or "unknown leaf", cpu, sin.module_loaded, present, rax, rows,
                       decision if decision is not None else Decision("none", "no row matched", ""),
                       result, kernel_view(result.rax, leaf=leaf, entry=entry, out=result.out,
                                           unhandled=_unhandled(result), kernel=kernel),
                       spec)


def _unhandled(result: RunResult) -> FaultEvent | None:
    fault = result.fault
    return fault if fault is not None and fault.handled_by is None else None


def _leaf_name(rax: int, abi: str) -> str | None:
    if rax & LOADER_BIT:
        ldr = seamldr_leaf_info(rax)
        return ldr.name if ldr else None
    info = leaf_info(rax & 0xFFFF if abi != "1.0" else rax, abi)
    return info.name if info else None


def describe_cpu(cpu: CpuState) -> tuple[str, str]:
    """The CPU state the SEAMCALL rows read, in two lines."""
    onoff = {True: "on", False: "off"}
    mask = cpu.seamrr_mask_msr
    where = (" (non-root, a TD's vCPU)" if cpu.td_guest else " (non-root)" if cpu.vmx_non_root
             else " (root)" if cpu.vmx_operation else "")
    return (f"VMX operation {onoff[cpu.vmx_operation]}{where}, "
            f"SMM {onoff[cpu.smm]}, SEAM root mode {onoff[cpu.seam_mode]}, "
            f"64-bit mode {onoff[cpu.long_mode]}, CPL {cpu.cpl}",
            f"IA32_SEAMRR_PHYS_MASK 0x{mask:016x} (VALID {'set' if cpu.seamrr_valid else 'clear'}, "
            f"LOCK {'set' if cpu.seamrr_locked else 'clear'}), "
            f"MOV SS shadow {onoff[cpu.mov_ss_shadow]}")


def format_explanation(e: Explanation) -> str:
    r = e.result
    out = [f"SEAMCALL on LP {e.lp} with RAX = 0x{e.rax:016x} ({e.leaf_name})",
           f"  CPU state: {describe_cpu(e.cpu)[0]}",
           f"             {describe_cpu(e.cpu)[1]}",
           f"  behind SEAMCALL: TDX module {'loaded' if e.module_loaded else 'absent'}, "
           f"P-SEAMLDR {'present' if e.pseamldr_present else 'absent'}; RAX bit 63 = "
           f"{e.rax >> 63} selects the {'P-SEAMLDR' if e.rax >> 63 else 'TDX module'}",
           "",
           "1. The checks, in the order of Intel's pseudo-code (the first that holds decides):"
           if r.outcome != NO_SEAMCALL else
           "1. The checks a SEAMCALL in this state would meet (none ran, see 2.):"]
    for row in e.rows:
        if not row.active:
            verdict = "inactive"
        elif not row.reached:
            verdict = "-"
        else:
            verdict = "HOLDS" if row.holds else "no"
        out.append(f"   {row.number:2}. {row.id:<20} {verdict:<8} {row.sentence}")
        if row.decided:
            out.append(f"   {'':24}{'':8} -> {row.rule}")
            out.append(f"   {'':24}{'':8}    source: {row.source}")
    if r.outcome == NO_SEAMCALL:
        # Nothing was decided: the rows above are what a SEAMCALL in this state would meet.
        out += ["", f"2. The decision: none -- {NO_SEAMCALL_TEXT}: {r.entry} returned without "
                    "one, so no row above decided anything (they are what a SEAMCALL in this "
                    "state would meet)",
                "", f"3. What the stub and the kernel make of it ({r.entry}): nothing; RAX "
                    f"(0x{r.rax:016x}) is what the function left there, not a status",
                "", f"outcome: {r.outcome}   {NO_SEAMCALL_TEXT}"]
        return "\n".join(out)
    out += ["", f"2. The decision: {e.decision.kind} -- {e.decision.rule}"]
    out.append("   " + _cpu_does(e.decision))
    if r.rule and r.rule != e.decision.rule:
        out.append(f"   (the run through the stub decided differently: {r.rule})")
    out += ["", f"3. What the stub and the kernel make of it ({r.entry}):"]
    out += ["   " + ln for ln in e.kernel.lines()]
    if r.calls:
        rec = r.calls[-1]
        who = "P-SEAMLDR" if e.rax & LOADER_BIT else "module"
        out += ["", f"4. What the {who} answered: {rec.leaf_name} -> {rec.status_name} "
                    f"(state {rec.state_before} -> {rec.state_after})"]
        if rec.checks:
            out.append(f"   checks run: {', '.join(rec.checks)}")
            spec = leaf_spec_or_none(rec.leaf_name)
            texts = {c.id: c.text for c in spec.checks} if spec else {}
            if rec.status != 0 and rec.checks[-1] in texts:
                out.append(f"   decided by {rec.checks[-1]}: {texts[rec.checks[-1]]}")
        if rec.note:
            out.append(f"   note: {rec.note}")
    if e.spec is not None:
        intel = any(c.note.startswith("Intel's module") for c in r.calls)
        out += ["", f"{'5' if r.calls else '4'}. The leaf, from its registered spec" +
                (" (the model's account of it; Intel's module answered above):" if intel
                 else ":")]
        out += ["   " + ln for ln in e.spec.explain_lines()]
    if e.kernel.returned:
        out += ["", f"outcome: {r.outcome}   RAX = 0x{r.rax:016x} ({rax_name(r.rax)}); "
                    f"the kernel returns {e.kernel.errno_name}"]
    else:
        out += ["", f"outcome: unhandled {r.outcome}; the call never returns, the kernel oopses"]
    return "\n".join(out)


def explanation_json(e: Explanation) -> dict:
    no_seamcall = e.result.outcome == NO_SEAMCALL
    return {
        "schema": 1,
        "lp": e.lp,
        "rax": hex64(e.rax),
        "leaf_name": e.leaf_name,
        "module_loaded": e.module_loaded,
        "rows": [{"number": r.number, "id": r.id, "sentence": r.sentence, "outcome": r.kind,
                  "active": r.active, "reached": r.reached, "holds": r.holds, "rule": r.rule,
                  "source": r.source} for r in e.rows],
        "outcome": e.result.outcome,
        # No SEAMCALL ran: nothing was decided and RAX is no status for a kernel to read.
        "decision": None if no_seamcall else e.decision.to_json(),
        "kernel": None if no_seamcall else {
            "generation": e.kernel.generation,
            "rax": hex64(e.kernel.code), "rax_name": e.kernel.code_name,
            "returned": e.kernel.returned,
            "errno": e.kernel.errno if e.kernel.returned else None,
            "errno_name": e.kernel.errno_name,
            "how": e.kernel.how, "meaning": e.kernel.meaning,
            "messages": list(e.kernel.messages)},
        "leaf": None if e.spec is None else {"name": e.spec.name, "lines": e.spec.explain_lines()},
        "result": e.result.to_json(),
    }


def _cpu_does(d: Decision) -> str:
    if d.kind == "#GP":
        return "The CPU delivers #GP(0) at the SEAMCALL; no register changes."
    if d.kind == "#UD":
        return "The CPU delivers #UD at the SEAMCALL; no register changes."
    if d.kind == "VMfailInvalid":
        return "The CPU sets CF=1 (ZF, SF, OF, PF, AF clear), leaves RAX as it was, and goes on."
    if d.kind == "vmexit":
        return "The CPU exits to the VMM (not modelled: the run stops at the instruction)."
    if d.kind in ("module", "pseamldr"):
        who = "TDX module" if d.kind == "module" else "P-SEAMLDR"
        return (f"The CPU enters SEAM root mode and the {who} runs the leaf; it returns with "
                f"SEAMRET: status in RAX, VMsucceed flags (CF=ZF=0).")
    return ""


__all__ = ["Explanation", "RowVerdict", "describe_cpu", "explain", "explanation_json",
           "format_explanation", "walk_rows"]
