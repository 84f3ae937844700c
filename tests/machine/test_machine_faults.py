# SPDX-License-Identifier: MIT
"""Exception delivery: guest IDT frames, INTR-path exceptions, wild accesses, NULL derefs."""

from __future__ import annotations

import struct

from machine_helpers import SEAMCALL, StubTarget, build

from seamemu.machine import Machine
from seamemu.machine.machine import KERNEL_CS, KERNEL_DS
from seamemu.traps import CpuState

GiB = 1 << 30


def idt_with(m: Machine, handlers: dict[int, int], gate_type: int = 0xE) -> int:
    """Write an IDT with the given vector -> handler gates; return the address of its IDTR."""
    idt = m.memory.alloc(256 * 16, 16)
    for vector, h in handlers.items():
        gate = struct.pack("<HHBBHII", h & 0xFFFF, KERNEL_CS, 0, 0x80 | gate_type,
                           (h >> 16) & 0xFFFF, h >> 32, 0)
        m.memory.write(idt + vector * 16, gate)
    idtr = m.memory.alloc(10)
    m.memory.write(idtr, struct.pack("<HQ", 256 * 16 - 1, idt))
    return idtr


IDT_GP = f"""
f:
    lidt [rsi]
    mov rax, rdi
seam:
    {SEAMCALL}
    ret
gp_handler:
    mov rbx, [rsp]
    mov rcx, [rsp + 8]
    mov rdx, rsp
    mov r8, [rsp + 16]
    mov r10, [rsp + 32]
    mov r11, [rsp + 40]
    pushfq
    pop r12
    add qword ptr [rsp + 8], 4
    add rsp, 8
    iretq
"""


def test_idt_delivery_pushes_frame_with_error_code_and_runs_handler():
    img = build(IDT_GP)
    m = Machine(img, StubTarget(), cpu=CpuState(cpl=3))
    idtr = idt_with(m, {13: img.symbols["gp_handler"]})
    r = m.call("f", [0x21, idtr], regs={"rflags": 0x202, "rbx": 0xDEAD})
    assert r.outcome == "returned", r.faults
    a = r.regs_after
    seam = img.symbols["seam"]
    rsp_at_fault = r.regs_before["rsp"]
    assert a["rbx"] == 0                                   # #GP(0) error code
    assert a["rcx"] == seam                                # RIP of the faulting SEAMCALL
    assert a["rdx"] == (rsp_at_fault & ~0xF) - 48          # aligned down, 6 qwords pushed
    assert a["r8"] == KERNEL_CS and a["r11"] == KERNEL_DS
    assert a["r10"] == rsp_at_fault                        # the interrupted RSP
    assert a["r12"] & 0x200 == 0                           # interrupt gate cleared IF
    assert a["rsp"] == rsp_at_fault + 8                    # IRETQ restored RSP, then ret
    (f,) = r.faults
    assert (f.vector, f.handled_by, f.fixup) == (13, "idt", img.symbols["gp_handler"])


def test_trap_gate_keeps_if():
    img = build(IDT_GP)
    m = Machine(img, StubTarget(), cpu=CpuState(cpl=3))
    idtr = idt_with(m, {13: img.symbols["gp_handler"]}, gate_type=0xF)
    r = m.call("f", [0x21, idtr], regs={"rflags": 0x202})
    assert r.regs_after["r12"] & 0x200


def test_extable_takes_precedence_over_idt():
    img = build(IDT_GP + "fix:\n    ret\n", extable=[("seam", "fix", "fault")])
    m = Machine(img, StubTarget(), cpu=CpuState(cpl=3))
    idtr = idt_with(m, {13: img.symbols["gp_handler"]})
    r = m.call("f", [0x21, idtr])
    assert r.faults[0].handled_by == "extable" and r.regs_after["rax"] == 13


def test_the_batch_s_fixup_is_what_delivery_does_and_none_where_it_would_report():
    # Delivery.fixup (the batch driver's shortcut) gives the fixup deliver resumes at, and
    # leaves to deliver what it reports: no entry, a frame that cannot be pushed, #BP.
    img = build(IDT_GP + "fix:\n    ret\n", extable=[("seam", "fix", "fault")])
    m = Machine(img, StubTarget(), cpu=CpuState(cpl=3))
    seam, rsp = img.symbols["seam"], m.stack_top() - 64
    delivery = m.lps[0].delivery
    vals = [0] * 18
    vals[-3] = rsp   # RSP (regs.NAMES: ... rbp, rsp, rflags, rip)
    event = delivery.deliver(m.lps[0].uc, vals, 13, 0, seam)
    assert event.handled_by == "extable"
    assert delivery.fixup(13, seam, rsp, True) == (img.symbols["fix"], True) == \
        (vals[-1], vals[0] == 13)
    assert delivery.fixup(13, seam + 1, rsp, True) is None            # no entry there
    assert delivery.fixup(3, seam, rsp, False) is None                # #BP: never fixed up
    guard = m.stack_bottom() + 16                                     # frame in the guard page
    assert delivery.deliver(m.lps[0].uc, [0] * 15 + [guard, 0, 0], 13, 0, seam).handled_by \
        is None
    assert delivery.fixup(13, seam, guard, True) is None


