# SPDX-License-Identifier: MIT
"""`seamemu fuzz --module-binary`: the shipped stub fuzzed with Intel's module answering."""

from __future__ import annotations

from collections import Counter

from seamemu.frontend import assemble
from seamemu.fuzz.invariants import check
from seamemu.fuzz.oracle import instruction_outcome
from seamemu.fuzz.reproducer import Target
from seamemu.fuzz.worker import FuzzConfig, Worker
from seamemu.stubs import ARGS_STUB, DEFAULT_ENTRY, stub


def _worker(module_binary, tmp_path, runs=150) -> Worker:
    cfg = FuzzConfig(Target.of([str(stub(ARGS_STUB))], DEFAULT_ENTRY), "args", seed=5,
                     out=str(tmp_path), runs=runs, module_binary=module_binary)
    return Worker(cfg, 0, assemble([stub(ARGS_STUB)]))


def test_the_clean_stub_holds_every_promise_against_intels_answers(module_binary, tmp_path):
    w = _worker(module_binary, tmp_path)
    stats = w.run()
    assert stats.findings == [] and stats.unstable == 0 and stats.module_halts == 0
    assert not w._keys        # no run even raised a violation to analyse (the worker's index)
    real = w.fast.module.real
    statuses = Counter(r.status_name for r in real.records if r.leaf <= 0xFFFF)
    assert sum(statuses.values()) > 50
    assert "TDX_SYS_NOT_READY" in statuses                      # Intel's dispatcher answered
    module_calls = [r for r in real.records if r.leaf <= 0xFFFF]   # P-SEAMLDR: the model's
    assert all(r.note.startswith("Intel's module") for r in module_calls)


def test_each_run_is_judged_against_what_the_module_answered(module_binary, tmp_path):
    w = _worker(module_binary, tmp_path)
    judged = planned_wrong = 0
    for _ in range(60):
        case = w.gen.case()
        obs = w.fast.run(case)
        if instruction_outcome(case) != "module" or w.fast.module.answer is None:
            continue
        real = case._replace(answer=w.fast.module.answer)
        assert check(w.spec, real, obs, w.fast.in_code, "module") == []
        judged += 1
        planned_wrong += bool(check(w.spec, case, obs, w.fast.in_code, "module"))
    # The planned (random) answers would have flagged a clean stub: the module's count.
    assert judged >= 10 and planned_wrong >= judged // 2
