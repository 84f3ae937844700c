# SPDX-License-Identifier: MIT
"""SYSCALL and SYSENTER fault instead of running as no-ops."""

from __future__ import annotations

import pytest
from machine_helpers import StubTarget, build
from test_machine_faults import idt_with

from seamemu.machine import Machine

CODE = """
sc:
    syscall
    mov rax, 1
    ret
se:
    sysenter
    mov rax, 1
    ret
sc_fixed:
    syscall
    ret
fix:
    ret
with_idt:
    lidt [rdi]
    syscall
    ret
ud_handler:
    mov rbx, [rsp]
    add qword ptr [rsp], 2
    iretq
"""


@pytest.mark.parametrize("entry, name, error_code, rule", [
    ("sc", "#UD", None, "IA32_EFER.SCE = 0"),
    ("se", "#GP", 0, "IA32_SYSENTER_CS"),
])
def test_fast_system_calls_fault_at_the_instruction(entry, name, error_code, rule):
    img = build(CODE)
    r = Machine(img, StubTarget()).call(entry)
    assert r.outcome == "fault"
    f = r.fault
    assert (f.name, f.error_code, f.address) == (name, error_code, img.symbols[entry])
    assert rule in f.detail
    assert r.regs_after["rax"] != 1          # the instruction after it never ran
    assert r.seam_events[-1].insn == entry.replace("sc", "syscall").replace("se", "sysenter")


def test_syscall_ud_is_fixed_up_by_the_exception_table():
    img = build(CODE, extable=[("sc_fixed", "fix", "fault")])
    r = Machine(img, StubTarget()).call("sc_fixed")
    assert r.outcome == "returned" and r.regs_after["rax"] == 6


def test_syscall_ud_is_delivered_through_a_guest_idt():
    img = build(CODE)
    m = Machine(img, StubTarget())
    idtr = idt_with(m, {6: img.symbols["ud_handler"]})
    r = m.call("with_idt", [idtr])
    assert r.outcome == "returned", r.faults
    assert r.regs_after["rbx"] == img.symbols["with_idt"] + 3   # RIP of the SYSCALL pushed
