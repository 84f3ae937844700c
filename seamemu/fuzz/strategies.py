# SPDX-License-Identifier: MIT
"""Hypothesis strategies over the fuzzer's value tables, for properties users write themselves.

    from hypothesis import given
    from seamemu.fuzz import Harness
    from seamemu.fuzz.strategies import fuzz_cases

    harness = Harness(["asm/seamcall.S"], "__seamcall_ret")

    @given(fuzz_cases(harness.spec))
    def test_my_stub_keeps_the_abi(case):
        assert harness.check(case) == []

Every strategy draws from the same tables as `seamemu fuzz` (value_tables.py), so a property
explores what the fuzzer does, with Hypothesis's shrinking on top.
"""

from __future__ import annotations

from hypothesis import strategies as st

from seamemu.fuzz import value_tables as values
from seamemu.fuzz.case import FRAME_WORDS, RFLAGS_ENTRY_MASK, Answer, Case, Cpu
from seamemu.fuzz.promises import Spec, make_spec


def u64s(addresses: tuple[int, ...] = ()) -> st.SearchStrategy[int]:
    """64-bit values: boundaries, bit patterns, single bits, given addresses, anything."""
    parts = [st.sampled_from(values.BOUNDARY), st.sampled_from(values.PATTERNS),
             st.integers(0, 63).map(lambda k: 1 << k), st.integers(0, values.MASK64)]
    if addresses:
        parts.append(st.sampled_from(tuple(a & values.MASK64 for a in addresses)))
    return st.one_of(*parts)


def leaf_words() -> st.SearchStrategy[int]:
    """RAX leaf words: valid leaves, with version bits, invalid, reserved bits, P-SEAMLDR."""
    valid = st.sampled_from(values.VALID_LEAVES)
    return st.one_of(
        valid,
        st.builds(values.leaf_word, valid, st.sampled_from(values.VERSIONS)),
        st.sampled_from(values.INVALID_LEAVES),
        st.builds(lambda n, r: values.leaf_word(n, 0, r), valid, st.sampled_from(values.RESERVED_BITS)),
        st.sampled_from(values.SEAMLDR_LEAF_WORDS),
        u64s(),
    )


def cpu_states(guest: bool = False) -> st.SearchStrategy[Cpu]:
    """VMX operation, SEAMRR valid, CPL 0..3, module loaded: every combination; for the
    guest's conventions, a TD's vCPU or not at CPL 0..3."""
    if guest:
        return st.builds(lambda td, cpl: Cpu(cpl=cpl, td=td), st.booleans(), st.integers(0, 3))
    return st.builds(Cpu, st.booleans(), st.booleans(), st.integers(0, 3), st.booleans())


def statuses() -> st.SearchStrategy[int]:
    """Completion statuses of every class, the kernel's own codes, and anything."""
    return st.one_of(st.just(0), st.sampled_from(values.STATUSES), st.sampled_from(values.SW_CODES), u64s())


def module_answers(spec: Spec) -> st.SearchStrategy[Answer]:
    """A status with values in any of the convention's output registers, or a fault."""
    outputs = st.lists(st.tuples(st.sampled_from(spec.module_writes), u64s()),
                       max_size=len(spec.module_writes), unique_by=lambda t: t[0])
    status = st.builds(lambda s, o: Answer("status", s, tuple(sorted(
        o, key=lambda t: spec.module_writes.index(t[0])))), statuses(), outputs)
    if spec.instruction == "tdcall":     # a TD's TDCALL ends in a status
        return status
    return st.one_of(status, st.sampled_from(("#GP", "#UD", "VMfailInvalid")).map(lambda k: Answer(k)))


def fuzz_cases(spec: Spec | str = "args", variant: str | None = None, entry: str = "",
               addresses: tuple[int, ...] = ()) -> st.SearchStrategy[Case]:
    """Whole cases for a convention (a Spec, or a convention name with variant or entry)."""
    if not isinstance(spec, Spec):
        spec = make_spec(spec, variant, entry)
    words = u64s(addresses)
    nout = len(spec.struct_fields) if spec.out_pointer else 0
    return st.builds(
        Case,
        leaf=leaf_words(),
        inputs=st.tuples(*[words] * len(spec.inputs)),
        regs=st.tuples(*[words] * len(spec.free_regs)),
        out=st.tuples(*[words] * nout),
        out_null=st.booleans() if spec.out_pointer else st.just(False),
        cpu=cpu_states(spec.instruction == "tdcall"),
        answer=module_answers(spec),
        align=st.sampled_from((0, 0, 8, 4, 1)),
        frame=st.tuples(*[words] * FRAME_WORDS),
        rflags=st.integers(0, RFLAGS_ENTRY_MASK).map(lambda f: f & RFLAGS_ENTRY_MASK),
    )


__all__ = ["cpu_states", "fuzz_cases", "leaf_words", "module_answers", "statuses", "u64s"]
