# SPDX-License-Identifier: MIT
"""CPUID reports the platform: address widths, VMX/SMX/TME, no TDX guest signature on a host."""

from __future__ import annotations

from machine_helpers import StubTarget, build

from seamemu.arch import cpuid as c
from seamemu.arch.cpuid import signature_registers
from seamemu.machine import Machine
from seamemu.platform.cpuid_table import default_cpuid_table
from seamemu.traps import CpuState

CODE = """
cpuid_of:
    mov eax, edi
    mov ecx, esi
    cpuid
    ret
"""


def cpuid(m: Machine, leaf: int, subleaf: int = 0):
    r = m.call("cpuid_of", [leaf, subleaf])
    assert r.outcome == "returned", r.faults
    a = r.regs_after
    return a["rax"], a["rbx"], a["rcx"], a["rdx"]


def test_address_widths_come_from_the_platform_not_unicorns_40_bits():
    m = Machine(build(CODE), StubTarget(), num_lps=2)
    assert cpuid(m, 0x80000008)[0] & 0xFFFF == (48 << 8) | 52     # MAXPHYADDR, KeyIDs in it
    narrow = {**default_cpuid_table(0), (0x80000008, 0): (0x302E, 0, 0, 0)}
    m.attach_cpuid([narrow, narrow])
    assert cpuid(m, 0x80000008)[0] & 0xFF == 46


def test_feature_bits_agree_with_a_bare_metal_vmx_host_with_tme():
    m = Machine(build(CODE), StubTarget())
    ecx = cpuid(m, 1)[2]
    assert ecx & (1 << 5)            # VMX: the platform has VMX capability MSRs
    assert not ecx & (1 << 6)        # SMX: IA32_FEATURE_CONTROL enables VMX outside SMX only
    assert not ecx & (1 << 31)       # bit 31 is 0 on hardware (Unicorn sets it)
    assert cpuid(m, 7, 0)[2] & (1 << 13)    # TME_EN: IA32_TME_CAPABILITY is implemented


def test_a_host_does_not_answer_the_tdx_guest_signature():
    _, ebx, ecx, edx = cpuid(Machine(build(CODE), StubTarget()), 0x21)
    assert (ebx, edx, ecx) != signature_registers(c.TDX_GUEST_SIGNATURE)


def test_cpuid_in_vmx_non_root_is_a_vm_exit_at_the_instruction():
    img = build(CODE)
    r = Machine(img, StubTarget(), cpu=CpuState(vmx_non_root=True)).call("cpuid_of", [1, 0])
    assert r.outcome == "vmexit"
    assert r.regs_after["rip"] == img.symbols["cpuid_of"] + 4
    assert r.seam_events[-1].decision.exit_reason == 10
