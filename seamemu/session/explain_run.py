# SPDX-License-Identifier: MIT
"""Plain-text rendering of one RunResult for people (JSON is RunResult.to_json)."""

from __future__ import annotations

from seamemu.arch.kernel import errno_name
from seamemu.arch.registers import ABI_ORDER
from seamemu.image import Image
from seamemu.jsonout import hex64, hex64_or_none
from seamemu.kernel import Generation, generation
from seamemu.kernel.calling import GUEST_CONVENTIONS
from seamemu.kernel.wrappers import status_errno
from seamemu.session.result import NO_CALL, RunResult, rax_name
from seamemu.trace.render import vmcall_lines


def _errno(value: int) -> str:
    return f"{errno_name(value)} ({value})" if value else "0"


def format_run(r: RunResult, image: Image, kernel: Generation | str | None = None) -> str:
    gen = generation(kernel)
    lines = [f"call {r.entry} on LP {r.lp} ({r.convention} convention), RAX = leaf 0x{r.leaf:x}"]
    if r.inputs:
        lines.append("  inputs: " + ", ".join(f"{k.upper()}=0x{v:x}" for k, v in r.inputs.items()))
    for ev in r.events:
        lines.append(f"  {ev.insn.upper()} at 0x{ev.address:x} <{ev.symbol}>: {ev.decision.rule}")
        if ev.record is not None:
            rec = ev.record
            note = f" [{rec.note}]" if rec.note else ""
            lines.append(f"    module: {rec.leaf_name} -> {rec.status_name} "
                         f"(state {rec.state_before} -> {rec.state_after}){note}")
            read = rec.consumed_inputs
            lines.append("    read by the leaf: " + (", ".join(
                f"{k.upper()}=0x{v:x}" for k, v in read.items() if k != "rax") or "-"))
            carried = [f"{k.upper()}=0x{v:x}" for k, v in rec.inputs.items() if k not in read]
            if carried:
                lines.append(f"    also in registers at the {ev.insn.upper()}: " + " ".join(carried))
            if rec.outputs:
                outs = ", ".join(f"{k.upper()}=0x{v:x}" for k, v in rec.outputs.items())
                lines.append("    outputs: " + outs)
            if rec.vmcall is not None:
                lines += vmcall_lines(rec.vmcall, "    ")
    if r.fault:
        f = r.fault
        how = (f"handled by {f.handled_by}, resumed at {hex64_or_none(f.fixup)}" if f.handled_by
               else "UNHANDLED")
        lines.append(f"  fault: {f.name} at {hex64(f.address)} <{f.symbol}>: {how}")
    if r.oops:
        lines.append("  " + r.oops.replace("\n", "\n  "))
    if r.bound:
        b = r.bound
        why = "gdb's kill" if b.kind == "debugger" else f"the {b.kind} bound ({b.limit:g})"
        lines.append(f"  stopped by {why} at {hex64(b.rip)} <{b.symbol}>: {r.bound_disasm}")
    if not r.abi.returned:
        oops = "; in a kernel this is an oops" if r.fault and not r.fault.handled_by else ""
        lines.append(f"outcome: {r.outcome}   the call never returned, so RAX (0x{r.rax:016x}) "
                     "is no status" + oops)
    elif r.outcome in NO_CALL:
        lines.append(f"outcome: {r.outcome}   {NO_CALL[r.outcome]}: RAX (0x{r.rax:016x}) is "
                     "what the function left there, no status")
    elif r.convention == "hypercall":
        said = rax_name(r.rax, r.leaf, r.convention)
        lines.append(f"outcome: {r.outcome}   RAX = 0x{r.rax:016x} ({said}: the VMM's status, "
                     "from R10)")
    elif r.convention in GUEST_CONVENTIONS:
        lines.append(f"outcome: {r.outcome}   RAX = 0x{r.rax:016x} ({rax_name(r.rax, r.leaf)}: "
                     "the TDX module's status)")
    else:
        lines.append(f"outcome: {r.outcome}   RAX = 0x{r.rax:016x} ({rax_name(r.rax, r.leaf)}; "
                     f"kernel {gen.name} returns {_errno(status_errno(gen, r.rax, r.leaf))})")
    if r.out is not None:
        lines.append("output struct: " + ", ".join(f"{k}=0x{v:x}" for k, v in r.out.items()))
    regs = [x for x in ABI_ORDER if x in r.regs]
    lines.append("registers after: " + " ".join(f"{x.upper()}=0x{r.regs[x]:x}" for x in regs))
    abi = r.abi
    if not abi.returned:
        lines.append(f"ABI: not checked, the function did not return ({r.outcome})")
        return "\n".join(lines)
    before = getattr(r.raw, "regs_before", {})
    clobbered = ", ".join(f"{x.upper()} 0x{before[x]:x} -> 0x{r.regs[x]:x}" if x in before else x
                          for x in abi.clobbered)
    lines.append("ABI: " + ("callee-saved registers and RSP preserved" if abi.preserved else
                            f"BROKEN (clobbered: {clobbered or '-'}; "
                            f"RSP balanced: {abi.rsp_balanced}; DF clear: {abi.df_clear})"))
    return "\n".join(lines)


__all__ = ["format_run"]
