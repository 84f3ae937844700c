# SPDX-License-Identifier: MIT
"""SEAMCALL and friends through the machine: outcomes, flags, exception delivery, VMX state."""

from __future__ import annotations

import struct

import pytest
from machine_helpers import SEAMCALL, TDCALL, VMXOFF, VMXON_RDI, StubTarget, build

from seamemu.arch.registers import ABI_ORDER, RFLAGS_CF
from seamemu.errors import InputError
from seamemu.machine import Machine
from seamemu.traps import CpuState
from seamemu.traps.target import SeamReply

# f(leaf) -> rax: the leaf goes to RAX, RCX is whatever the caller preset.
PLAIN = f"""
f:
    mov rax, rdi
seam:
    {SEAMCALL}
    ret
"""

# The kernel's shape: a #GP/#UD at the SEAMCALL is fixed up with RAX = trap number.
WITH_EXTABLE = f"""
f:
    mov rax, rdi
seam:
    {SEAMCALL}
    ret
fixup:
    or rax, 0x100
    ret
"""


def test_success_reaches_target_with_all_registers_and_writes_reply():
    t = StubTarget()
    m = Machine(build(PLAIN), t)
    r = m.call("f", [0x21], regs={"rcx": 41, "r15": 7, "rflags": 0x2 | 0x8D5})
    assert r.outcome == "returned"
    assert r.regs_after["rax"] == 0 and r.regs_after["rcx"] == 42
    lp, regs = t.calls[0]
    assert lp == 0 and set(regs) == set(ABI_ORDER)
    assert regs["rax"] == 0x21 and regs["r15"] == 7 and regs["rdi"] == 0x21
    assert r.regs_after["rflags"] & 0x8D5 == 0  # VMsucceed: CF PF AF ZF SF OF clear
    (ev,) = r.seam_events
    assert (ev.insn, ev.address, ev.symbol) == ("seamcall", m.image.symbols["seam"], "seam")
    assert ev.decision.kind == "module"


def test_vmfailinvalid_without_module_sets_cf_and_keeps_rax():
    t = StubTarget(loaded=False)
    r = Machine(build(PLAIN), t).call("f", [0x21])
    assert r.outcome == "returned" and t.calls == []
    assert r.regs_after["rflags"] & RFLAGS_CF
    assert r.regs_after["rax"] == 0x21
    assert r.seam_events[0].decision.check == "vmfail_no_module"


@pytest.mark.parametrize("cpu, vector", [(CpuState(vmx_operation=False), 6), (CpuState(cpl=3), 13)])
def test_extable_fault_sets_rax_to_trap_number_and_resumes_at_fixup(cpu, vector):
    img = build(WITH_EXTABLE, extable=[("seam", "fixup", "fault")])
    r = Machine(img, StubTarget(), cpu=cpu).call("f", [0x21])
    assert r.outcome == "returned"
    assert r.regs_after["rax"] == vector | 0x100
    (fault,) = r.faults
    assert (fault.vector, fault.handled_by, fault.fixup) == (vector, "extable", img.symbols["fixup"])
    assert fault.address == img.symbols["seam"]


def test_extable_default_type_resumes_without_touching_rax():
    img = build(WITH_EXTABLE, extable=[("seam", "fixup", "default")])
    r = Machine(img, StubTarget(), cpu=CpuState(cpl=3)).call("f", [0x21])
    assert r.regs_after["rax"] == 0x121


def test_unhandled_gp_reports_vector_address_and_symbol():
    img = build(PLAIN)
    r = Machine(img, StubTarget(), cpu=CpuState(cpl=3)).call("f", [0x21])
    assert r.outcome == "fault"
    f = r.fault
    assert (f.vector, f.name, f.error_code, f.handled_by) == (13, "#GP", 0, None)
    assert f.address == img.symbols["seam"] == r.regs_after["rip"]
    assert f.symbol == "seam"
    text = f.report()
    assert "#GP" in text and "66 0f 01 cf" in text and "RAX: 0x0000000000000021" in text
    assert "CPL 3 > 0" in f.detail


def test_vmexit_stops_the_run_at_the_instruction():
    img = build(PLAIN)
    r = Machine(img, StubTarget(), cpu=CpuState(vmx_non_root=True)).call("f", [1])
    assert r.outcome == "vmexit"
    assert r.regs_after["rip"] == img.symbols["seam"]
    assert r.seam_events[-1].decision.exit_reason == 76


def test_injected_gp_goes_through_the_extable():
    img = build(WITH_EXTABLE, extable=[("seam", "fixup", "fault")])
    t = StubTarget(answer=lambda lp, regs, mem: SeamReply(fault="#GP"))
    r = Machine(img, t).call("f", [0x21])
    assert r.regs_after["rax"] == 13 | 0x100
    assert r.seam_events[0].decision.check == "injected"


def test_vmxon_then_seamcall_changes_state():
    text = f"""
f:
    {VMXON_RDI}
    mov rax, 0x21
    {SEAMCALL}
    ret
g:
    {VMXOFF}
    mov rax, 0x21
    {SEAMCALL}
    ret
"""
    t = StubTarget()
    m = Machine(build(text), t, cpu=CpuState(vmx_operation=False))
    ptr = m.memory.alloc(8)
    m.memory.write(ptr, struct.pack("<Q", 0x5000))
    r = m.call("f", [ptr])
    assert r.outcome == "returned" and m.lps[0].cpu.vmx_operation
    assert [e.insn for e in r.seam_events] == ["vmxon", "seamcall"]
    assert [e.decision.kind for e in r.seam_events] == ["VMsucceed", "module"]
    r2 = m.call("g")
    assert not m.lps[0].cpu.vmx_operation
    assert r2.outcome == "fault" and r2.fault.name == "#UD"


