# SPDX-License-Identifier: MIT
"""The invariants checked on every run, each a named rule that a finding cites.

`check` reads one Observation against the Spec and the Case and returns the violations, at
most one per rule (the first register or field in ABI order), each with a `hint`: the code
address the fast path already knows, or None when only a trace can tell (locate.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import NamedTuple

from seamemu.arch.registers import CALLEE_SAVED, RFLAGS_DF
from seamemu.fuzz.case import Case
from seamemu.fuzz.executor import Observation
from seamemu.fuzz.oracle import SW_CODE_OF, instruction_outcome, module_called
from seamemu.fuzz.promises import Spec
from seamemu.jsonout import hex64

# Rule name -> the sentence a finding cites.  Sorted by name.
RULES: dict[str, str] = {
    "callee-saved": "SysV callee-saved registers (RBX, RBP, R12-R15) are restored on return",
    "df-clear": "RFLAGS.DF is clear on return",
    "differential": "two implementations of the entry agree on the same inputs",
    "memory-writes": "nothing is written except the stack below the caller's RSP and the "
                     "argument struct",
    "module-inputs": "the module receives exactly the inputs the caller supplied, in the "
                     "registers the convention says",
    "no-unhandled-fault": "no unhandled fault, unless the convention leaves faults to the caller",
    "output-struct": "output struct fields equal what the module returned (after a "
                     "VMfailInvalid, what the generation's macro copies: nothing, or the "
                     "registers as they were), and nothing else in the struct changes",
    "rax-status": "RAX on return is the module's status, or the kernel's software code for "
                  "the #GP, #UD or VMfailInvalid that happened",
    "returns": "the function returns to its caller",
    "rsp-restored": "RSP is restored: the caller's stack pointer is balanced on return",
    "shared-cleared": "no register the module or VMM answered in (RCX, RDX, R8-R11, RDI, RSI) "
                      "keeps its value on return (saved+ret variants and the hypercall)",
    "tdcall-failure-fatal": "a TDCALL that fails in itself (RAX not 0) does not return: the "
                            "kernel's __tdx_hypercall panics",
}


class Violation(NamedTuple):
    rule: str
    key: str          # the register, field or path the rule failed on
    detail: str       # one sentence with the expected and actual values
    hint: int | None  # a code address known without a trace



class _Plan(NamedTuple):
    """Index work done once per Spec instead of once per run."""

    inputs: tuple[tuple[str, int], ...]     # (module register, index in case.inputs)
    writeback: tuple[tuple[int, str], ...]  # (index in the struct, register)
    position: dict                           # register -> index in the struct, for writeback


@functools.lru_cache(maxsize=16)
def _plan(spec: Spec) -> _Plan:
    return _Plan(tuple((r, spec.inputs.index(r)) for r in spec.module_inputs),
                 tuple((spec.struct_fields.index(f), f) for f in spec.writeback),
                 {f: spec.struct_fields.index(f) for f in spec.writeback})


def check(spec: Spec, case: Case, obs: Observation, in_code: Callable[[int], bool],
          instr: str | None = None) -> list[Violation]:
    """Every rule the run broke (empty for a correct stub).  `instr` is
    `instruction_outcome(case)` when the caller has it already."""
    out: list[Violation] = []
    res = obs.res
    if instr is None:
        instr = instruction_outcome(case, spec.instruction)
    returned = res.outcome == "returned"
    allowed_fault = False
    # A hypercall whose TDCALL failed must stop (the kernel panics) rather than return.
    fatal = spec.panics_on_failure and instr == "module" and case.answer.status != 0
    if not returned:
        allowed_fault = _check_stop(spec, res, instr, in_code, out, fatal)
    if returned:
        before, after = res.regs_before, res.regs_after
        for r in CALLEE_SAVED:
            if after[r] != before[r]:
                out.append(Violation("callee-saved", r, f"{r.upper()} is {hex64(after[r])} on return, "
                                     f"the caller had {hex64(before[r])}", None))
                break
        if after["rsp"] != before["rsp"] + 8:
            delta = after["rsp"] - before["rsp"] - 8
            out.append(Violation("rsp-restored", "rsp", f"RSP is off by {delta:+d} bytes on return", None))
        if after["rflags"] & RFLAGS_DF:
            out.append(Violation("df-clear", "df", "RFLAGS.DF is set on return", None))
        if fatal:
            out.append(Violation("tdcall-failure-fatal", "rax", f"returned (RAX "
                                 f"{hex64(after['rax'])}) although the TDCALL failed with "
                                 f"{hex64(case.answer.status)}", None))
        elif spec.checks_rax and (instr == "module" or (instr in SW_CODE_OF and
                                  spec.instruction == "seamcall")):
            want = _status(spec, case, obs) if instr == "module" else SW_CODE_OF[instr]
            if after["rax"] != want:
                why = ("the module's status" if spec.status_reg == "rax" else
                       f"{spec.status_reg.upper()} as the module left it") \
                    if instr == "module" else f"the software code for {instr}"
                out.append(Violation("rax-status", "rax", f"RAX is {hex64(after['rax'])} on return, "
                                     f"expected {hex64(want)} ({why})", None))
        if spec.cleared and instr == "module" and obs.received is not None:
            _check_cleared(spec, case, obs, out)
    _check_inputs(spec, case, obs, returned, out)
    if spec.struct_fields and (returned or allowed_fault) and not (instr == "module" and obs.calls == 0):
        _check_struct(spec, case, obs, instr, out)
    _check_memory(obs, in_code, out, spec.stray_stores)
    return out


def _status(spec: Spec, case: Case, obs: Observation) -> int:
    """What RAX must hold after a call the module answered: its status, or (hypercall) the
    status register as the module left it."""
    if spec.status_reg == "rax":
        return case.answer.status
    answered = dict(case.answer.outputs)
    if spec.status_reg in answered:
        return answered[spec.status_reg]
    return obs.received[spec.status_reg] if obs.received is not None else 0


def _check_cleared(spec: Spec, case: Case, obs: Observation, out: list[Violation]) -> None:
    """TDX_MODULE_CALL saved+ret zeroes RCX, RDX, R8-R11, RDI and RSI once the module answered
    (tdxcall.S since v6.6).  The hypercall's wrapper is C in the kernel, so for it the promise
    is weaker: none of them may keep a value the module or VMM answered in any register (one
    the caller did not have)."""
    after = obs.res.regs_after
    if spec.convention != "hypercall":
        for reg in spec.cleared:
            if after[reg]:
                out.append(Violation("shared-cleared", reg, f"{reg.upper()} is "
                                     f"{hex64(after[reg])} on return, not zeroed", None))
                return
        return
    got = obs.received
    assert got is not None
    known = set(case.inputs) | set(case.regs) | {0}
    answered = {v: r for r, v in case.answer.outputs if v != got[r] and v not in known}
    for reg in spec.cleared:
        if after[reg] in answered:
            out.append(Violation("shared-cleared", reg, f"{reg.upper()} still holds "
                                 f"{hex64(after[reg])} on return, the value the module answered "
                                 f"in {answered[after[reg]].upper()}", None))
            return


def _check_stop(spec: Spec, res, instr: str, in_code, out: list[Violation],
                fatal: bool = False) -> bool:
    """A run that did not return: an allowed fault (True), or a violation is added."""
    fault = res.fault
    if res.outcome == "fault" and fault is not None:
        if fatal and in_code(fault.address):
            return True       # the panic a failed TDCALL calls for (ud2, BUG())
        at_seamcall = any(e.insn == spec.instruction and e.address == fault.address
                          for e in res.seam_events)
        # raw: RAX at the SEAMCALL is the stub's own doing, so any #GP/#UD there is allowed.
        expected = fault.name == instr or (spec.convention == "raw" and fault.name in SW_CODE_OF)
        if spec.faults_to_caller and at_seamcall and expected:
            return True
        if fault.branch_target is not None:
            # A JMP/CALL/RET to a non-canonical address: the CPU faults on the branch, but
            # the broken promise is the return (a wild jump), located at that branch.
            out.append(Violation("returns", "wild", f"did not return: {fault.detail}",
                                 fault.address if in_code(fault.address) else None))
        elif in_code(fault.address):
            out.append(Violation("no-unhandled-fault", fault.name,
                                 f"unhandled {fault.name} at {fault.symbol}"
                                 + (f": {fault.detail}" if fault.detail else ""), fault.address))
        else:
            out.append(Violation("returns", "wild", f"did not return: execution left the code "
                                 f"and raised {fault.name} at 0x{fault.address:016x}", None))
        return False
    bound = res.bound
    where = f" at {bound.symbol}" if bound is not None else ""
    kind = bound.kind if bound is not None else res.outcome
    hint = bound.rip if bound is not None and in_code(bound.rip) else None
    out.append(Violation("returns", kind, f"did not return: stopped by the {kind} bound{where}", hint))
    return False


def _check_inputs(spec: Spec, case: Case, obs: Observation, returned: bool, out: list[Violation]) -> None:
    if not spec.module_inputs:
        return
    got = obs.received
    if got is None:
        if returned and module_called(case, spec.instruction):
            out.append(Violation("module-inputs", "not-called",
                                 f"the {spec.instruction.upper()} the CPU state allows never "
                                 "reached the module", None))
        return
    fixed = dict(spec.fixed_inputs)
    if got["rax"] != fixed.get("rax", case.leaf):
        said = (f"the caller passed leaf {hex64(case.leaf)}" if "rax" not in fixed else
                f"the wrapper makes {hex64(fixed['rax'])}")
        out.append(Violation("module-inputs", "rax", f"the module received RAX = {hex64(got['rax'])}, "
                             f"{said}", None))
        return
    for name, fixed_value in spec.fixed_inputs:
        if got[name] != fixed_value:
            out.append(Violation("module-inputs", name, f"the module received {name.upper()} = "
                                 f"{hex64(got[name])}, the wrapper must pass "
                                 f"{hex64(fixed_value)}", None))
            return
    inputs = case.inputs
    for reg, i in _plan(spec).inputs:
        want = inputs[i]
        if got[reg] != want:
            out.append(Violation("module-inputs", reg, f"the module received {reg.upper()} = "
                                 f"{hex64(got[reg])}, the caller supplied {hex64(want)}", None))
            return


def expected_rax(spec: Spec, case: Case, instr: str) -> int:
    """RAX a correct SEAMCALL stub returns (status in RAX): the module's status, or the
    kernel's code for the #GP, #UD or VMfailInvalid that happened."""
    return case.answer.status if instr == "module" else SW_CODE_OF[instr]


