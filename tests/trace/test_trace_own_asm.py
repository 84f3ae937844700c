# SPDX-License-Identifier: MIT
"""Traces of a user's own assembly: SEAM-family names, stores, unhandled faults, bounds, and
the untraced fast path left without a code hook."""

from __future__ import annotations

import capstone
import pytest

from seamemu.disasm import disassemble
from seamemu.learn.traced import trace_call
from seamemu.machine import Bounds
from seamemu.machine.tracing import StepRecorder
from seamemu.session import Session
from seamemu.trace import format_trace

SOURCE = r"""
#include <linux/linkage.h>
#include <asm/asm.h>

.section .text, "ax"
SYM_FUNC_START(twice)
	pushq	$0x11
	movq	$0x22, (%rsp)
	popq	%rax
	RET
SYM_FUNC_END(twice)

SYM_FUNC_START(do_tdcall)
	tdcall
	RET
SYM_FUNC_END(do_tdcall)

SYM_FUNC_START(spin)
.Lagain:
	incq	%rax
	jmp	.Lagain
SYM_FUNC_END(spin)

SYM_FUNC_START(seam_family)
	seamret
	seamops
	RET
SYM_FUNC_END(seam_family)
"""


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Session:
    path = tmp_path_factory.mktemp("asm") / "own.S"
    path.write_text(SOURCE)
    return Session([path], num_lps=1, bounds=Bounds(max_insns=2_000))


def test_each_store_shows_the_value_it_wrote_not_a_later_one(session):
    run = trace_call(session, "twice", convention="raw")
    push, mov = run.trace.steps[0], run.trace.steps[1]
    assert [w.data for w in push.writes] == [(0x11).to_bytes(8, "little")]
    assert [w.data for w in mov.writes] == [(0x22).to_bytes(8, "little")]
    assert push.writes[0].address == mov.writes[0].address
    assert run.result.rax == 0x22


def test_tdcall_is_named_and_its_unhandled_ud_ends_the_trace(session):
    run = trace_call(session, "do_tdcall", convention="raw")
    last = run.trace.steps[-1]
    assert last.mnemonic == "tdcall" and last.bytes == bytes.fromhex("660f01cc")
    assert last.traps[0].insn == "TDCALL" and last.traps[0].kind == "#UD"
    assert last.faults[0].handled_by is None
    assert run.result.outcome == "#UD"
    assert "unhandled" in format_trace(run.trace)


def test_seamret_and_seamops_are_named_where_capstone_alone_cannot(session):
    run = trace_call(session, "seam_family", convention="raw")
    assert run.trace.steps[0].mnemonic == "seamret"
    code = session.image.sections[0].data
    start = session.image.address_of("seam_family") - session.image.sections[0].address
    names = [i.mnemonic for i in disassemble(code[start:start + 9], 0)]
    assert names[:3] == ["seamret", "seamops", "ret"] or names[:3] == ["seamret", "seamops", "retq"]
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    assert list(cs.disasm(code[start:start + 4], 0)) == []          # capstone: nothing
    assert [i.mnemonic for i in cs.disasm(bytes.fromhex("660f01cf"), 0)] == ["encls"]


def test_a_runaway_loop_is_truncated_and_still_bounded(session):
    run = trace_call(session, "spin", convention="raw", max_steps=50)
    assert run.trace.truncated and len(run.trace.steps) == 50
    assert run.result.outcome == "bound"
    # The kept steps still chain: each one's next address is the following step's address.
    for a, b in zip(run.trace.steps, run.trace.steps[1:]):
        assert a.next_address == b.address


def test_the_untraced_path_has_no_code_hook_left(session):
    rec = StepRecorder(session.machine, [0])
    with rec:
        session.call("twice", convention="raw")
    n = rec.recorded
    assert n == 4 and not rec.attached
    session.call("twice", convention="raw")         # after detaching: nothing recorded
    assert rec.recorded == n


def test_bad_recorder_arguments_are_named(session):
    with pytest.raises(ValueError, match="no logical processor 5"):
        StepRecorder(session.machine, [5])
    with pytest.raises(ValueError, match="max_steps"):
        StepRecorder(session.machine, [0], max_steps=0)
