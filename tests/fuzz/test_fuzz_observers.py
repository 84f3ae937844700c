# SPDX-License-Identifier: MIT
"""seamemu.machine.coverage: block coverage, instruction trace, write watch, page guard."""

from __future__ import annotations

import pytest

from seamemu.errors import InputError
from seamemu.frontend import assemble_text
from seamemu.fuzz.oracle import ScriptedModule
from seamemu.machine import Machine
from seamemu.machine.coverage import BlockCoverage, PageGuard, WriteWatch
from seamemu.machine.tracing import StepRecorder

SNIPPET = """
.text
.globl store
store:
	movq	$0x300000, %rax
	movq	%rdi, (%rax)
	ret
.globl branch
branch:
	testq	%rdi, %rdi
	jz	1f
	incq	%rax
1:
	ret
.globl spin
spin:
	jmp	spin
.globl poke
poke:
	leaq	target(%rip), %rax
	movb	$0xcc, (%rax)
	ret
.globl target
target:
	xorl	%eax, %eax
	ret
"""


@pytest.fixture(scope="module")
def image():
    return assemble_text(SNIPPET, "snippet.S")


def _code(image):
    return [(s.address, s.end) for s in image.sections if s.executable]


def test_block_coverage_tells_paths_apart(image):
    m = Machine(image, ScriptedModule())
    cov = BlockCoverage(m.lps[0], _code(image))
    m.call("branch", (0,))
    taken = cov.take()
    m.call("branch", (1,))
    fallthrough = cov.take()
    assert taken and fallthrough and taken != fallthrough
    assert cov.take() == frozenset()  # take() starts afresh
    cov.detach()
    m.call("branch", (1,))
    assert cov.take() == frozenset()


def test_write_watch_reports_stores_outside_the_allowed_ranges(image):
    m = Machine(image, ScriptedModule())
    top = m.stack_top(0)
    watch = WriteWatch(m.lps[0], [(m.stacks_base, top)])
    res = m.call("store", (0xAB,))
    assert res.outcome == "returned"
    ((rip, address, size),) = watch.hits
    assert address == 0x300000 and size == 8
    assert image.symbolize(rip) == "store+0x7"
    watch.hits.clear()
    allowed = WriteWatch(m.lps[0], [(m.stacks_base, top), (0x300000, 0x300008)])
    m.call("store", (1,))
    assert allowed.hits == [] and len(watch.hits) == 1


def test_one_recorder_serves_many_runs(image):
    """The fuzzer's trace runner keeps one StepRecorder attached and resets it per run."""
    m = Machine(image, ScriptedModule())
    rec = StepRecorder(m, [0]).attach()
    res = m.call("store", (7,))
    steps = rec.steps_for(res)
    assert [image.symbolize(s.address) for s in steps] == ["store", "store+0x7", "store+0xa"]
    assert steps[1].writes == ((0x300000, (7).to_bytes(8, "little")),)
    rec.reset()
    assert rec.recorded == 0
    assert len(rec.steps_for(m.call("store", (8,)))) == 3


def test_observer_ranges_are_checked(image):
    m = Machine(image, ScriptedModule())
    with pytest.raises(InputError, match="empty or not 64-bit"):
        BlockCoverage(m.lps[0], [(0x2000, 0x1000)])
    with pytest.raises(InputError, match="allowed range"):
        WriteWatch(m.lps[0], [(5, 5)])


def test_page_guard_undoes_a_store_into_code(image):
    m = Machine(image, ScriptedModule())
    watch = WriteWatch(m.lps[0], [(m.stacks_base, m.stack_top(0))])
    guard = PageGuard(m)
    snap = m.snapshot()
    assert m.call("target").outcome == "returned"     # translated before it is overwritten
    m.call("poke")
    m.restore(snap)                                    # a snapshot does not restore code
    assert m.call("target").outcome == "fault"
    assert watch.pages and guard.repair(watch.pages) == 1
    assert m.call("target").outcome == "returned"


def test_runner_repairs_what_a_wild_store_broke(image):
    from seamemu.fuzz import make_spec
    from seamemu.fuzz.case import Case
    from seamemu.fuzz.executor import Runner

    spec = make_spec("raw")
    r = Runner(image, spec, "poke")
    assert r.machine.call("target").outcome == "returned"
    obs = r.run(Case(0, (0,) * len(spec.inputs), ()))
    assert obs.hits and image.symbolize(obs.hits[0][0]) == "poke+0x7"
    # The next run on this machine sees the code as assembled, not as poke left it.
    assert r.machine.call("target").outcome == "returned"
