# SPDX-License-Identifier: MIT
"""Each planted bug (a small patch to the shipped stubs) is found in a bounded run, shrunk and
replayable."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_helpers import (
    ARGS,
    GUEST,
    PLANT_NAMES,
    PLANTED,
    PatchError,
    apply_patch,
    campaign,
    materialize,
    planted,
)

from seamemu.fuzz import Harness, load_reproducer, replay_file, zero_case
from seamemu.fuzz.case import GUEST_CPU, NORMAL_CPU, Answer, Cpu
from seamemu.fuzz.oracle import instruction_outcome
from seamemu.kernel.calling import GUEST_CONVENTIONS

# (planted copy, entry, convention, rule it must break, what the finding's location must show)
PLANTS = [
    ("pop_order", "__seamcall_saved_ret", "args", "callee-saved", "popq %r1"),
    ("rbx_clobber", "__seamcall_saved_ret", "args", "callee-saved", "%rbx"),
    ("output_offset", "__seamcall_ret", "args", "output-struct", "TDX_MODULE_r9(%rsi)"),
    ("vmfail_stack", "__seamcall_ret", "args", "returns", "RET"),
    ("gp_truncated", "__seamcall_ret", "args", "rax-status", "orq %rdi, %rax"),
    ("legacy_arg_order", "__seamcall", "legacy", "module-inputs", "movq %r8, %r9"),
    # The 2023 way on the 2022 stub: no copy into *out after VMfailInvalid (v5-2022's rules).
    ("vmfail_skip_copy", "__seamcall", "legacy", "output-struct", "RET"),
    # One more per rule the list above does not break.
    ("df_set", "__seamcall_ret", "args", "df-clear", "std"),
    ("ret_imm", "__seamcall_ret", "args", "rsp-restored", "ret $8"),
    ("stray_store", "__seamcall_ret", "args", "memory-writes", "TDX_MODULE_rsi+8(%rsi)"),
    ("caller_frame", "__seamcall_ret", "args", "memory-writes", "16(%rsp)"),
    ("no_extable", "__seamcall_ret", "args", "no-unhandled-fault", "seamcall"),
    # The TD guest's side (asm/tdcall.S): the hypercall's own promises.
    ("hypercall_no_panic", "__tdx_hypercall", "hypercall", "tdcall-failure-fatal",
     "TDX_MODULE_r10(%rbx), %rax"),
    ("rdi_leak", "__tdx_hypercall", "hypercall", "shared-cleared", "popq %rdi"),
]


CALLS = {"__tdx_hypercall": ("__tdcall_saved_ret",)}


def _stub(conv):
    """The guest's conventions run asm/tdcall.S (a bug in the shared tdxcall.S too)."""
    return GUEST if conv in GUEST_CONVENTIONS else None


def _normal(conv):
    return GUEST_CPU if conv in GUEST_CONVENTIONS else NORMAL_CPU


def _not_simplest(case, normal=NORMAL_CPU) -> list[str]:
    """What in a case is not at its simplest value (the shrinker's target)."""
    parts = [f"inputs[{i}]" for i, v in enumerate(case.inputs) if v]
    parts += [f"regs[{i}]" for i, v in enumerate(case.regs) if v]
    parts += [f"out[{i}]" for i, v in enumerate(case.out) if v]
    parts += [f"frame[{i}]" for i, v in enumerate(case.frame) if v]
    parts += ["leaf"] * bool(case.leaf) + ["cpu"] * (case.cpu != normal)
    parts += ["answer"] * (case.answer != Answer()) + ["align"] * bool(case.align)
    parts += ["rflags"] * bool(case.rflags) + ["out_null"] * case.out_null
    return parts


def _simpler(case, normal=NORMAL_CPU) -> list[tuple[str, object]]:
    """Each part of a case not at its simplest, alone set to its simplest: (part, case)."""
    out = []
    for field in ("inputs", "regs", "out", "frame"):
        vals = getattr(case, field)
        out += [(f"{field}[{i}]", case._replace(**{field: vals[:i] + (0,) + vals[i + 1:]}))
                for i, v in enumerate(vals) if v]
    for name, simple in (("leaf", 0), ("align", 0), ("rflags", 0), ("out_null", False)):
        if getattr(case, name) != simple:
            out.append((name, case._replace(**{name: simple})))
    for name, simple in zip(Cpu._fields, normal):
        if getattr(case.cpu, name) != simple:
            out.append((f"cpu.{name}", case._replace(cpu=case.cpu._replace(**{name: simple}))))
    a = case.answer
    if a.kind != "status":
        out.append(("answer.kind", case._replace(answer=Answer())))
    if a.status:
        out.append(("answer.status", case._replace(answer=a._replace(status=0))))
    out += [(f"answer.outputs.{r}", case._replace(answer=a._replace(
        outputs=tuple(o for o in a.outputs if o[0] != r)))) for r, _ in a.outputs]
    return out


