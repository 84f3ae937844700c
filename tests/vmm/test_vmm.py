# SPDX-License-Identifier: MIT
"""The VMM behind TDG.VP.VMCALL: each sub-function answers as KVM's tdx.c does, with the
status in R10 and outputs in R11 and up."""

from __future__ import annotations

import pytest

from seamemu.arch.ghci import (
    TDVMCALL_STATUS_ALIGN_ERROR,
    TDVMCALL_STATUS_INVALID_OPERAND,
    TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED,
)
from seamemu.vmm import Vmm

SHARED = 1 << 47
R = ("rdx", "rbx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


class Converted:
    def __init__(self):
        self.calls = []

    def convert(self, gpa, size, private):
        self.calls.append((gpa, size, private))


def ask(vmm, sub, **regs):
    full = dict.fromkeys(R, 0) | {"rcx": 0xFFCC, "r10": 0, "r11": sub} | regs
    return vmm.tdvmcall(0, full, None)


def test_get_td_vm_call_info_leaf_0_succeeds_with_zeros():
    reply = ask(Vmm(gpaw=48), 0x10000, r11=0x10000, r12=0, r13=5, r14=6)
    assert reply.regs == {"r10": 0, "r11": 0, "r12": 0, "r13": 0, "r14": 0}
    assert reply.record.name == "TDG.VP.VMCALL<GetTdVmCallInfo>"
    assert reply.record.status_name == "TDVMCALL_STATUS_SUCCESS"


def test_get_td_vm_call_info_refuses_an_unknown_leaf():
    assert ask(Vmm(gpaw=48), 0x10000, r12=2).regs["r10"] == TDVMCALL_STATUS_INVALID_OPERAND


def test_map_gpa_converts_a_range_and_checks_it_as_kvm_does():
    mem = Converted()
    vmm = Vmm(gpaw=48, memory=mem)
    assert ask(vmm, 0x10001, r12=SHARED | 0x10_0000, r13=0x20_0000).regs["r10"] == 0
    assert ask(vmm, 0x10001, r12=0x10_0000, r13=0x1000).regs["r10"] == 0
    assert mem.calls == [(0x10_0000, 0x20_0000, False), (0x10_0000, 0x1000, True)]
    for gpa, size, status in [
        (0x1000, 0, TDVMCALL_STATUS_INVALID_OPERAND),                 # empty
        (SHARED - 0x1000, 0x2000, TDVMCALL_STATUS_INVALID_OPERAND),   # private and shared
        (1 << 48, 0x1000, TDVMCALL_STATUS_INVALID_OPERAND),           # beyond GPAW 48
        (0x1800, 0x1000, TDVMCALL_STATUS_ALIGN_ERROR),
    ]:
        reply = ask(vmm, 0x10001, r12=gpa, r13=size)
        assert (reply.regs["r10"], reply.regs["r11"]) == (status, gpa), hex(gpa)
    assert len(mem.calls) == 2


def test_report_fatal_error_stops_the_td_with_the_panic_message():
    msg = b"TD misconfiguration!".ljust(64, b"\0")
    words = {r: int.from_bytes(msg[8 * i:8 * i + 8], "little")
             for i, r in enumerate(("r14", "r15", "rbx", "rdi", "rsi", "r8", "r9", "rdx"))}
    reply = ask(Vmm(gpaw=48), 0x10003, r12=0, **words)
    assert "TD misconfiguration!" in reply.halt and "a panic" in reply.halt


def test_port_io_reaches_com1_and_nothing_else():
    vmm = Vmm(gpaw=48)
    for ch in b"ok\n":
        assert ask(vmm, 30, r12=1, r13=1, r14=0x3F8, r15=ch).regs["r10"] == 0
    assert bytes(vmm.console) == b"ok\n"
    assert ask(vmm, 30, r12=1, r13=0, r14=0x3FD).regs["r11"] == 0x60   # transmitter empty
    reply = ask(vmm, 30, r12=2, r13=0, r14=0x80)
    assert reply.regs["r11"] == 0xFFFF and "no device" in reply.record.note
    assert ask(vmm, 30, r12=3, r13=0, r14=0x80).regs["r10"] == TDVMCALL_STATUS_INVALID_OPERAND
    assert ask(vmm, 30, r12=1, r13=2, r14=0x80).regs["r10"] == TDVMCALL_STATUS_INVALID_OPERAND


def test_mmio_only_to_shared_gpas():
    vmm = Vmm(gpaw=48)
    assert ask(vmm, 48, r12=4, r13=0, r14=0xFEC0_0000).regs["r10"] == \
        TDVMCALL_STATUS_INVALID_OPERAND
    assert ask(vmm, 48, r12=4, r13=0, r14=SHARED | 0xFEC0_0000).regs["r11"] == 0xFFFF_FFFF


def test_msrs_the_vmm_emulates_and_the_ones_it_refuses():
    vmm = Vmm(gpaw=48)
    assert ask(vmm, 31, r12=0x3A).regs["r11"] == 1                       # FEATURE_CONTROL
    assert ask(vmm, 32, r12=0x3A, r13=5).regs["r10"] == TDVMCALL_STATUS_INVALID_OPERAND
    assert ask(vmm, 31, r12=0x1B).regs["r10"] == TDVMCALL_STATUS_INVALID_OPERAND


def test_cpuid_answers_from_the_table_it_was_given():
    vmm = Vmm(gpaw=48, cpuid=lambda leaf, sub: (leaf, sub, 3, 4))
    reply = ask(vmm, 10, r12=0x8000_0008, r13=1)
    assert [reply.regs[r] for r in ("r12", "r13", "r14", "r15")] == [0x8000_0008, 1, 3, 4]


def test_hlt_with_interrupts_blocked_stops_the_td():
    vmm = Vmm(gpaw=48)
    assert "nothing can wake" in ask(vmm, 12, r12=1).halt
    assert not ask(vmm, 12, r12=0).halt


@pytest.mark.parametrize("regs", [{"r11": 0x10004}, {"r11": 0x10002, "r12": 0x1000},
                                  {"r10": 7, "r11": 1}])
def test_what_the_vmm_does_not_serve(regs):
    reply = ask(Vmm(gpaw=48), regs.pop("r11"), **regs)
    status = TDVMCALL_STATUS_INVALID_OPERAND if "r12" in regs else \
        TDVMCALL_STATUS_SUBFUNC_UNSUPPORTED
    assert reply.regs["r10"] == status and reply.record.note
