# SPDX-License-Identifier: MIT
"""CPUID: the platform's fields over the CPU model's answer, and a VM exit in a guest."""

from __future__ import annotations

from seamemu.arch import cpuid as c
from seamemu.traps.cpu_state import CpuState
from seamemu.traps.cpuid import cpuid_answer, execute_cpuid

MODEL_80000008 = (0x3028, 0, 0, 0)     # what Unicorn's model says: 40-bit physical addresses


def test_platform_fields_replace_only_their_bits():
    values = {c.PHYS_ADDR_BITS: 46, c.LINEAR_ADDR_BITS: 48}
    (eax, ebx, ecx, edx), applied = cpuid_answer(values, 0x80000008, 0, (0xFFFF_3028, 1, 2, 3))
    assert (eax, ebx, ecx, edx) == (0xFFFF_302E, 1, 2, 3)
    assert applied == ["EAX[7:0] physical-address bits = 46", "EAX[15:8] linear-address bits = 48"]


def test_subleaf_specific_fields_apply_to_their_subleaf_only():
    values = {c.TME_EN: 1}
    assert cpuid_answer(values, 7, 0, (0, 0, 0, 0))[0][2] == 1 << 13
    assert cpuid_answer(values, 7, 1, (0, 0, 0, 0))[0][2] == 0


def test_host_cpuid_writes_the_four_registers():
    e = execute_cpuid(CpuState(), {c.PHYS_ADDR_BITS: 52}, 0x80000008, 0, MODEL_80000008)
    assert e.regs == {"rax": 0x3034, "rbx": 0, "rcx": 0, "rdx": 0}
    assert "physical-address bits = 52" in e.decision.rule


def test_cpuid_in_a_guest_is_a_vm_exit():
    for cpu in (CpuState(vmx_non_root=True), CpuState(td_guest=True)):
        d = execute_cpuid(cpu, {}, 1, 0, (0, 0, 0, 0)).decision
        assert (d.kind, d.exit_reason) == ("vmexit", 10)
