# SPDX-License-Identifier: MIT
"""The exported Hypothesis strategies, used the way a user writes a property over their asm."""

from __future__ import annotations

import pytest
from fuzz_helpers import ARGS, planted
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from seamemu.fuzz import Harness, make_spec
from seamemu.fuzz.case import Case
from seamemu.fuzz.oracle import instruction_outcome
from seamemu.fuzz.strategies import cpu_states, fuzz_cases, leaf_words, module_answers, u64s
from seamemu.fuzz.value_tables import MASK64, VALID_LEAVES

SHIPPED = Harness([ARGS], "__seamcall_ret")
FAST = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(fuzz_cases(SHIPPED.spec))
def test_user_property_holds_on_the_shipped_stub(case):
    assert SHIPPED.check(case) == []


def test_user_property_fails_on_a_planted_bug():
    buggy = Harness([planted("output_offset")], "__seamcall_ret")

    # The bug shows only when the module answers (the outputs are written back), so the
    # property, as a user would write it for an output-struct check, looks at those cases;
    # unfiltered, a few hundred draws hit it about 1% of the time, which is a flaky test.
    # Generation only: Hypothesis's own shrinking of this failure would take half a minute.
    @settings(max_examples=300, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=[HealthCheck.filter_too_much])
    @given(fuzz_cases(buggy.spec).filter(lambda c: instruction_outcome(c) == "module"))
    def prop(case):
        assert buggy.check(case) == []

    with pytest.raises(AssertionError, match="output-struct"):
        prop()


@FAST
@given(st.data())
def test_strategies_draw_from_the_value_tables(data):
    spec = make_spec("legacy")
    case = data.draw(fuzz_cases(spec))
    assert isinstance(case, Case)
    assert len(case.inputs) == 4 and len(case.out) == 6
    assert all(0 <= v <= MASK64 for v in case.inputs + case.regs + case.frame)
    answer = data.draw(module_answers(spec))
    assert all(r in spec.module_writes for r, _ in answer.outputs)
    assert 0 <= data.draw(leaf_words()) <= MASK64
    assert 0 <= data.draw(cpu_states()).cpl <= 3
    assert data.draw(u64s((0x1234,))) <= MASK64


def test_leaf_words_reach_valid_and_loader_leaves():
    seen = set()

    @settings(max_examples=200, database=None, derandomize=True)
    @given(leaf_words())
    def collect(w):
        seen.add("valid" if w in VALID_LEAVES else "loader" if w >> 63 else "other")

    collect()
    assert seen == {"valid", "loader", "other"}


def test_harness_explain_locates_a_violation():
    buggy = Harness([planted("pop_order")], "__seamcall_saved_ret")
    case = Case(0, (0,) * 13, tuple(1 if r == "r15" else 0 for r in buggy.spec.free_regs))
    (v,) = buggy.check(case)
    assert v.rule == "callee-saved" and v.key == "r14"
    (found,) = buggy.explain(case).found
    assert buggy.image.symbolize(found.address).startswith("__seamcall_saved_ret+0x")


def test_guest_cases_come_from_a_tds_vcpu_and_end_in_a_status():
    from hypothesis import given, settings

    from seamemu.fuzz.strategies import fuzz_cases

    seen = set()

    @settings(max_examples=60, database=None, deadline=None)
    @given(fuzz_cases("hypercall"))
    def prop(case):
        # A TD's TDCALL ends in a status; the guest's states vary only TD and CPL.
        assert case.answer.kind == "status"
        assert (case.cpu.vmx, case.cpu.seamrr, case.cpu.module) == (True, True, True)
        assert len(case.inputs) == 13      # struct tdx_module_args
        seen.add(case.cpu.td)

    prop()
    assert seen == {True, False}
