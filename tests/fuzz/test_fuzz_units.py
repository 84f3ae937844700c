# SPDX-License-Identifier: MIT
"""The fuzzer's pure parts: specs, cases and their JSON, the generator, the shrinker."""

from __future__ import annotations

import pytest

from seamemu.errors import InputError
from seamemu.fuzz import RULES, Case, case_from_json, case_to_json, make_spec, zero_case
from seamemu.fuzz.case import NORMAL_CPU, Answer, Cpu
from seamemu.fuzz.generate import Generator
from seamemu.fuzz.promises import variant_of
from seamemu.fuzz.shrink import shrink, simpler_values
from seamemu.fuzz.value_tables import BOUNDARY, STATUSES, VALID_LEAVES


@pytest.mark.parametrize("entry,variant", [("__seamcall", "plain"), ("__seamcall_ret", "ret"),
                                           ("__seamcall_saved_ret", "saved"), ("my_call", "plain")])
def test_args_variant_from_the_entry_name(entry, variant):
    assert variant_of(entry) == variant
    assert make_spec("args", None, entry).variant == variant


def test_specs_say_what_reaches_the_module():
    saved, ret, legacy = make_spec("args", "saved"), make_spec("args", "ret"), make_spec("legacy")
    assert saved.module_inputs == saved.writeback == saved.struct_fields
    assert ret.module_inputs == ret.writeback == ("rcx", "rdx", "r8", "r9", "r10", "r11")
    assert make_spec("args", "plain").writeback == ()
    assert legacy.faults_to_caller and legacy.out_pointer and legacy.arg_regs[-1] == "r9"
    assert "rdi" not in ret.free_regs and "rbp" in ret.free_regs
    assert make_spec("raw").free_regs == () and not make_spec("raw").checks_rax
    with pytest.raises(InputError, match="only the args convention has variants"):
        make_spec("legacy", "ret")
    with pytest.raises(InputError, match="--convention 'x'"):
        make_spec("x")


@pytest.mark.parametrize("conv,variant", [("args", "saved"), ("legacy", None), ("raw", None)])
def test_case_json_round_trip(conv, variant):
    spec = make_spec(conv, variant)
    gen = Generator(spec, 3)
    for _ in range(50):
        case = gen.case()
        assert case_from_json(case_to_json(case, spec), spec) == case


def test_generator_is_seeded_and_covers_the_space():
    spec = make_spec("args", "ret")
    g1, g2 = Generator(spec, 9), Generator(spec, 9)
    assert [g1.case() for _ in range(20)] == [g2.case() for _ in range(20)]
    assert Generator(spec, 10).case() != Generator(spec, 9).case()
    cases = [g1.case() for _ in range(3000)]
    assert {c.answer.kind for c in cases} == {"status", "#GP", "#UD", "VMfailInvalid"}
    assert {c.cpu.cpl for c in cases} == {0, 1, 2, 3}
    assert {c.cpu.vmx for c in cases} == {c.cpu.module for c in cases} == {True, False}
    assert {c.align for c in cases} >= {0, 8} and any(c.align % 8 for c in cases)
    assert any(c.leaf in VALID_LEAVES for c in cases) and any(c.leaf >> 63 for c in cases)
    assert any(c.answer.status in STATUSES and c.answer.status for c in cases)
    values = [v for c in cases for v in c.inputs]
    assert any(v in BOUNDARY and v > 0xFFFF for v in values)
    assert sum(v == 0 for v in values) < len(values) // 4


def test_mutate_keeps_the_shape():
    spec = make_spec("legacy")
    g = Generator(spec, 1)
    base = g.case()
    changed = 0
    for _ in range(200):
        m = g.mutate(base)
        assert len(m.inputs) == 4 and len(m.regs) == len(spec.free_regs) and len(m.out) == 6
        changed += m != base
    assert changed > 150


def test_simpler_values_are_smaller_and_simplest_first():
    assert simpler_values(0) == []
    assert simpler_values(1) == [0]
    vals = simpler_values(0xF0F0)
    assert vals[0] == 0 and all(v < 0xF0F0 for v in vals)
    assert 0x10 in vals and 0x8000 in vals


def test_shrink_keeps_only_what_the_predicate_needs():
    spec = make_spec("args", "ret")
    case = Generator(spec, 4).case()._replace(cpu=Cpu(False, False, 3, False), align=8,
                                                answer=Answer("status", 5, (("rcx", 9),)))
    case = case._replace(regs=case.regs[:3] + (0xDEAD_BEEF_0000_0010,) + case.regs[4:])
    small = shrink(case, lambda c: bool(c.regs[3] & 0x10) and not c.cpu.vmx)
    assert small.regs == tuple(0x10 if i == 3 else 0 for i in range(len(case.regs)))
    assert small.cpu == NORMAL_CPU._replace(vmx=False)
    assert small.answer == Answer() and small.align == 0 and not any(small.inputs)
    assert zero_case(spec)._replace(regs=small.regs, cpu=small.cpu) == small


def test_shrink_drops_what_a_later_step_made_unnecessary():
    # An output the case needs only while inputs[0] is nonzero: inputs are shrunk after the
    # answer, so one greedy pass keeps the output; the next pass drops it.
    spec = make_spec("args", "ret")
    case = zero_case(spec)
    case = case._replace(inputs=(5, 7) + case.inputs[2:], answer=Answer("status", 0, (("r9", 3),)))

    def still(c):
        return c.inputs[1] != 0 and (c.inputs[0] == 0 or any(r == "r9" for r, _ in c.answer.outputs))

    small = shrink(case, still)
    assert small.answer == Answer() and small.inputs[:2] == (0, 1) and not any(small.inputs[2:])


def test_status_table_has_an_error_of_every_spec_class():
    from seamemu.arch.status import STATUS_CLASSES, status_class

    classes = {status_class(s) for s in STATUSES if s >> 63}
    assert {cls for cls, _ in STATUS_CLASSES} <= classes


def test_rules_are_named_and_sorted():
    assert list(RULES) == sorted(RULES)
    assert {"callee-saved", "returns", "module-inputs", "rax-status", "output-struct",
            "memory-writes", "no-unhandled-fault", "differential"} <= set(RULES)


def test_case_is_a_value():
    c = Case(1, (2,), (3,))
    assert c._replace(leaf=5).leaf == 5 and c.leaf == 1
    assert hash(c) == hash(Case(1, (2,), (3,)))