def expected_struct(spec: Spec, case: Case, received: Mapping[str, int] | None,
                    instr: str) -> tuple[int, ...]:
    """The struct a correct stub leaves, given what the module received at the first call."""
    initial = case.out if spec.out_pointer else case.inputs
    if spec.fixed_struct:   # what the wrapper writes into the struct before the call
        index = {f: i for i, f in enumerate(spec.struct_fields)}
        fixed = list(initial)
        for f, wrote in spec.fixed_struct:
            fixed[index[f]] = wrote
        initial = tuple(fixed)
    if instr == "module" and spec.writeback and not case.out_null and received is not None:
        # The module's registers after SEAMRET: what it received, except what it changed.
        plan = _plan(spec)
        expected = list(initial)
        for i, f in plan.writeback:
            expected[i] = received[f]
        position = plan.position
        for reg, value in case.answer.outputs:
            at = position.get(reg)
            if at is not None:
                expected[at] = value
        return tuple(expected)
    if instr == "VMfailInvalid" and spec.vmfail_writeback and not case.out_null:
        # The 2022 macro falls through to the copy: the registers as the failed SEAMCALL left
        # them, i.e. the inputs it was given and, in R10/R11, what the caller had there.
        expected = list(initial)
        for i, f in _plan(spec).writeback:
            if f in spec.inputs:
                expected[i] = case.inputs[spec.inputs.index(f)]
            elif f in spec.free_regs:
                expected[i] = case.regs[spec.free_regs.index(f)]
        return tuple(expected)
    return tuple(initial)