def test_vmxon_bad_pointer_fails_without_entering_vmx():
    text = f"f:\n    {VMXON_RDI}\n    ret\n"
    m = Machine(build(text), StubTarget(), cpu=CpuState(vmx_operation=False))
    ptr = m.memory.alloc(8)
    m.memory.write(ptr, struct.pack("<Q", 0x5008))
    r = m.call("f", [ptr])
    assert r.regs_after["rflags"] & RFLAGS_CF and not m.lps[0].cpu.vmx_operation


def test_tdcall_on_the_host_is_ud():
    r = Machine(build(f"f:\n    {TDCALL}\n    ret\n"), StubTarget()).call("f")
    assert r.outcome == "fault" and r.fault.vector == 6
    assert r.seam_events[0].insn == "tdcall"


class _TdModule:
    def __init__(self):
        self.calls = []

    def tdcall(self, lp, regs, mem):
        self.calls.append((lp, dict(regs)))
        return SeamReply({"rax": 0, "rcx": 48, "rbp": 7})


def test_a_td_vcpus_tdcall_reaches_the_attached_module_and_resumes_after_it():
    td = CpuState(vmx_non_root=True, td_guest=True)
    m = Machine(build(f"f:\n    mov rax, 1\n    {TDCALL}\n    ret\n"), StubTarget(), num_lps=2)
    module = _TdModule()
    m.attach_td(module)
    m.lps[0].cpu = td
    r = m.call("f", regs={"rflags": 0x2 | 0x80 | 0x1, "r12": 5})
    assert r.outcome == "returned" and module.calls[0][0] == 0
    assert module.calls[0][1]["rax"] == 1 and module.calls[0][1]["r12"] == 5
    assert (r.regs_after["rax"], r.regs_after["rcx"], r.regs_after["rbp"]) == (0, 48, 7)
    assert r.regs_after["rflags"] & 0x81 == 0x81       # SF and CF as the TD had them
    # LP 1 is the host: the same TDCALL there is #UD, and the module never hears of it.
    assert m.call("f", lp=1).fault.vector == 6 and len(module.calls) == 1
    # With nothing attached, a TD's TDCALL stops the run at the exit: nothing is made up.
    m.attach_td(None)
    r = m.call("f")
    assert r.outcome == "vmexit" and r.seam_events[-1].decision.check == "no_target"


def test_ud2_is_delivered_as_ud():
    img = build("f:\n    ud2\n    ret\nfix:\n    ret\n", extable=[("f", "fix", "fault")])
    r = Machine(img, StubTarget()).call("f")
    assert r.outcome == "returned" and r.regs_after["rax"] == 6


def test_target_exception_propagates_and_machine_stays_usable():
    calls = []

    def boom(lp, regs, mem):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("model bug")
        return SeamReply({"rax": 5})
    m = Machine(build(PLAIN), StubTarget(answer=boom))
    with pytest.raises(ValueError, match="model bug"):
        m.call("f", [1])
    assert m.call("f", [1]).regs_after["rax"] == 5


def test_insn_table_extension_by_patched_address():
    from seamemu.traps.rule_table import Decision, Effect

    img = build("f:\n    mov ecx, 0x1400\nmsr:\n    ud2\n    ret\n")
    m = Machine(img, StubTarget())

    def rdmsr(lp, rip, code, vals):
        return Effect(Decision("VMsucceed", "rdmsr stub", "stub"), regs={"rax": 0xABC, "rdx": 0},
                      rip_advance=2)
    m.insns.add_address(img.symbols["msr"], "rdmsr", rdmsr)
    r = m.call("f")
    assert r.outcome == "returned" and r.regs_after["rax"] == 0xABC
    assert r.seam_events[0].insn == "rdmsr"


def test_call_errors_are_named():
    m = Machine(build(PLAIN), StubTarget())
    with pytest.raises(InputError, match="nope"):
        m.call("nope")
    with pytest.raises(InputError, match="at most 6"):
        m.call("f", [1] * 7)
    with pytest.raises(InputError, match="logical processor 3"):
        m.call("f", lp=3)
    with pytest.raises(InputError, match="'rxx'"):
        m.call("f", regs={"rxx": 1})


def test_patch_replaces_translated_code():
    img = build("f:\n    xor eax, eax\n    ret\n")
    m = Machine(img, StubTarget())
    assert m.call("f").regs_after["rax"] == 0
    m.patch(img.symbols["f"], b"\xb0\x01")  # mov al, 1
    assert m.call("f", regs={"rax": 0}).regs_after["rax"] == 1


@pytest.mark.parametrize("code, regs, ea, length", [
    (bytes([0x37]), {"rdi": 0x1000}, 0x1000, 1),                          # [rdi]
    (bytes([0x74, 0x24, 0x08]), {"rsp": 0x2000}, 0x2008, 3),              # [rsp+8] (SIB)
    (bytes([0x34, 0x8E]), {"rsi": 0x100, "rcx": 2}, 0x108, 2),            # [rsi+rcx*4]
    (bytes([0x35, 0x10, 0, 0, 0]), {}, 0x400000 + 3 + 5 + 0x10, 5),       # [rip+0x10]
    (bytes([0xB5, 0xF0, 0xFF, 0xFF, 0xFF]), {"rbp": 0x3000}, 0x2FF0, 5),  # [rbp-0x10]
])
def test_vmxon_operand_decoding(code, regs, ea, length):
    from seamemu.machine.dispatch import memory_operand
    from seamemu.machine.regs import INDEX, NAMES

    vals = [0] * len(NAMES)
    for k, v in regs.items():
        vals[INDEX[k]] = v
    got, reg, n = memory_operand(b"\xf3\x0f\xc7" + code, 3, 0, vals, 0x400000)
    assert (got, reg, n) == (ea, 6, length)
