# SPDX-License-Identifier: MIT
"""One fuzz input: registers, struct, leaf word, CPU state, the module's answer, the caller's stack.

Cases are NamedTuples (immutable, and a quarter of the cost of a frozen dataclass: one is
built per run on the fast path).  `case_to_json`/`case_from_json` give the named, hex form
that reproducers and corpus entries store; a malformed one raises ReplayError naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from seamemu.errors import ReplayError
from seamemu.fuzz.promises import Spec
from seamemu.fuzz.value_tables import ANSWER_KINDS, MASK64
from seamemu.jsonout import hex64

FRAME_WORDS = 8          # words of the caller's own stack frame above the return address
RFLAGS_ENTRY_MASK = 0x8D5  # CF PF AF ZF SF OF: what a caller may leave in RFLAGS (DF clear)


class Cpu(NamedTuple):
    """The emulated CPU state the fuzzer varies: VMX operation, SEAMRR, CPL, module loaded, and
    whether the LP runs a TD's vCPU (the guest conventions' normal state)."""

    vmx: bool = True
    seamrr: bool = True
    cpl: int = 0
    module: bool = True
    td: bool = False


NORMAL_CPU = Cpu()
GUEST_CPU = Cpu(td=True)     # the normal state of a TD guest's call


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
    """The simplest case: everything zero, a normal CPU (the host, or a TD's vCPU for the
    guest's conventions), the module answering TDX_SUCCESS."""
    return Case(0, (0,) * len(spec.inputs), (0,) * len(spec.free_regs),
                (0,) * len(spec.struct_fields) if spec.out_pointer else (),
                cpu=normal_cpu(spec))


def normal_cpu(spec: Spec) -> Cpu:
    """The CPU state a convention's calls are made in: a TD's vCPU for the guest's."""
    return GUEST_CPU if spec.instruction == "tdcall" else NORMAL_CPU



def case_to_json(case: Case, spec: Spec) -> dict:
    """Named, hex-valued form of a case (registers in the convention's order)."""
    return {
        "leaf": hex64(case.leaf),
        "inputs": {n: hex64(v) for n, v in zip(spec.inputs, case.inputs)},
        "caller_regs": {n: hex64(v) for n, v in zip(spec.free_regs, case.regs)},
        "out_struct": ({n: hex64(v) for n, v in zip(spec.struct_fields, case.out)}
                       if spec.out_pointer else None),
        "out_null": case.out_null,
        "cpu": {"vmx": case.cpu.vmx, "seamrr": case.cpu.seamrr, "cpl": case.cpu.cpl,
                "module": case.cpu.module} | ({"td": True} if case.cpu.td else {}),
        "module_answer": {"kind": case.answer.kind, "status": hex64(case.answer.status),
                          "outputs": {r: hex64(v) for r, v in case.answer.outputs}},
        "stack": {"align": case.align, "frame": [hex64(v) for v in case.frame]},
        "rflags": hex64(case.rflags),
    }


def case_from_json(obj: Any, spec: Spec, where: str = "case") -> Case:
    """Parse `case_to_json` output back; ReplayError names the first bad field."""
    at = (lambda name: f"{where}.{name}") if where else (lambda name: name)
    # Every part of a case is written out (case_to_json), so one that is missing is a damaged
    # file, not zeros: replaying it as zeros would test something nobody found.
    d = _object(obj, where or "reproducer",
                ("leaf", "inputs", "caller_regs", "cpu", "module_answer", "stack", "rflags"), at)
    regs_in = _object(d["inputs"], at("inputs"), spec.inputs, only=True)
    caller = _object(d["caller_regs"], at("caller_regs"), spec.free_regs, only=True)
    out: tuple[int, ...] = ()
    if spec.out_pointer:
        _object(d, where or "reproducer", ("out_struct",), at)
        struct = _object(d["out_struct"], at("out_struct"), spec.struct_fields, only=True)
        out = tuple(_u64(struct[n], at(f"out_struct.{n}")) for n in spec.struct_fields)
    cpu_d = _object(d["cpu"], at("cpu"), ("vmx", "seamrr", "cpl", "module"))
    cpl = cpu_d["cpl"]
    if not isinstance(cpl, int) or isinstance(cpl, bool) or not 0 <= cpl <= 3:
        raise ReplayError(f"{at('cpu.cpl')}: {cpl!r} is not 0..3")
    cpu = Cpu(_bool(cpu_d["vmx"], at("cpu.vmx")), _bool(cpu_d["seamrr"], at("cpu.seamrr")), cpl,
              _bool(cpu_d["module"], at("cpu.module")), _bool(cpu_d.get("td", False), at("cpu.td")))
    ans_d = _object(d["module_answer"], at("module_answer"), ("kind", "status", "outputs"))
    kind = ans_d["kind"]
    if kind not in ANSWER_KINDS:
        raise ReplayError(f"{at('module_answer.kind')}: {kind!r} is not one of "
                          f"{', '.join(ANSWER_KINDS)}")
    outs = _object(ans_d["outputs"], at("module_answer.outputs"), spec.module_writes, only=True,
                   need=False)
    answer = Answer(kind, _u64(ans_d["status"], at("module_answer.status")),
                    tuple((r, _u64(outs[r], at(f"module_answer.outputs.{r}")))
                          for r in spec.module_writes if r in outs))
    stack = _object(d["stack"], at("stack"), ("align", "frame"))
    align = stack["align"]
    if not isinstance(align, int) or isinstance(align, bool) or not 0 <= align < 64:
        raise ReplayError(f"{at('stack.align')}: {str(align)[:40]} is not 0..63")
    frame_l = stack["frame"]
    if not isinstance(frame_l, list) or len(frame_l) != FRAME_WORDS:
        raise ReplayError(f"{at('stack.frame')}: expected a list of {FRAME_WORDS} words")
    rflags = _u64(d["rflags"], at("rflags"))
    if rflags & ~RFLAGS_ENTRY_MASK:
        raise ReplayError(f"{at('rflags')}: {rflags:#x} sets bits other than the arithmetic flags")
    return Case(
        leaf=_u64(d["leaf"], at("leaf")),
        inputs=tuple(_u64(regs_in[n], at(f"inputs.{n}")) for n in spec.inputs),
        regs=tuple(_u64(caller[n], at(f"caller_regs.{n}")) for n in spec.free_regs),
        out=out, out_null=_bool(d.get("out_null", False), at("out_null")),
        cpu=cpu, answer=answer, align=align,
        frame=tuple(_u64(v, at(f"stack.frame[{i}]")) for i, v in enumerate(frame_l)),
        rflags=rflags,
    )


def _object(v: Any, where: str, keys: tuple[str, ...], at: Callable[[str], str] | None = None,
            *, only: bool = False, need: bool = True) -> Mapping:
    """`v` as a JSON object holding every one of `keys` (unless not `need`) and, when `only`,
    nothing else; ReplayError names the first key wrong (`at(key)`: where the key is)."""
    if not isinstance(v, Mapping):
        raise ReplayError(f"{where}: expected an object, got {type(v).__name__}")
    if only:
        for k in v:
            if k not in keys:
                raise ReplayError(f"{where}: {k!r} is not one of {', '.join(keys) or '(none)'}")
    for k in keys if need else ():
        if k not in v:
            raise ReplayError(f"{at(k) if at else f'{where}.{k}'}: missing")
    return v


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ReplayError(f"{where}: expected true or false, got {v!r}")
    return v


def _u64(v: Any, where: str) -> int:
    if isinstance(v, str):
        try:
            if not v.isascii() or len(v) > 200:
                raise ValueError(v)
            v = int(v.replace("_", ""), 0)
        except ValueError:
            raise ReplayError(f"{where}: {v[:40]!r} is not a number") from None
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MASK64:
        raise ReplayError(f"{where}: {str(v)[:40]} is not a 64-bit value")
    return v


__all__ = [
    "Answer",
    "Case",
    "Cpu",
    "FRAME_WORDS",
    "GUEST_CPU",
    "NORMAL_CPU",
    "RFLAGS_ENTRY_MASK",
    "case_from_json",
    "case_to_json",
    "normal_cpu",
    "zero_case",
]
