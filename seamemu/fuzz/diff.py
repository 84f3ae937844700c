# SPDX-License-Identifier: MIT
"""Differential mode: the same case through two implementations of an entry, and where they differ.

The first difference is reported, in this order: how the run ended, the registers the module
received, the registers on return (ABI order, then RBP, RSP, DF), the struct, stray stores.
The location is charged to the implementation under test (`--asm`), not the reference.
"""

from __future__ import annotations

from seamemu.arch.registers import ABI_ORDER, RFLAGS_DF
from seamemu.fuzz.executor import Observation
from seamemu.fuzz.invariants import Violation
from seamemu.fuzz.promises import Spec
from seamemu.jsonout import hex64

_RETURN_REGS = ABI_ORDER + ("rbp",)



def _ending(obs: Observation) -> str:
    res = obs.res
    if res.outcome == "fault" and res.fault is not None:
        at = [e.insn for e in res.seam_events if e.insn in ("seamcall", "tdcall")
              and e.address == res.fault.address]
        return f"unhandled {res.fault.name}" + (f" at the {at[0].upper()}" if at else "")
    if res.outcome == "bound" and res.bound is not None:
        return f"stopped by the {res.bound.kind} bound"
    return res.outcome


def compare(spec: Spec, a: Observation, b: Observation) -> Violation | None:
    """The first way `a` (under test) and `b` (reference) disagree, or None."""
    ea, eb = _ending(a), _ending(b)
    if ea != eb:
        return Violation("differential", "outcome", f"under test: {ea}; reference: {eb}", None)
    if (a.received is None) != (b.received is None) or a.calls != b.calls:
        return Violation("differential", "outcome", f"the module was called {a.calls} time(s) "
                         f"under test, {b.calls} time(s) by the reference", None)
    if a.received is not None and b.received is not None:
        got, ref = a.received, b.received
        for reg in ("rax",) + (spec.module_inputs or ("rcx", "rdx", "r8", "r9", "r10", "r11")):
            if got[reg] != ref[reg]:
                return Violation("differential", f"received:{reg}", f"the module received "
                                 f"{reg.upper()} = {hex64(got[reg])} under test, "
                                 f"{hex64(ref[reg])} from the reference", None)
    if a.res.outcome == "returned":
        ra, rb = a.res.regs_after, b.res.regs_after
        for reg in _RETURN_REGS + ("rsp",):
            if ra[reg] != rb[reg]:
                return Violation("differential", f"reg:{reg}", f"{reg.upper()} on return is "
                                 f"{hex64(ra[reg])} under test, {hex64(rb[reg])} from the reference", None)
        if (ra["rflags"] ^ rb["rflags"]) & RFLAGS_DF:
            return Violation("differential", "reg:rflags", "RFLAGS.DF on return differs", None)
    for i, f in enumerate(spec.struct_fields):
        if a.struct[i] != b.struct[i]:
            return Violation("differential", f"struct:{f}", f"struct field {f} is {hex64(a.struct[i])} "
                             f"under test, {hex64(b.struct[i])} from the reference", None)
    if (bool(a.hits), a.frame != a.frame_before) != (bool(b.hits), b.frame != b.frame_before):
        return Violation("differential", "memory", "one implementation stores outside the stack "
                         "and struct, the other does not", None)
    return None


__all__ = ["compare"]
