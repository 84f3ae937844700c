# SPDX-License-Identifier: MIT
"""One fuzz input: registers, struct, leaf word, CPU state, the module's answer, the caller's stack.

Cases are NamedTuples (immutable, and a quarter of the cost of a frozen dataclass: one is
built per run on the fast path).  `case_to_json`/`case_from_json` give the named, hex form
that reproducers and corpus entries store; a malformed one raises ReplayError naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from seamemu.errors import ReplayError
from seamemu.fuzz.promises import Spec
from seamemu.fuzz.value_tables import ANSWER_KINDS, MASK64

FRAME_WORDS = 8          # words of the caller's own stack frame above the return address
RFLAGS_ENTRY_MASK = 0x8D5  # CF PF AF ZF SF OF: what a caller may leave in RFLAGS (DF clear)


class Cpu(NamedTuple):
    """The emulated CPU state the fuzzer varies: VMX operation, SEAMRR, CPL, module loaded."""

    vmx: bool = True
    seamrr: bool = True
    cpl: int = 0
    module: bool = True


NORMAL_CPU = Cpu()


class Answer(NamedTuple):
    """What the module does: a status with output registers, or an instruction fault."""

    kind: str = "status"                      # one of values.ANSWER_KINDS
    status: int = 0
    outputs: tuple[tuple[str, int], ...] = ()  # (register, value) the module changes


class Case(NamedTuple):
    leaf: int
    inputs: tuple[int, ...]      # values of spec.inputs
    regs: tuple[int, ...]        # values of spec.free_regs (the caller's own registers)
    out: tuple[int, ...] = ()    # legacy: the output struct's contents before the call
    out_null: bool = False       # legacy: pass NULL as the output pointer
    cpu: Cpu = NORMAL_CPU
    answer: Answer = Answer()
    align: int = 0               # bytes the entry RSP is moved down from the SysV alignment
    frame: tuple[int, ...] = (0,) * FRAME_WORDS
    rflags: int = 0


def zero_case(spec: Spec) -> Case:
    """The simplest case: everything zero, a normal CPU, the module answering TDX_SUCCESS."""
    return Case(0, (0,) * len(spec.inputs), (0,) * len(spec.free_regs),
                (0,) * len(spec.struct_fields) if spec.out_pointer else ())


def _hex(v: int) -> str:
    return f"0x{v:016x}"


def case_to_json(case: Case, spec: Spec) -> dict:
    """Named, hex-valued form of a case (registers in the convention's order)."""
    return {
        "leaf": _hex(case.leaf),
        "inputs": {n: _hex(v) for n, v in zip(spec.inputs, case.inputs)},
        "caller_regs": {n: _hex(v) for n, v in zip(spec.free_regs, case.regs)},
        "out_struct": ({n: _hex(v) for n, v in zip(spec.struct_fields, case.out)}
                       if spec.out_pointer else None),
        "out_null": case.out_null,
        "cpu": {"vmx": case.cpu.vmx, "seamrr": case.cpu.seamrr, "cpl": case.cpu.cpl,
                "module": case.cpu.module},
        "module_answer": {"kind": case.answer.kind, "status": _hex(case.answer.status),
                          "outputs": {r: _hex(v) for r, v in case.answer.outputs}},
        "stack": {"align": case.align, "frame": [_hex(v) for v in case.frame]},
        "rflags": _hex(case.rflags),
    }


def case_from_json(obj: Any, spec: Spec, where: str = "case") -> Case:
    """Parse `case_to_json` output back; ReplayError names the first bad field."""
    d = _obj(obj, where)
    regs_in = _obj(d.get("inputs", {}), f"{where}.inputs")
    caller = _obj(d.get("caller_regs", {}), f"{where}.caller_regs")
    _only(regs_in, spec.inputs, f"{where}.inputs")
    _only(caller, spec.free_regs, f"{where}.caller_regs")
    out: tuple[int, ...] = ()
    if spec.out_pointer:
        struct = _obj(d.get("out_struct") or {}, f"{where}.out_struct")
        _only(struct, spec.struct_fields, f"{where}.out_struct")
        out = tuple(_u64(struct.get(n, 0), f"{where}.out_struct.{n}") for n in spec.struct_fields)
    cpu_d = _obj(d.get("cpu", {}), f"{where}.cpu")
    cpl = cpu_d.get("cpl", 0)
    if not isinstance(cpl, int) or isinstance(cpl, bool) or not 0 <= cpl <= 3:
        raise ReplayError(f"{where}.cpu.cpl: {cpl!r} is not 0..3")
    cpu = Cpu(_bool(cpu_d.get("vmx", True), f"{where}.cpu.vmx"),
              _bool(cpu_d.get("seamrr", True), f"{where}.cpu.seamrr"), cpl,
              _bool(cpu_d.get("module", True), f"{where}.cpu.module"))
    ans_d = _obj(d.get("module_answer", {}), f"{where}.module_answer")
    kind = ans_d.get("kind", "status")
    if kind not in ANSWER_KINDS:
        raise ReplayError(f"{where}.module_answer.kind: {kind!r} is not one of {', '.join(ANSWER_KINDS)}")
    outs = _obj(ans_d.get("outputs", {}), f"{where}.module_answer.outputs")
    _only(outs, spec.module_writes, f"{where}.module_answer.outputs")
    answer = Answer(kind, _u64(ans_d.get("status", 0), f"{where}.module_answer.status"),
                    tuple((r, _u64(outs[r], f"{where}.module_answer.outputs.{r}"))
                          for r in spec.module_writes if r in outs))
    stack = _obj(d.get("stack", {}), f"{where}.stack")
    align = stack.get("align", 0)
    if not isinstance(align, int) or isinstance(align, bool) or not 0 <= align < 64:
        raise ReplayError(f"{where}.stack.align: {align!r} is not 0..63")
    frame_l = stack.get("frame", [0] * FRAME_WORDS)
    if not isinstance(frame_l, list) or len(frame_l) != FRAME_WORDS:
        raise ReplayError(f"{where}.stack.frame: expected a list of {FRAME_WORDS} words")
    rflags = _u64(d.get("rflags", 0), f"{where}.rflags")
    if rflags & ~RFLAGS_ENTRY_MASK:
        raise ReplayError(f"{where}.rflags: {rflags:#x} sets bits other than the arithmetic flags")
    return Case(
        leaf=_u64(d.get("leaf", 0), f"{where}.leaf"),
        inputs=tuple(_u64(regs_in.get(n, 0), f"{where}.inputs.{n}") for n in spec.inputs),
        regs=tuple(_u64(caller.get(n, 0), f"{where}.caller_regs.{n}") for n in spec.free_regs),
        out=out, out_null=_bool(d.get("out_null", False), f"{where}.out_null"),
        cpu=cpu, answer=answer, align=align,
        frame=tuple(_u64(v, f"{where}.stack.frame[{i}]") for i, v in enumerate(frame_l)),
        rflags=rflags,
    )


def _obj(v: Any, where: str) -> Mapping:
    if not isinstance(v, Mapping):
        raise ReplayError(f"{where}: expected an object, got {type(v).__name__}")
    return v


def _only(d: Mapping, allowed: tuple[str, ...], where: str) -> None:
    for k in d:
        if k not in allowed:
            raise ReplayError(f"{where}: {k!r} is not one of {', '.join(allowed) or '(none)'}")


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ReplayError(f"{where}: expected true or false, got {v!r}")
    return v


def _u64(v: Any, where: str) -> int:
    if isinstance(v, str):
        try:
            v = int(v.replace("_", ""), 0)
        except ValueError:
            raise ReplayError(f"{where}: {v!r} is not a number") from None
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MASK64:
        raise ReplayError(f"{where}: {v!r} is not a 64-bit value")
    return v


__all__ = [
    "Answer",
    "Case",
    "Cpu",
    "FRAME_WORDS",
    "NORMAL_CPU",
    "RFLAGS_ENTRY_MASK",
    "case_from_json",
    "case_to_json",
    "zero_case",
]
