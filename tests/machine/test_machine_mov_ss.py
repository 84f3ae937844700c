# SPDX-License-Identifier: MIT
"""MOV SS sites: emulated, and their interrupt shadow seen by the SEAMCALL right after them."""

from __future__ import annotations

import pytest
from machine_helpers import SEAMCALL, StubTarget, build

from seamemu.errors import InputError
from seamemu.machine import Machine

CODE = f"""
shadowed:
    mov rax, rdi
    mov cx, 0x18
    mov ss, cx
    {SEAMCALL}
    ret
not_shadowed:
    mov rax, rdi
    mov cx, 0x18
    mov ss, cx
    nop
    {SEAMCALL}
    ret
jump_in:
    mov rax, rdi
    jmp after_mov
    mov ss, cx
after_mov:
    {SEAMCALL}
    ret
from_memory:
    push 0x18
    mov ss, word ptr [rsp]
    {SEAMCALL}
    ret
code_selector:
    mov cx, 0x10
    mov ss, cx
    ret
absent_selector:
    mov cx, 0x40
    mov ss, cx
    ret
"""


def machine():
    img = build(CODE)
    target = StubTarget()
    m = Machine(img, target)
    sites = [a for a in range(img.sections[0].address, img.sections[0].end)
             if m.memory.read(a, 3) == b"\x66\x8e\xd1"] + [img.symbols["from_memory"] + 2]
    m.attach_mov_ss(sites)
    return m, img, target


def test_seamcall_right_after_mov_ss_raises_gp0_and_never_reaches_the_module():
    m, _, target = machine()
    r = m.call("shadowed", [0x21])
    assert r.outcome == "fault"
    assert (r.fault.name, r.fault.error_code) == ("#GP", 0)
    assert r.seam_events[-1].decision.check == "gp_mov_ss"
    assert target.calls == []
    assert r.fault.insn[:4] == bytes.fromhex("660f01cf")


def test_one_instruction_in_between_ends_the_shadow():
    m, _, target = machine()
    assert m.call("not_shadowed", [0x21]).outcome == "returned"
    assert len(target.calls) == 1


def test_a_seamcall_reached_by_a_jump_is_not_in_the_shadow():
    m, _, target = machine()
    assert m.call("jump_in", [0x21]).outcome == "returned" and len(target.calls) == 1


def test_mov_ss_from_memory_sets_the_shadow_too():
    m, _, _ = machine()
    r = m.call("from_memory", [0x21])
    assert r.fault.name == "#GP" and r.seam_events[-1].decision.check == "gp_mov_ss"


@pytest.mark.parametrize("entry, name, error_code", [
    ("code_selector", "#GP", 0x10),
    ("absent_selector", "#GP", 0x40),     # beyond the GDT's limit
])
def test_bad_selectors_fault_with_the_selector_as_error_code(entry, name, error_code):
    m, _, _ = machine()
    f = m.call(entry).fault
    assert (f.name, f.error_code) == (name, error_code)
    assert f.insn[:3] == bytes.fromhex("668ed1")    # reported as written, not as the patch


def test_the_shadow_does_not_outlive_the_call():
    m, _, _ = machine()
    m.call("shadowed", [0x21])
    assert not m.lps[0].cpu.mov_ss_shadow
    assert m.call("not_shadowed", [0x21]).outcome == "returned"


def test_attach_refuses_an_address_that_is_not_a_mov_ss():
    m, img, _ = machine()
    with pytest.raises(InputError, match="MOV SS"):
        m.attach_mov_ss([img.symbols["shadowed"]])
