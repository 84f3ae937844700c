"""Each planted-bug copy of the shipped stubs is found in a bounded run, shrunk and replayable."""

from __future__ import annotations

import pytest
from fuzz_helpers import campaign, planted

from seamemu.fuzz import load_reproducer, replay_file
from seamemu.fuzz.case import NORMAL_CPU, Answer
from seamemu.fuzz.oracle import instruction_outcome

# (planted copy, entry, convention, rule it must break, what the finding's location must show)
PLANTS = [
    ("pop_order", "__seamcall_saved_ret", "args", "callee-saved", "popq %r1"),
    ("rbx_clobber", "__seamcall_saved_ret", "args", "callee-saved", "%rbx"),
    ("output_offset", "__seamcall_ret", "args", "output-struct", "TDX_MODULE_r9(%rsi)"),
    ("vmfail_stack", "__seamcall_ret", "args", "returns", "RET"),
    ("gp_truncated", "__seamcall_ret", "args", "rax-status", "orq %rdi, %rax"),
    ("legacy_arg_order", "__seamcall", "legacy", "module-inputs", "movq %r8, %r9"),
]


def _not_simplest(case) -> list[str]:
    """What in a case is not at its simplest value (the shrinker's target)."""
    parts = [f"inputs[{i}]" for i, v in enumerate(case.inputs) if v]
    parts += [f"regs[{i}]" for i, v in enumerate(case.regs) if v]
    parts += [f"out[{i}]" for i, v in enumerate(case.out) if v]
    parts += [f"frame[{i}]" for i, v in enumerate(case.frame) if v]
    parts += ["leaf"] * bool(case.leaf) + ["cpu"] * (case.cpu != NORMAL_CPU)
    parts += ["answer"] * (case.answer != Answer()) + ["align"] * bool(case.align)
    parts += ["rflags"] * bool(case.rflags) + ["out_null"] * case.out_null
    return parts


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    """One bounded campaign per planted copy (3000 runs: well under a second each)."""
    results = {}
    for name, entry, conv, _rule, _where in PLANTS:
        out = tmp_path_factory.mktemp(name)
        results[name] = campaign(out, planted(name), entry, conv, runs=3000, seed=7)
    return results


@pytest.mark.parametrize("name,entry,conv,rule,where", PLANTS, ids=[p[0] for p in PLANTS])
def test_planted_bug_is_found_at_its_code(found, name, entry, conv, rule, where):
    findings = found[name]["findings"]
    assert findings, f"{name}: nothing found in {found[name]['runs']} runs"
    # Every finding is the planted bug's rule (one bug may surface at two locations).
    assert {f["rule"] for f in findings} == {rule}
    assert any(where in f["source"] for f in findings), [f["source"] for f in findings]
    for f in findings:
        assert f["location"].startswith(entry)


@pytest.mark.parametrize("name,entry,conv,rule,where", PLANTS, ids=[p[0] for p in PLANTS])
def test_reproducer_replays_to_the_same_finding(found, name, entry, conv, rule, where):
    for f in found[name]["findings"]:
        outcome = replay_file(f["reproducer"])
        assert outcome.reproduced
        assert any(r.rule == f["rule"] and r.location == f["location"] for r in outcome.findings)
        assert not outcome.changed


@pytest.mark.parametrize("name,entry,conv,rule,where", PLANTS, ids=[p[0] for p in PLANTS])
def test_shrinking_leaves_only_what_matters(found, name, entry, conv, rule, where):
    for f in found[name]["findings"]:
        case = load_reproducer(f["reproducer"]).case
        extra = _not_simplest(case)
        # A swapped pair needs one register nonzero; a clobber may also need its path's state.
        assert 1 <= len(extra) <= 2, (f["location"], extra, case)


def test_shrunk_cases_take_the_planted_path(found):
    by_name = {n: [load_reproducer(f["reproducer"]).case for f in found[n]["findings"]]
               for n, *_ in PLANTS}
    assert all(instruction_outcome(c) == "VMfailInvalid" for c in by_name["vmfail_stack"])
    assert all(instruction_outcome(c) == "#GP" for c in by_name["gp_truncated"])
    # The swapped pops need R14 != R15 and nothing else: only one caller register is set.
    (pop,) = by_name["pop_order"]
    assert not any(pop.inputs) and sum(1 for v in pop.regs if v) == 1
    # The argument-order bug needs a nonzero R9 input and nothing else.
    (legacy,) = by_name["legacy_arg_order"]
    assert legacy.inputs == (0, 0, 0, 1) and not any(legacy.regs)


def test_each_planted_copy_differs_from_the_shipped_stub_only_near_its_marker():
    """A copy that drifted from asm/ would test an old stub: each differs in one small hunk,
    and that hunk holds the PLANTED BUG marker."""
    import difflib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for copy in sorted((root / "tests/fuzz/planted").glob("*/*.S")):
        shipped = (root / "asm" / copy.name).read_text().splitlines()
        planted = copy.read_text().splitlines()
        changed = [ln for ln in difflib.unified_diff(shipped, planted, lineterm="", n=0)
                   if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
        if not changed:
            continue  # the unchanged half of a pair (e.g. seamcall.S next to a planted tdxcall.S)
        assert len(changed) <= 12, (copy, changed)
        assert any("PLANTED BUG" in ln for ln in changed), (copy, changed)