_FOUND: dict[str, dict] = {}


def _campaign(name: str, tmp_path_factory) -> dict:
    """One bounded campaign per planted copy (3000 runs: well under a second each), run once
    per test process; every test of one plant runs on one xdist worker (its xdist_group), so
    each campaign runs once in the whole suite."""
    if name not in _FOUND:
        _, _entry, conv, *_ = _BY_NAME[name]
        _FOUND[name] = campaign(tmp_path_factory.mktemp(name), planted(name, _stub(conv)), _entry,
                                conv, runs=3000, seed=7)
    return _FOUND[name]


_BY_NAME = {p[0]: p for p in PLANTS}
# Each plant's tests on one worker (pyproject's --dist loadgroup), so its campaign runs once.
_EACH = [pytest.param(*p, id=p[0], marks=pytest.mark.xdist_group(f"planted-{p[0]}")) for p in PLANTS]


@pytest.fixture
def found(tmp_path_factory, request):
    return {request.node.callspec.params["name"]: _campaign(request.node.callspec.params["name"],
                                                             tmp_path_factory)}


@pytest.mark.parametrize("name,entry,conv,rule,where", _EACH)
def test_planted_bug_is_found_at_its_code(found, name, entry, conv, rule, where):
    findings = found[name]["findings"]
    assert findings, f"{name}: nothing found in {found[name]['runs']} runs"
    # Every finding is the planted bug's rule (one bug may surface at two locations).  Under the
    # v5-2022 rules the legacy macro copies R9 into *out after VMfailInvalid too (v5.19
    # tdxcall.S), so the clobbered R9 of legacy_arg_order also shows there.
    also = {"legacy_arg_order": {"output-struct"}}.get(name, set())
    assert rule in {f["rule"] for f in findings} <= {rule} | also
    assert any(where in f["source"] for f in findings), [f["source"] for f in findings]
    for f in findings:   # in the entry, or in what it calls (the hypercall: __tdcall_saved_ret)
        assert f["location"].startswith((entry, *CALLS.get(entry, ()))), f["location"]


@pytest.mark.parametrize("name,entry,conv,rule,where", _EACH)
def test_reproducer_replays_to_the_same_finding(found, name, entry, conv, rule, where):
    for f in found[name]["findings"]:
        outcome = replay_file(f["reproducer"])
        assert outcome.reproduced
        assert any(r.rule == f["rule"] and r.location == f["location"] for r in outcome.findings)
        assert not outcome.changed


@pytest.mark.parametrize("name,entry,conv,rule,where", _EACH)
def test_shrinking_leaves_only_what_matters(found, name, entry, conv, rule, where):
    """Every part a shrunk case keeps is needed: set to its simplest, the finding is gone."""
    for f in found[name]["findings"]:
        rep = load_reproducer(f["reproducer"])
        case = rep.case
        # A swapped pair needs one register nonzero; a clobber may also need its path's state;
        # a bug on every path (ret $8, the spill into the caller's frame) needs nothing.
        assert len(_not_simplest(case, _normal(conv))) <= 3, (f["location"], case)
        harness = Harness(rep.target.paths, entry, conv)
        assert (f["rule"], rep.finding.address) in {(x.rule, x.address) for x in harness.explain(case).found}
        for part, simpler in _simpler(case, _normal(conv)):
            shown = {(x.rule, x.address) for x in harness.explain(simpler).found}
            assert (f["rule"], rep.finding.address) not in shown, (f["location"], part, case)


def _one(cases):
    (case,) = cases
    return case


