# SPDX-License-Identifier: MIT
"""Bounds and the call convention: runaway code, wall time, HLT, registers, the bare bench."""

from __future__ import annotations

from machine_helpers import StubTarget, build

from seamemu.machine import Bounds, Machine


def test_runaway_loop_hits_the_instruction_bound_with_location():
    img = build("f:\n    nop\nspin:\n    jmp spin\n")
    r = Machine(img, StubTarget(), bounds=Bounds(max_insns=10_000)).call("f")
    assert r.outcome == "bound"
    b = r.bound
    assert (b.kind, b.rip, b.symbol) == ("instructions", img.symbols["spin"], "spin")
    assert b.bytes.startswith(b"\xeb\xfe") and r.insn_count == 10_000


def test_wall_time_bound_stops_a_long_loop():
    img = build("spin:\n    jmp spin\n")
    r = Machine(img, StubTarget(), bounds=Bounds(max_insns=10**12, timeout_s=0.05)).call("spin")
    assert r.outcome == "bound" and r.bound.kind == "time" and r.bound.symbol == "spin"


def test_hlt_is_reported_as_a_halt():
    r = Machine(build("f:\n    hlt\n    ret\n"), StubTarget()).call("f")
    assert r.outcome == "bound" and r.bound.kind == "halt"


def test_machine_is_usable_after_a_bound():
    img = build("spin:\n    jmp spin\nok:\n    mov eax, 3\n    ret\n")
    m = Machine(img, StubTarget(), bounds=Bounds(max_insns=1000))
    assert m.call("spin").outcome == "bound"
    assert m.call("ok").regs_after["rax"] == 3


def test_callee_saved_registers_and_rsp_are_reported():
    text = "f:\n    push rbp\n    mov rbp, 2\n    pop rbp\n    mov rbx, 1\n    ret\n"
    r = Machine(build(text), StubTarget()).call("f", regs={"rbp": 9, "rbx": 5, "r12": 6})
    before, after = r.regs_before, r.regs_after
    assert (before["rbx"], after["rbx"]) == (5, 1)
    assert after["rbp"] == 9 and after["r12"] == 6
    assert after["rsp"] == before["rsp"] + 8
    assert set(after) >= {"rax", "rsi", "rbp", "rsp", "rflags", "rip"}


def test_entry_stack_alignment_follows_sysv_unless_asked():
    m = Machine(build("f:\n    ret\n"), StubTarget())
    assert m.call("f").regs_before["rsp"] % 16 == 8
    assert m.call("f", stack_align=8).regs_before["rsp"] % 16 == 0


def test_args_and_negative_values():
    r = Machine(build("f:\n    mov rax, r9\n    ret\n"), StubTarget()).call("f", [1, 2, 3, 4, 5, -1])
    assert r.regs_before["rdi"] == 1 and r.regs_before["rcx"] == 4
    assert r.regs_after["rax"] == (1 << 64) - 1


def test_time_bound_is_checked_in_the_seamcall_hook():
    # Each iteration traps into Python, so a 4M-instruction slice would take seconds: the
    # deadline check in the hook is what stops this loop.
    import time

    from machine_helpers import SEAMCALL

    from seamemu.machine.lp import SLICE

    img = build(f"spin:\n    xor eax, eax\n    {SEAMCALL}\n    jmp spin\n")
    t = StubTarget()
    m = Machine(img, t, bounds=Bounds(max_insns=10**12, timeout_s=0.05))
    start = time.perf_counter()
    r = m.call("spin")
    elapsed = time.perf_counter() - start
    assert r.outcome == "bound" and r.bound.kind == "time"
    assert len(t.calls) == len(r.seam_events) > 0
    # Stopped inside the first slice, by the hook: a slice of this loop is SLICE / 3 SEAMCALLs
    # (seconds of Python), which the check between slices alone would let run to the end.
    assert len(r.seam_events) < SLICE // 3
    assert elapsed < 2.0, f"a 0.05 s time bound took {elapsed:.2f} s to stop the loop"