def _check_struct(spec: Spec, case: Case, obs: Observation, instr: str, out: list[Violation]) -> None:
    got = obs.struct
    expected = expected_struct(spec, case, obs.received, instr)
    if expected == got:
        return
    for i, f in enumerate(spec.struct_fields):
        if got[i] != expected[i]:
            written = f in spec.writeback and not case.out_null and (
                instr == "module" or (instr == "VMfailInvalid" and spec.vmfail_writeback))
            why = ("the module returned" if instr == "module" else "the register held") \
                if written else "the caller left there"
            out.append(Violation("output-struct", f, f"struct field {f} is {hex64(got[i])} after the "
                                 f"call, {why} {hex64(expected[i])}", None))
            return


def _check_memory(obs: Observation, in_code, out: list[Violation], stray: bool) -> None:
    for rip, address, size in obs.hits if stray else ():
        if in_code(rip):
            out.append(Violation("memory-writes", "outside", f"a {size}-byte store to "
                                 f"0x{address:016x}, outside the stack below the caller's RSP and "
                                 f"the struct", rip))
            return
    if obs.frame != obs.frame_before:
        off = next(i for i, (a, b) in enumerate(zip(obs.frame, obs.frame_before)) if a != b)
        out.append(Violation("memory-writes", "caller-frame", f"the caller's stack frame changed "
                             f"at caller RSP+{off}", None))


__all__ = ["RULES", "Violation", "check", "expected_rax", "expected_struct"]