def test_missing_gate_is_unhandled_with_reason():
    img = build(IDT_GP)
    m = Machine(img, StubTarget(), cpu=CpuState(cpl=3))
    idtr = idt_with(m, {6: img.symbols["gp_handler"]})
    r = m.call("f", [0x21, idtr])
    assert r.outcome == "fault" and "gate 13 is not present" in r.fault.detail


def test_divide_error_via_extable():
    text = "f:\n    mov eax, 5\n    xor ecx, ecx\ndv:\n    div rcx\n    ret\nfix:\n    ret\n"
    img = build(text, extable=[("dv", "fix", "fault")])
    r = Machine(img, StubTarget()).call("f")
    assert r.outcome == "returned" and r.regs_after["rax"] == 0
    assert r.faults[0].name == "#DE" and r.faults[0].address == img.symbols["dv"]


def test_divide_error_via_idt_restarts_after_the_handler():
    text = """
f:
    lidt [rdi]
    mov eax, 5
    xor ecx, ecx
    div rcx
    mov r9, 77
    ret
de_handler:
    mov rbx, 99
    add qword ptr [rsp], 3
    iretq
"""
    img = build(text)
    m = Machine(img, StubTarget())
    idtr = idt_with(m, {0: img.symbols["de_handler"]})
    r = m.call("f", [idtr])
    assert r.outcome == "returned"
    assert (r.regs_after["rbx"], r.regs_after["r9"]) == (99, 77)
    assert r.faults[0].handled_by == "idt" and r.faults[0].error_code is None


def test_int3_unhandled_reports_breakpoint_after_the_instruction():
    img = build("f:\n    int3\nafter:\n    ret\n")
    r = Machine(img, StubTarget()).call("f")
    assert r.outcome == "fault"
    assert (r.fault.name, r.fault.vector, r.fault.address) == ("#BP", 3, img.symbols["after"])


def test_wild_read_write_and_fetch_are_page_faults():
    img = build("rd:\n    mov rax, [rdi]\n    ret\nwr:\n    mov [rdi], rax\n    ret\njp:\n    jmp rdi\n")
    m = Machine(img, StubTarget(), present=lambda pa, size: pa >= 4096 and pa + size <= GiB)
    wild = 2 * GiB
    r = m.call("rd", [wild])
    assert r.outcome == "fault"
    f = r.fault
    assert (f.name, f.error_code, f.access, f.address) == ("#PF", 0, wild, img.symbols["rd"])
    assert "wild read" in f.detail and "not present" in f.detail and f.symbol == "rd"
    assert m.call("wr", [wild]).fault.error_code == 0b10
    fetch = m.call("jp", [wild]).fault
    assert fetch.error_code == 0b10000 and fetch.address == wild


def test_null_dereference_faults_by_default():
    img = build("rd:\n    mov rax, [rdi]\n    ret\n")
    r = Machine(img, StubTarget()).call("rd", [8])
    assert r.outcome == "fault" and r.fault.access == 8


def test_wild_access_fixed_up_by_extable():
    img = build("rd:\n    mov rax, [rdi]\n    ret\nfix:\n    ret\n", extable=[("rd", "fix", "fault")])
    r = Machine(img, StubTarget()).call("rd", [0])
    assert r.outcome == "returned" and r.regs_after["rax"] == 14


def test_page_fault_via_idt_pushes_error_code_and_sets_cr2():
    text = """
f:
    lidt [rsi]
    mov rax, [rdi]
    ret
pf_handler:
    mov rbx, cr2
    mov rcx, [rsp]
    add qword ptr [rsp + 8], 3
    add rsp, 8
    iretq
"""
    img = build(text)
    m = Machine(img, StubTarget(), present=lambda pa, size: pa >= 4096 and pa + size <= GiB)
    idtr = idt_with(m, {14: img.symbols["pf_handler"]})
    r = m.call("f", [3 * GiB, idtr])
    assert r.outcome == "returned", r.faults
    assert (r.regs_after["rbx"], r.regs_after["rcx"]) == (3 * GiB, 0)
    assert r.faults[0].handled_by == "idt" and r.faults[0].access == 3 * GiB


def test_fault_json_uses_hex_strings():
    img = build("rd:\n    mov rax, [rdi]\n    ret\n")
    r = Machine(img, StubTarget()).call("rd", [8])
    j = r.to_json()
    assert j["outcome"] == "fault" and j["faults"][0]["handled"] is False
    assert j["faults"][0]["access"] == "0x0000000000000008"
    assert j["regs_after"]["rip"] == f"0x{img.symbols['rd']:016x}"
