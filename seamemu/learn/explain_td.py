# SPDX-License-Identifier: MIT
"""`seamemu explain --td`: a TD guest's TDCALL, in words, row by row, then the module's answer.

The rows are walked from the table the TDCALL trap runs on (seamemu.traps.tdcall), as the
SEAMCALL explanation walks its own; the call is then made through the guest stub, and what the
module (and, for TDG.VP.VMCALL, the VMM) answered is read from its record.  What the guest
kernel does with the answer: __tdcall*() hand the module's status back in RAX (the kernel's
tdcall() wrapper panics on a failure: "TDCALL %lld failed (Buggy TDX module!)"); the
hypercall returns R10, the VMM's status, and panics when the TDCALL itself fails
(__tdx_hypercall_failed()); a fault at the TDCALL is not caught, since TDX_MODULE_CALL host=0
has no exception-table entry (Linux arch/x86/coco/tdx/tdx.c and tdcall.S, v6.6+).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from seamemu.arch.leaves import RAX_LEAF_MASK, tdcall_leaf_info
from seamemu.jsonout import hex64
from seamemu.learn.explain import RowVerdict, describe_cpu, walk_rows
from seamemu.model.guest.dispatcher import RUNNABLE
from seamemu.model.leaf_spec import LeafSpec
from seamemu.session import RunResult, Session
from seamemu.session.result import NO_CALL, rax_name
from seamemu.trace import leaf_spec_or_none
from seamemu.trace.render import vmcall_lines
from seamemu.traps.cpu_state import CpuState
from seamemu.traps.rule_table import Decision
from seamemu.traps.tdcall import TDCALL_CHECKS, TdcallInputs


@dataclass(frozen=True)
class TdExplanation:
    lp: int
    leaf_name: str
    cpu: CpuState
    rax: int
    rows: tuple[RowVerdict, ...]
    decision: Decision
    result: RunResult
    td: str                          # the TD the module serves, in one line
    spec: LeafSpec | None


def explain_tdcall(session: Session, entry: str, *, leaf: int,
                   inputs: Mapping[str, int] | None = None, lp: int = 0,
                   convention: str = "tdcall", with_leaf: bool = False) -> TdExplanation:
    """Walk the TDCALL table for LP `lp`'s state, then make the call and read its result."""
    session.check_lp(lp)
    cpu = session.machine.lps[lp].cpu
    rows, decision = walk_rows(TdcallInputs(cpu), TDCALL_CHECKS)
    result = session.call(entry, convention=convention, leaf=leaf, inputs=inputs, lp=lp)
    info = tdcall_leaf_info(leaf & RAX_LEAF_MASK) if not leaf >> 24 else None
    name = info.name if info else "unknown leaf"
    cfg = session.td_config
    td = (f"a TD with GPAW {cfg.gpaw}, ATTRIBUTES 0x{cfg.attributes:x}, "
          f"{session.td.state.num_vcpus} of {cfg.max_vcpus} vCPUs")
    spec = leaf_spec_or_none(name) if with_leaf and info else None
    return TdExplanation(lp, name, cpu, leaf, rows,
                         decision or Decision("none", "no row matched", ""), result, td, spec)


def _cpu_does(d: Decision) -> str:
    if d.kind in ("#GP", "#UD"):
        return (f"The CPU delivers {d.kind} at the TDCALL; no register changes, and nothing in "
                "the guest's TDX_MODULE_CALL (host=0) catches it.")
    if d.kind == "vmexit":
        return "The CPU exits to the VM's VMM (not modelled: the run stops at the instruction)."
    if d.kind == "module":
        return ("The CPU exits to the TDX module (SEAM root mode); the module runs the leaf and "
                "resumes the TD after the TDCALL: status in RAX, RFLAGS as it was.")
    return ""


