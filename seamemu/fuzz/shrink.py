# SPDX-License-Identifier: MIT
"""Shrinking: the smallest case that still shows the same finding (same rule, same location).

Greedy, simplest-first: the CPU state toward a normal host, the module's answer toward
TDX_SUCCESS with no outputs, the stack toward SysV alignment with a zero frame, then every
value toward 0 (else 1, its lowest or highest set bit, its low byte or half).  Each step is
kept only if `still(case)` holds, so what remains nonzero is what the finding needs.  The
passes repeat while one still changes something: zeroing an input late in a pass can make a
module output kept early in it unnecessary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from seamemu.fuzz.case import FRAME_WORDS, NORMAL_CPU, Answer, Case, Cpu

Still = Callable[[Case], bool]


def simpler_values(v: int) -> list[int]:
    """Candidates below v, simplest first (fewest bits set, then smallest)."""
    if v == 0:
        return []
    cands = {0, 1, v & -v, 1 << (v.bit_length() - 1), v & 0xFF, v & 0xFFFF_FFFF, v >> 32, v >> 1}
    return sorted((c for c in cands if c < v), key=lambda c: (c.bit_count(), c))


class _Shrinker:
    def __init__(self, still: Still, budget: int) -> None:
        self.still = still
        self.budget = budget

    def ok(self, case: Case) -> bool:
        if self.budget <= 0:
            return False
        self.budget -= 1
        return self.still(case)

    def value(self, case: Case, get: Callable[[Case], int], put: Callable[[Case, int], Case]) -> Case:
        progress = True
        while progress:
            progress = False
            for c in simpler_values(get(case)):
                cand = put(case, c)
                if self.ok(cand):
                    case, progress = cand, True
                    break
        return case

    def vector(self, case: Case, name: str) -> Case:
        values = getattr(case, name)
        if not any(values):
            return case
        cand = _set(case, name, (0,) * len(values))
        if self.ok(cand):
            return cand
        for i in range(len(values)):
            case = self.value(case, *_element(name, i))
        return case


_T = TypeVar("_T")


def _set(record: _T, name: str, value: object) -> _T:
    """`record` (a NamedTuple) with the field called `name` replaced."""
    replaced: _T = cast(Any, record)._replace(**{name: value})
    return replaced


def _element(name: str, i: int) -> tuple[Callable[[Case], int], Callable[[Case, int], Case]]:
    """Getter and setter of element `i` of the vector field `name`."""
    def get(c: Case) -> int:
        return int(getattr(c, name)[i])

    def put(c: Case, v: int) -> Case:
        values = getattr(c, name)
        return _set(c, name, values[:i] + (v,) + values[i + 1:])
    return get, put


def _output(i: int) -> tuple[Callable[[Case], int], Callable[[Case, int], Case]]:
    """Getter and setter of the value of the answer's output `i`."""
    def get(c: Case) -> int:
        return c.answer.outputs[i][1]

    def put(c: Case, v: int) -> Case:
        outs = tuple((r, v if j == i else x) for j, (r, x) in enumerate(c.answer.outputs))
        return c._replace(answer=c.answer._replace(outputs=outs))
    return get, put


PASSES = 3  # a value freed by a later step (an input zeroed) can let an earlier one go too


def shrink(case: Case, still: Still, budget: int = 800, normal: Cpu = NORMAL_CPU) -> Case:
    """The simplest case found (within `budget` runs) for which `still` holds: passes over
    the whole case until one changes nothing (at most PASSES).  `normal` is the CPU state the
    convention's calls are made in (a TD's vCPU for the guest's)."""
    s = _Shrinker(still, budget)
    for _ in range(PASSES):
        smaller = _pass(s, case, normal)
        if smaller == case or s.budget <= 0:
            return smaller
        case = smaller
    return case


def _pass(s: _Shrinker, case: Case, normal: Cpu = NORMAL_CPU) -> Case:
    # Everything at its simplest at once: often all a finding needs is the CPU state.
    base = case._replace(inputs=(0,) * len(case.inputs), regs=(0,) * len(case.regs),
                         out=(0,) * len(case.out), frame=(0,) * FRAME_WORDS, rflags=0, align=0,
                         leaf=0, out_null=False)
    if base != case and s.ok(base):
        case = base
    if case.cpu != normal:
        if s.ok(case._replace(cpu=normal)):
            case = case._replace(cpu=normal)
        else:
            for name, simple in zip(Cpu._fields, normal):
                cand = case._replace(cpu=_set(case.cpu, name, simple))
                if getattr(case.cpu, name) != simple and s.ok(cand):
                    case = cand
    case = _shrink_answer(s, case)
    for name, simple in (("out_null", False), ("align", 0), ("rflags", 0)):
        if getattr(case, name) != simple and s.ok(_set(case, name, simple)):
            case = _set(case, name, simple)
    case = s.value(case, lambda c: c.align, lambda c, v: c._replace(align=v))
    case = s.value(case, lambda c: c.rflags, lambda c, v: c._replace(rflags=v))
    case = s.value(case, lambda c: c.leaf, lambda c, v: c._replace(leaf=v))
    for name in ("frame", "out", "regs", "inputs"):
        case = s.vector(case, name)
    return case


def _shrink_answer(s: _Shrinker, case: Case) -> Case:
    simplest = Answer()
    if case.answer == simplest:
        return case
    if s.ok(case._replace(answer=simplest)):
        return case._replace(answer=simplest)
    ans = case.answer
    if ans.kind != "status":
        return case  # a fault answer carries nothing else
    if ans.outputs and s.ok(case._replace(answer=ans._replace(outputs=()))):
        case = case._replace(answer=ans._replace(outputs=()))
    for reg, _ in case.answer.outputs:
        outs = case.answer.outputs
        cand = case._replace(answer=case.answer._replace(outputs=tuple(o for o in outs if o[0] != reg)))
        if s.ok(cand):
            case = cand
    case = s.value(case, lambda c: c.answer.status,
                   lambda c, v: c._replace(answer=c.answer._replace(status=v)))
    for i in range(len(case.answer.outputs)):
        case = s.value(case, *_output(i))
    return case


__all__ = ["PASSES", "shrink", "simpler_values"]