# What each plant's shrunk cases must look like: the path the bug is on, and nothing more.
SHRUNK = {
    "vmfail_stack": lambda cs: all(instruction_outcome(c) == "VMfailInvalid" for c in cs),
    "vmfail_skip_copy": lambda cs: all(instruction_outcome(c) == "VMfailInvalid" for c in cs),
    "gp_truncated": lambda cs: all(instruction_outcome(c) == "#GP" for c in cs),
    # Bugs on the failure paths only: the shrunk case still fails the instruction.
    "df_set": lambda cs: all(instruction_outcome(c) != "module" for c in cs),
    "stray_store": lambda cs: all(instruction_outcome(c) != "module" for c in cs),
    "no_extable": lambda cs: all(instruction_outcome(c) in ("#GP", "#UD") for c in cs),
    # Bugs on every path shrink to the simplest case there is.
    "ret_imm": lambda cs: all(_not_simplest(c) == [] for c in cs),
    "caller_frame": lambda cs: all(_not_simplest(c) == [] for c in cs),
    # The swapped pops need R14 != R15 and nothing else: only one caller register is set.
    "pop_order": lambda cs: (not any(_one(cs).inputs)
                             and sum(1 for v in _one(cs).regs if v) == 1),
    # The guest's: a failed TDCALL is the whole of the first; the second needs the module to
    # answer a fresh RSI (which lands in RDI) and nothing else.
    "hypercall_no_panic": lambda cs: (instruction_outcome(_one(cs), "tdcall") == "module"
                                      and _one(cs).answer.status == 1
                                      and _one(cs).cpu == GUEST_CPU
                                      and not _one(cs).answer.outputs),
    "rdi_leak": lambda cs: (_one(cs).answer.outputs == (("rsi", 1),)
                            and _one(cs).answer.status == 0),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(f"planted-{n}"))
                                  for n in SHRUNK])
def test_shrunk_cases_take_the_planted_path(name, tmp_path_factory):
    cases = [load_reproducer(f["reproducer"]).case
             for f in _campaign(name, tmp_path_factory)["findings"]]
    assert SHRUNK[name](cases), cases


@pytest.mark.xdist_group("planted-legacy_arg_order")
def test_the_argument_order_bug_needs_one_nonzero_r9(tmp_path_factory):
    (legacy,) = [load_reproducer(f["reproducer"]).case
                 for f in _campaign("legacy_arg_order", tmp_path_factory)["findings"]
                 if f["rule"] == "module-inputs"]
    assert legacy.inputs == (0, 0, 0, 1) and not any(legacy.regs)


def test_a_location_does_not_depend_on_the_values():
    """R14 and R15 popped in the wrong order: the swapped POP is charged whether or not it
    happens to pop the value R14 already held (then only its operand says it wrote R14)."""
    h = Harness([planted("pop_order")], "__seamcall_saved_ret")
    base = zero_case(h.spec)

    def where(**regs):
        case = base._replace(regs=tuple(regs.get(r, 0) for r in h.spec.free_regs))
        return {(f.rule, " ".join(h.image.line_at(f.address).text.split()))
                for f in h.explain(case).found}

    changes = where(r15=1)         # the POP turns R14 from 0 (zeroed) into 1
    same_value = where(r14=1)      # the POP pops 0 into an R14 already zeroed
    assert changes == same_value == {("callee-saved", "popq %r14")}


def test_each_plant_is_one_small_marked_hunk_that_applies_to_todays_stubs(tmp_path):
    """Each patch applies to asm/ as it is now (every context line checked), changes a few
    lines and marks them PLANTED BUG; and every patch in planted/ is in PLANTS above."""
    assert sorted(p[0] for p in PLANTS) == list(PLANT_NAMES)
    for name in PLANT_NAMES:
        patch = (PLANTED / f"{name}.patch").read_text()
        changed = [ln for ln in patch.splitlines()
                   if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
        assert 0 < len(changed) <= 12, (name, changed)
        assert any("PLANTED BUG" in ln for ln in changed if ln.startswith("+")), name
        entry = materialize(name, tmp_path / name)
        assert "PLANTED BUG" in "".join(p.read_text() for p in entry.parent.glob("*.S"))


def test_a_patch_that_no_longer_matches_the_stub_is_refused(tmp_path):
    patch = (PLANTED / "pop_order.patch").read_text().replace("\tpopq\t%r13", "\tpopq\t%r11")
    for src in Path(ARGS).parent.glob("*.S"):
        (tmp_path / src.name).write_text(src.read_text())
    with pytest.raises(PatchError, match=r"tdxcall\.S:\d+: expected '\\tpopq\\t%r11'"):
        apply_patch(patch, tmp_path)