def _stub_words(r: RunResult) -> list[str]:
    if r.outcome == "halted":
        return ["the call never returned: the TD was stopped inside it (the module's record "
                "above says why)"]
    if not r.abi.returned:
        fault = r.fault
        where = f"{fault.name} at {fault.symbol}" if fault is not None else r.outcome
        return [f"the call never returned ({where}): in the guest kernel an oops, or the "
                "panic of a failed TDCALL"]
    if r.outcome in NO_CALL:
        return [f"{NO_CALL[r.outcome]}: RAX (0x{r.rax:016x}) is what the function left there"]
    if r.convention == "hypercall":
        return [f"RAX = 0x{r.rax:016x} ({rax_name(r.rax, r.leaf, r.convention)}): R10, the "
                "VMM's status; every register came back in struct tdx_module_args"]
    return [f"RAX = 0x{r.rax:016x} ({rax_name(r.rax, r.leaf)}): the module's status "
            "(the kernel's tdcall() panics on anything but TDX_SUCCESS)"]


def format_tdcall_explanation(e: TdExplanation) -> str:
    r = e.result
    first, second = describe_cpu(e.cpu)
    out = [f"TDCALL on LP {e.lp} with RAX = 0x{e.rax:016x} ({e.leaf_name})",
           f"  CPU state: {first}", f"             {second}",
           f"  behind TDCALL in a TD: the TDX module's guest side, serving {e.td}; "
           "TDG.VP.VMCALL goes on to the VMM", "",
           "1. The checks, in order (the first that holds decides):"]
    for row in e.rows:
        verdict = "-" if not row.reached else "HOLDS" if row.holds else "no"
        out.append(f"   {row.number:2}. {row.id:<18} {verdict:<6} {row.sentence}")
        if row.decided:
            out.append(f"   {'':22}{'':6} -> {row.rule}")
            out.append(f"   {'':22}{'':6}    source: {row.source}")
    out += ["", f"2. The decision: {e.decision.kind} -- {e.decision.rule}",
            "   " + _cpu_does(e.decision)]
    n = 3
    tdcalls = [c for c in r.calls if c.state_before == RUNNABLE]
    if tdcalls:
        rec = tdcalls[-1]
        out += ["", f"{n}. What the TDX module answered: {rec.leaf_name} -> {rec.status_name}"]
        if rec.outputs:
            out.append("   outputs: " + ", ".join(f"{k.upper()}=0x{v:x}"
                                                  for k, v in rec.outputs.items()))
        if rec.checks:
            out.append(f"   checks run: {', '.join(rec.checks)}")
        if rec.vmcall is not None:
            out += vmcall_lines(rec.vmcall, "   ")
        if rec.note:
            out.append(f"   note: {rec.note}")
        n += 1
    out += ["", f"{n}. What the stub makes of it ({r.entry}):"]
    out += ["   " + ln for ln in _stub_words(r)]
    if e.spec is not None:
        out += ["", f"{n + 1}. The leaf, from its registered spec:"]
        out += ["   " + ln for ln in e.spec.explain_lines()]
    out += ["", f"outcome: {r.outcome}   RAX = 0x{r.rax:016x}"]
    return "\n".join(out)


def tdcall_explanation_json(e: TdExplanation) -> dict:
    return {
        "schema": 1,
        "instruction": "TDCALL",
        "lp": e.lp,
        "rax": hex64(e.rax),
        "leaf_name": e.leaf_name,
        "td": e.td,
        "rows": [{"number": r.number, "id": r.id, "sentence": r.sentence, "outcome": r.kind,
                  "reached": r.reached, "holds": r.holds, "rule": r.rule, "source": r.source}
                 for r in e.rows],
        "outcome": e.result.outcome,
        "decision": e.decision.to_json(),
        "leaf": None if e.spec is None else {"name": e.spec.name, "lines": e.spec.explain_lines()},
        "result": e.result.to_json(),
    }


__all__ = ["TdExplanation", "explain_tdcall", "format_tdcall_explanation",
           "tdcall_explanation_json"]
