"""The seeded fast generator: random, boundary and bit-pattern values for every part of a case.

No Hypothesis here: a run must cost microseconds, so values come from one `random.Random`
drawing from the tables in values.py (plus addresses of the machine the case runs on, so a
register may point at the struct or the stack), and `mutate` makes the small changes the
coverage-guided mode needs.  The same seed gives the same cases on every machine.
"""

from __future__ import annotations

import random

from seamemu.fuzz.case import FRAME_WORDS, NORMAL_CPU, RFLAGS_ENTRY_MASK, Answer, Case, Cpu
from seamemu.fuzz.spec import Spec
from seamemu.fuzz.values import (
    BOUNDARY,
    INVALID_LEAVES,
    MASK64,
    PATTERNS,
    RESERVED_BITS,
    SEAMLDR_LEAF_WORDS,
    STATUSES,
    SW_CODES,
    VALID_LEAVES,
    VERSIONS,
    leaf_word,
)

_BITS = tuple(1 << k for k in range(64)) + tuple(MASK64 ^ (1 << k) for k in range(0, 64, 7))
_CPLS = (0, 0, 0, 1, 2, 3)
_FAULT_KINDS = ("#GP", "#UD", "VMfailInvalid")


class Generator:
    """Cases for one Spec from one seed; `addresses` are values worth trying as pointers."""

    def __init__(self, spec: Spec, seed: int, addresses: tuple[int, ...] = ()) -> None:
        self.spec = spec
        self.rng = random.Random(seed)
        self.pool = tuple(BOUNDARY + PATTERNS + _BITS + tuple(a & MASK64 for a in addresses)
                          + tuple(range(1, 17)))
        self._nin = len(spec.inputs)
        self._nfree = len(spec.free_regs)
        self._nout = len(spec.struct_fields) if spec.out_pointer else 0

    # -- values ------------------------------------------------------------------------------
    def u64s(self, n: int) -> list[int]:
        """n values: about half from the tables, a third uniformly random, the rest zero."""
        rng = self.rng
        vals = rng.choices(self.pool, k=n)
        rnd = rng.getrandbits(n) if n else 0
        zero = rng.getrandbits(n) & rng.getrandbits(n) & ~rnd if n else 0
        getrandbits = rng.getrandbits
        for i in range(n):
            bit = 1 << i
            if rnd & bit:
                vals[i] = getrandbits(64)
            elif zero & bit:
                vals[i] = 0
        return vals

    def u64(self) -> int:
        return self.u64s(1)[0]

    def leaf(self) -> int:
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return rng.choice(VALID_LEAVES)
        if r < 0.6:
            return leaf_word(rng.choice(VALID_LEAVES), rng.choice(VERSIONS))
        if r < 0.7:
            return rng.choice(INVALID_LEAVES)
        if r < 0.8:
            return leaf_word(rng.choice(VALID_LEAVES), 0, rng.choice(RESERVED_BITS))
        if r < 0.88:
            return rng.choice(SEAMLDR_LEAF_WORDS)
        return self.u64()

    def cpu(self) -> Cpu:
        rng = self.rng
        if rng.random() < 0.6:
            return NORMAL_CPU
        return Cpu(rng.random() < 0.8, rng.random() < 0.8, rng.choice(_CPLS), rng.random() < 0.75)

    def status(self) -> int:
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return 0
        if r < 0.75:
            return rng.choice(STATUSES)
        if r < 0.8:
            return rng.choice(SW_CODES)
        return self.u64()

    def answer(self) -> Answer:
        rng = self.rng
        r = rng.random()
        if r >= 0.76:
            return Answer(_FAULT_KINDS[int((r - 0.76) / 0.08) % 3], 0, ())
        writes = self.spec.module_writes
        vals = self.u64s(len(writes))
        mask = rng.getrandbits(len(writes)) | rng.getrandbits(len(writes))
        outs = tuple((reg, vals[i]) for i, reg in enumerate(writes) if mask >> i & 1)
        return Answer("status", self.status(), outs)

    def align(self) -> int:
        r = self.rng.random()
        if r < 0.75:
            return 0
        if r < 0.9:
            return 8
        return self.rng.randrange(1, 16)

    # -- whole cases -------------------------------------------------------------------------
    def case(self) -> Case:
        rng = self.rng
        nin, nfree, nout = self._nin, self._nfree, self._nout
        vals = self.u64s(nin + nfree + nout + FRAME_WORDS)
        return Case(
            leaf=self.leaf(),
            inputs=tuple(vals[:nin]),
            regs=tuple(vals[nin:nin + nfree]),
            out=tuple(vals[nin + nfree:nin + nfree + nout]),
            out_null=self.spec.out_pointer and rng.random() < 0.1,
            cpu=self.cpu(),
            answer=self.answer(),
            align=self.align(),
            frame=tuple(vals[nin + nfree + nout:]),
            rflags=rng.getrandbits(12) & RFLAGS_ENTRY_MASK,
        )

    def mutate(self, case: Case) -> Case:
        """One to three small changes: a value redrawn, a bit flipped, a nudge, a new state."""
        rng = self.rng
        for _ in range(rng.choice((1, 1, 2, 3))):
            part = rng.randrange(9)
            if part == 0:
                case = case._replace(leaf=self._tweak(case.leaf) if rng.random() < 0.5 else self.leaf())
            elif part == 1 and case.inputs:
                case = case._replace(inputs=self._tweak_one(case.inputs))
            elif part == 2 and case.regs:
                case = case._replace(regs=self._tweak_one(case.regs))
            elif part == 3:
                case = case._replace(cpu=self.cpu())
            elif part == 4:
                case = case._replace(answer=self.answer())
            elif part == 5 and case.answer.kind == "status":
                case = case._replace(answer=case.answer._replace(status=self.status()))
            elif part == 6:
                case = case._replace(align=self.align(), frame=self._tweak_one(case.frame))
            elif part == 7 and case.out:
                case = case._replace(out=self._tweak_one(case.out),
                                     out_null=rng.random() < 0.2)
            else:
                case = case._replace(rflags=rng.getrandbits(12) & RFLAGS_ENTRY_MASK)
        return case

    def _tweak_one(self, values: tuple[int, ...]) -> tuple[int, ...]:
        i = self.rng.randrange(len(values))
        return values[:i] + (self._tweak(values[i]),) + values[i + 1:]

    def _tweak(self, v: int) -> int:
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            return self.u64()
        if r < 0.7:
            return v ^ (1 << rng.randrange(64))
        return (v + rng.choice((-16, -2, -1, 1, 2, 16))) & MASK64


__all__ = ["Generator"]
