# SPDX-License-Identifier: MIT
"""Replaying a reproducer: the same case on the same stub, the finding checked and explained.

`seamemu run --replay FILE` calls `replay_file` and prints `format_replay` (or `replay_json`).
The assembly is reassembled from the recorded paths; if a file changed since the reproducer
was saved (a fix, say), the replay still runs and says so, and `reproduced` tells whether
the finding is still there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from seamemu.errors import InputError, ReplayError
from seamemu.frontend import assemble
from seamemu.fuzz.analyse import Analysis, Analyst
from seamemu.fuzz.case import Case, normal_cpu
from seamemu.fuzz.invariants import RULES
from seamemu.fuzz.oracle import instruction_outcome
from seamemu.fuzz.promises import Spec
from seamemu.fuzz.reproducer import FindingRef, Reproducer, Target, load_reproducer
from seamemu.image import Image
from seamemu.jsonout import JsonRecord, hex64, hex_map, hex_regs, json_as
from seamemu.machine.regs import INDEX
from seamemu.session.result import rax_name
from seamemu.trace.steps import Trace, TraceStep, build_trace


def _findings_json(findings: tuple[FindingRef, ...]) -> list[dict]:
    # Each finding with its rule in words (second, after the rule's name).
    return [{"rule": f.rule, "rule_text": RULES.get(f.rule, ""), **f.to_json()} for f in findings]


def _trace_json(trace: Trace) -> list[dict]:
    return [{"address": hex64(s.address), "location": s.symbol, "source": _source(s)}
            for s in trace.steps]


@dataclass(frozen=True)
class ReplayOutcome(JsonRecord):
    JSON_KEYS = ("schema", "path", "reproduced", "expected", "findings", "changed",
                 "instruction", "outcome", "fault", "rax", "rax_name", "struct_after",
                 "received", "trace", "reproducer")
    schema: ClassVar[int] = 1

    path: str
    reproducer: Reproducer
    reproduced: bool
    findings: tuple[FindingRef, ...] = field(metadata=json_as(_findings_json))
    changed: tuple[str, ...]          # assembly files whose sha256 differs from the recorded one
    instruction: str                  # what SEAMCALL did: module, #GP, #UD, VMfailInvalid
    outcome: str                      # how the call ended: returned, fault, bound
    rax: int = field(metadata=json_as(hex64))
    struct_after: dict[str, int] = field(metadata=json_as(hex_map))
    received: dict[str, int] | None = field(metadata=json_as(lambda r: hex_regs(r, INDEX)))
    trace: Trace = field(metadata=json_as(_trace_json))  # the stub's instructions of the run
    fault: str = field(default="", metadata=json_as(lambda f: f or None))

    @property
    def expected(self) -> FindingRef:
        return self.reproducer.finding

    @property
    def rax_name(self) -> str:
        return rax_name(self.rax)


def replay_file(path: str | Path) -> ReplayOutcome:
    """Load, reassemble, run with a trace, and check the recorded finding."""
    rep = load_reproducer(path)
    changed = rep.target.changed()
    if rep.reference is not None:
        changed += rep.reference.changed()
    spec = rep.spec
    try:
        image = _assemble(rep.target)
        ref_image = _assemble(rep.reference) if rep.reference is not None else None
        analyst = Analyst(image, spec, rep.target.entry, ref_image=ref_image,
                          ref_entry=rep.reference.entry if rep.reference else None)
    except InputError as exc:
        raise ReplayError(f"{path}: {exc}") from None
    analysis = analyst.analyse(rep.case)
    return _outcome(str(path), rep, spec, analyst, analysis, changed)


def _assemble(target: Target) -> Image:
    return assemble(list(target.paths), include_dirs=list(target.include),
                    defines=dict(target.defines), backend=target.assembler, stubs=target.stubs)


def _outcome(path: str, rep: Reproducer, spec: Spec, analyst: Analyst, analysis: Analysis,
             changed: tuple[str, ...]) -> ReplayOutcome:
    found = []
    for f in analysis.found:
        location, source = analyst.location(f.address)
        found.append(FindingRef(f.rule, f.key, location, f.address, source, f.detail))
    want = rep.finding
    reproduced = any(f.rule == want.rule and (f.address == want.address or f.location == want.location)
                     for f in found)
    obs = analysis.obs
    res = obs.res
    trace = build_trace(obs.raw, analyst.image, res, entry=rep.target.entry)
    fault = ""
    if res.fault is not None:
        fault = f"unhandled {res.fault.name} at {res.fault.symbol}"
    return ReplayOutcome(
        path=path, reproducer=rep, reproduced=reproduced, findings=tuple(found), changed=changed,
        instruction=instruction_outcome(rep.case, spec.instruction), outcome=res.outcome,
        rax=res.regs_after["rax"], struct_after=dict(zip(spec.struct_fields, obs.struct)),
        received=None if obs.received is None else dict(obs.received), trace=trace,
        fault=fault)


# -- rendering ---------------------------------------------------------------------------------

def describe_case(case: Case, spec: Spec) -> list[str]:
    """The case in a few lines, listing only what is not at its simplest."""
    lines = [f"leaf (RAX)   {hex64(case.leaf)}"]
    nz = [f"{n}={hex64(v)}" for n, v in zip(spec.inputs, case.inputs) if v]
    lines.append("inputs       " + (", ".join(nz) if nz else "all zero"))
    nz = [f"{n}={hex64(v)}" for n, v in zip(spec.free_regs, case.regs) if v]
    lines.append("caller regs  " + (", ".join(nz) if nz else "all zero"))
    if spec.out_pointer:
        if case.out_null:
            lines.append("out struct   NULL pointer")
        else:
            nz = [f"{n}={hex64(v)}" for n, v in zip(spec.struct_fields, case.out) if v]
            lines.append("out struct   " + (", ".join(nz) if nz else "all zero before the call"))
    c = case.cpu
    guest = spec.instruction == "tdcall"
    if c == normal_cpu(spec):
        cpu = "a TD's vCPU, CPL 0" if guest else "normal host"
    elif guest:
        cpu = f"{'a TD' if c.td else 'the host'}'s vCPU, CPL {c.cpl}"
    else:
        cpu = (f"VMX {'on' if c.vmx else 'off'}, SEAMRR {'on' if c.seamrr else 'off'}, "
               f"CPL {c.cpl}, module {'loaded' if c.module else 'absent'}")
    lines.append(f"cpu          {cpu}")
    a = case.answer
    if a.kind == "status":
        outs = ", ".join(f"{r}={hex64(v)}" for r, v in a.outputs) or "no output registers"
        lines.append(f"module       status {hex64(a.status)} ({rax_name(a.status)}); {outs}")
    else:
        lines.append(f"module       answers {a.kind}")
    frame = "zero" if not any(case.frame) else " ".join(hex64(v) for v in case.frame)
    align = "SysV-aligned" if case.align == 0 else f"misaligned by {case.align}"
    lines.append(f"stack        {align}; caller frame {frame}")
    if case.rflags:
        lines.append(f"rflags       {hex64(case.rflags)}")
    return lines


def _show(path: str) -> str:
    """A path relative to the working directory when it is below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def format_replay(o: ReplayOutcome) -> str:
    rep = o.reproducer
    spec = rep.spec
    t = rep.target
    files = ", ".join(_show(p) for p in t.paths)
    lines = [f"replay {o.path}",
             f"  {files} :: {t.entry} ({spec.label} convention)"]
    if rep.reference is not None:
        lines.append(f"  reference: {', '.join(_show(p) for p in rep.reference.paths)} :: "
                     f"{rep.reference.entry}")
    for p in o.changed:
        lines.append(f"  note: {p} changed since the reproducer was saved")
    lines.append("case:")
    lines += [f"  {x}" for x in describe_case(rep.case, spec)]
    end = o.outcome if not o.fault else o.fault
    said = rax_name(o.rax, convention=spec.convention)
    lines.append(f"{spec.instruction.upper()}: {o.instruction}; call {end}; RAX {hex64(o.rax)} "
                 f"({said})")
    w = rep.finding
    verdict = "REPRODUCED" if o.reproduced else "not reproduced"
    lines.append(f"expected finding: {w.rule} at {w.location}  [{verdict}]")
    lines.append(f"  rule: {RULES.get(w.rule, '?')}")
    if not o.findings:
        lines.append("findings in this replay: none")
    for f in o.findings:
        lines.append(f"finding: {f.rule} at {f.location}")
        lines.append(f"  {f.detail}")
        if f.source:
            lines.append(f"  {f.source}")
    if o.trace.steps:
        marks = {f.address for f in o.findings}
        lines.append(f"trace ({len(o.trace.steps)} instructions in the stub):")
        for s in o.trace.steps:
            mark = ">>" if s.address in marks else "  "
            lines.append(f"  {mark} 0x{s.address:08x} {s.symbol:<28} {_source(s)}")
    return "\n".join(lines)


def replay_json(o: ReplayOutcome) -> dict:
    """The replay as `run --replay --json` prints it (schema 1)."""
    return o.to_json()


def _source(s: TraceStep) -> str:
    """"file.S:line: text" of a step, as a finding names its location."""
    if s.source is None:
        return ""
    file, _, line = s.source.rpartition(":")
    return f"{os.path.basename(file)}:{line}: {' '.join(s.line_text.split())}"


__all__ = ["ReplayOutcome", "describe_case", "format_replay", "replay_file", "replay_json"]
