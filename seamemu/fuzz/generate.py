# SPDX-License-Identifier: MIT
"""The seeded fast generator: random, boundary and bit-pattern values for every part of a case.

No Hypothesis here: a run must cost microseconds, so values come from one `random.Random`
drawing from the tables in values.py (plus addresses of the machine the case runs on, so a
register may point at the struct or the stack), and `mutate` makes the small changes the
coverage-guided mode needs.  Each choice (leaf word, CPU state, status, stack alignment) is
a 256-entry table built once, so a case costs one bulk draw of bytes plus table lookups.
The same seed gives the same cases on every machine.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from operator import itemgetter as _itemgetter
from struct import unpack_from as _unpack_from

from seamemu.fuzz.case import FRAME_WORDS, RFLAGS_ENTRY_MASK, Answer, Case, Cpu, normal_cpu
from seamemu.fuzz.promises import Spec
from seamemu.fuzz.value_tables import (
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
_FAULT_KINDS = ("#GP", "#UD", "VMfailInvalid")
RANDOM = None  # a table entry meaning "a fresh value from u64s"


def _table(rng: random.Random, weighted: Sequence[tuple[float, object]], size: int = 256) -> tuple:
    """`size` entries, each drawn from `weighted` [(weight, value or callable)]."""
    total = sum(w for w, _ in weighted)
    out = []
    for _ in range(size):
        r = rng.random() * total
        for w, v in weighted:  # noqa: B007  (v, the value drawn, is used after the loop)
            r -= w
            if r < 0:
                break
        out.append(v(rng) if callable(v) else v)
    return tuple(out)


def _choice(names: tuple[str, ...], mask: int):
    picked = tuple(i for i in range(len(names)) if mask >> i & 1)
    getter = _itemgetter(*picked) if len(picked) > 1 else (
        (lambda v, i=picked[0]: (v[i],)) if picked else (lambda v: ()))
    return tuple(names[i] for i in picked), getter


class Generator:
    """Cases for one Spec from one seed; `addresses` are values worth trying as pointers."""

    def __init__(self, spec: Spec, seed: int, addresses: tuple[int, ...] = ()) -> None:
        self.spec = spec
        self.rng = rng = random.Random(seed)
        self.pool = tuple(BOUNDARY + PATTERNS + _BITS + tuple(a & MASK64 for a in addresses)
                          + tuple(range(1, 17)))
        self._nin = len(spec.inputs)
        self._nfree = len(spec.free_regs)
        self._nout = len(spec.struct_fields) if spec.out_pointer else 0
        self._writes = spec.module_writes
        self._out_ptr = spec.out_pointer
        self._reservoir = self._tables(32768) + list(_unpack_from("<32768Q", rng.randbytes(8 * 32768)))
        self._refresh = 32768
        self._leaves = _table(rng, [
            (45, lambda r: r.choice(VALID_LEAVES)),
            (15, lambda r: leaf_word(r.choice(VALID_LEAVES), r.choice(VERSIONS))),
            (10, lambda r: r.choice(INVALID_LEAVES)),
            (10, lambda r: leaf_word(r.choice(VALID_LEAVES), 0, r.choice(RESERVED_BITS))),
            (8, lambda r: r.choice(SEAMLDR_LEAF_WORDS)),
            (12, RANDOM),
        ], 1024)
        # A non-normal CPU state or a fault answer sends the run down the machine's exception
        # delivery, which costs twice a normal SEAMCALL: about a quarter of runs take it.
        guest = spec.instruction == "tdcall"
        self._cpus = _table(rng, [
            (75, normal_cpu(spec)),
            # The guest's: a TD's vCPU or not, at some CPL (the host's state does not matter).
            (25, (lambda r: Cpu(cpl=r.choice((0, 0, 0, 1, 2, 3)), td=r.random() < 0.8)) if guest
             else (lambda r: Cpu(r.random() < 0.8, r.random() < 0.8, r.choice((0, 0, 0, 1, 2, 3)),
                                 r.random() < 0.7))),
        ])
        self._statuses = _table(rng, [
            (35, 0), (40, lambda r: r.choice(STATUSES)), (5, lambda r: r.choice(SW_CODES)),
            (20, RANDOM),
        ])
        # A TD's TDCALL ends in a status: the module's guest side injects no VMfailInvalid.
        self._kinds = _table(rng, [(85, "status")] + ([] if guest else
                                                      [(5, k) for k in _FAULT_KINDS]))
        # A misaligned entry RSP makes the machine push the return address the slow way.
        self._aligns = _table(rng, [(88, 0), (7, 8), (5, lambda r: r.randrange(1, 16))])
        # Per mask of changed output registers: their names and a gather of their values.
        self._output_choices = tuple(_choice(self._writes, m) for m in range(1 << len(self._writes)))

    # -- values ------------------------------------------------------------------------------
    def u64s(self, n: int) -> list[int]:
        """n values: about half from the tables (an eighth of those zero), half random.

        Drawn as 16-bit indices into a 64 Ki-entry reservoir (one C-level gather per case):
        its lower half holds table values and zeros, its upper half uniformly random values,
        16 of which are redrawn per call (all of them every 2048 calls).
        """
        rng = self.rng
        res = self._reservoir
        k = self._refresh
        self._refresh = 32768 + ((k + 16) & 32767)
        res[k:k + 16] = _unpack_from("<16Q", rng.randbytes(128))
        idx = _unpack_from(f"<{n}H", rng.randbytes(2 * n))
        return list(_itemgetter(*idx)(res)) if n > 1 else [res[i] for i in idx]

    def _tables(self, n: int) -> list[int]:
        """n values from the tables, one in eight zero."""
        rng = self.rng
        pool = self.pool
        scale = len(pool)
        return [0 if s >= 224 else pool[(s * scale) // 224] for s in rng.randbytes(n)]

    def u64(self) -> int:
        return self.u64s(1)[0]

    def leaf(self) -> int:
        v = self._leaves[self.rng.getrandbits(10)]
        return self.u64() if v is RANDOM else v

    def cpu(self) -> Cpu:
        return self._cpus[self.rng.getrandbits(8)]

    def status(self) -> int:
        v = self._statuses[self.rng.getrandbits(8)]
        return self.u64() if v is RANDOM else v

    def answer(self) -> Answer:
        kind = self._kinds[self.rng.getrandbits(8)]
        if kind != "status":
            return Answer(kind, 0, ())
        writes = self._writes
        vals = self.u64s(len(writes))
        return Answer("status", self.status(), self._outputs(vals, self.rng.getrandbits(32)))

    def _outputs(self, vals: list[int], bits: int) -> tuple[tuple[str, int], ...]:
        # Each output register changes with probability 3/4 (two coin flips OR'ed).
        mask = bits | bits >> 16
        return tuple((reg, vals[i]) for i, reg in enumerate(self._writes) if mask >> i & 1)

    def align(self) -> int:
        return self._aligns[self.rng.getrandbits(8)]

    # -- whole cases -------------------------------------------------------------------------
    def batch(self, k: int) -> list[Case]:
        """`k` cases sharing one caller frame (the batched runs' rule: fuzz/batch.py), drawn
        like `case` but in bulk: one gather of every value, one draw of the choice bits."""
        rng = self.rng
        nin, nfree, nout = self._nin, self._nfree, self._nout
        nw = len(self._writes)
        a = nin + nfree
        b = a + nout
        c = b + nw
        stride = c + 2
        frame = tuple(self.u64s(FRAME_WORDS))
        res = self._reservoir
        for _ in range((k + 31) // 32):   # 4 fresh random values a case
            j = self._refresh
            self._refresh = 32768 + ((j + 128) & 32767)
            res[j:j + 128] = _unpack_from("<128Q", rng.randbytes(1024))
        vals = _itemgetter(*_unpack_from(f"<{stride * k}H", rng.randbytes(2 * stride * k)))(res)
        ds = _unpack_from(f"<{k}Q", rng.randbytes(8 * k))
        es = _unpack_from(f"<{k}I", rng.randbytes(4 * k))
        leaves, kinds, statuses, cpus, aligns = (self._leaves, self._kinds, self._statuses,
                                                 self._cpus, self._aligns)
        outputs, out_ptr = self._output_choices, self._out_ptr
        wmask = (1 << nw) - 1
        new = tuple.__new__   # Case(...) and Answer(...) without their argument parsing
        out = []
        for i in range(k):
            o = i * stride
            d = ds[i]
            e = es[i]
            leaf = leaves[d & 0x3FF]
            if leaf is RANDOM:
                leaf = vals[o + c]
            kind = kinds[d >> 10 & 0xFF]
            if kind == "status":
                status = statuses[d >> 18 & 0xFF]
                if status is RANDOM:
                    status = vals[o + c + 1]
                bits = d >> 26 & 0xFFFFFFFF
                names, pick = outputs[(bits | bits >> 16) & wmask]
                answer = new(Answer, ("status", status, tuple(zip(names, pick(vals[o + b:o + c])))))
            else:
                answer = new(Answer, (kind, 0, ()))
            out.append(new(Case, (leaf, vals[o:o + nin], vals[o + nin:o + a], vals[o + a:o + b],
                                  out_ptr and (e >> 28) < 2, cpus[e & 0xFF], answer,
                                  aligns[e >> 8 & 0xFF], frame, (e >> 16) & RFLAGS_ENTRY_MASK)))
        return out

    def case(self, frame: tuple[int, ...] | None = None) -> Case:
        rng = self.rng
        nin, nfree, nout = self._nin, self._nfree, self._nout
        nw = len(self._writes)
        a = nin + nfree
        b = a + nout
        c = b + FRAME_WORDS
        vals = self.u64s(c + nw + 2)
        d = rng.getrandbits(64)
        leaf = self._leaves[d & 0x3FF]
        if leaf is RANDOM:
            leaf = vals[c + nw]
        kind = self._kinds[d >> 10 & 0xFF]
        if kind == "status":
            status = self._statuses[d >> 18 & 0xFF]
            if status is RANDOM:
                status = vals[c + nw + 1]
            answer = Answer("status", status, self._outputs(vals[c:c + nw], d >> 26 & 0xFFFFFFFF))
        else:
            answer = Answer(kind, 0, ())
        e = rng.getrandbits(32)
        # Positional: Case(leaf, inputs, regs, out, out_null, cpu, answer, align, frame, rflags).
        return Case(leaf, tuple(vals[:nin]), tuple(vals[nin:a]), tuple(vals[a:b]),
                    self._out_ptr and (e >> 28) < 2, self._cpus[e & 0xFF], answer,
                    self._aligns[e >> 8 & 0xFF], tuple(vals[b:c]) if frame is None else frame,
                    (e >> 16) & RFLAGS_ENTRY_MASK)

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


__all__ = ["Generator", "RANDOM"]
