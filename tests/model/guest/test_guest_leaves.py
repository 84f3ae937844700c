# SPDX-License-Identifier: MIT
"""The module's guest side, leaf by leaf: each check driven to its status, outputs as the TDX
module's sources write them, and the dispatcher's refusals of RAX."""

from __future__ import annotations

import pytest

from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_info, with_operand
from seamemu.arch.td import TDCS_CONFIG_FLAGS, TDCS_NOTIFY_ENABLES, TDCS_TD_CTLS
from seamemu.model.guest import TdConfig, TdGuest, VeInfo
from seamemu.model.leaf_spec import guest_leaf_specs
from seamemu.platform import as_platform
from seamemu.traps.target import HALT, VmmReply
from seamemu.traps.tdcall import TDCALL_REGS

MiB = 1 << 20
PENDING_BASE = 64 * MiB


class Memory:
    """Guest memory of [0, 256 MiB) as a dict of written bytes (zeros elsewhere)."""

    def __init__(self, size: int = 256 * MiB) -> None:
        self.size, self.bytes = size, {}

    def present(self, pa, size):
        return pa >= 0 and pa + size <= self.size

    def read(self, pa, size):
        return bytes(self.bytes.get(pa + i, 0) for i in range(size))

    def write(self, pa, data):
        for i, b in enumerate(data):
            self.bytes[pa + i] = b


def td(vmm=None, **cfg):
    base = dict(pending=((PENDING_BASE, 4 * MiB),))
    return TdGuest(TdConfig.for_platform(as_platform(None), **(base | cfg)), vmm, num_vcpus=2)


def call(guest, leaf, lp=0, mem=None, **regs):
    full = dict.fromkeys(TDCALL_REGS, 0) | {"rax": leaf} | regs
    reply = guest.tdcall(lp, full, mem if mem is not None else Memory())
    return reply, reply.record


def op(reg):
    return with_operand(S.TDX_OPERAND_INVALID, reg)


# -- TDG.VP.INFO ---------------------------------------------------------------------------------
# The host's width for memory is MAXPHYADDR (max_pa) less its KeyID bits.
@pytest.mark.parametrize("max_pa, keyid_bits, gpaw", [(52, 6, 48), (48, 0, 48), (52, 0, 52)])
def test_vp_info_reports_the_gpa_width_the_platform_allows(max_pa, keyid_bits, gpaw):
    platform = as_platform(None)
    platform = type(platform)(**{**platform.__dict__, "max_pa": max_pa, "keyid_bits": keyid_bits})
    guest = TdGuest(TdConfig.for_platform(platform), num_vcpus=3)
    reply, rec = call(guest, 1, lp=2)
    assert reply.regs["rax"] == 0 and rec.leaf_name == "TDG.VP.INFO"
    assert reply.regs["rcx"] == gpaw
    assert reply.regs["rdx"] == 1 << 28                     # SEPT_VE_DISABLE
    assert reply.regs["r8"] == 3 | platform.num_lps << 32   # NUM_VCPUS | MAX_VCPUS << 32
    assert reply.regs["r9"] == 2                            # this vCPU's index
    assert (reply.regs["r10"], reply.regs["r11"]) == (1, 0)


# -- TDG.VP.VEINFO.GET -------------------------------------------------------------------------
def test_veinfo_get_hands_out_the_ve_info_once():
    guest = td()
    reply, rec = call(guest, 3, rcx=5, r10=7)
    assert reply.regs == {"rax": S.TDX_NO_VALID_VE_INFO, "rcx": 0, "rdx": 0, "r8": 0, "r9": 0,
                          "r10": 0}
    assert rec.checks == ("ve_info_valid",)
    guest.state.post_ve(0, VeInfo(48, 0x181, 0x7000, 0x2000_0000, 4, 0x99))
    reply, _ = call(guest, 3)
    assert reply.regs == {"rax": 0, "rcx": 48, "rdx": 0x181, "r8": 0x7000, "r9": 0x2000_0000,
                          "r10": 4 | 0x99 << 32}
    assert call(guest, 3)[0].regs["rax"] == S.TDX_NO_VALID_VE_INFO   # consumed


# -- TDG.VM.RD ---------------------------------------------------------------------------------
@pytest.mark.parametrize("field, value", [
    (0x1110000300000000, 1 << 28),                 # ATTRIBUTES
    (TDCS_CONFIG_FLAGS, 1 << 2),                   # NO_RBP_MOD (GPAW 48)
    (TDCS_TD_CTLS, 0),
    (0x1110000000000003, 0),                       # GPAW flag
    (TDCS_NOTIFY_ENABLES, 1),                      # read mask 1: bit 0 only
])
def test_vm_rd_reads_the_td_fields(field, value):
    guest = td(notify_enables=0xFF)
    reply, _rec = call(guest, 7, rdx=field)
    assert (reply.regs["rax"], reply.regs["r8"]) == (0, value)


@pytest.mark.parametrize("regs, rax, status, check", [
    ({"rcx": 1, "rdx": TDCS_TD_CTLS}, 7, op("RCX"), "vm_id"),
    ({"rdx": TDCS_TD_CTLS | 1 << 34}, 7, S.TDX_METADATA_FIELD_ID_INCORRECT, "single_element"),
    ({"rdx": 0x1110000300000077}, 7, S.TDX_METADATA_FIELD_ID_INCORRECT, "known_field"),
    ({"rdx": 0x1110000300000004}, 7, S.TDX_METADATA_FIELD_NOT_READABLE, "guest_readable"),
    ({"rdx": TDCS_TD_CTLS}, 7 | 2 << 16, op("RAX"), "version"),
])
def test_vm_rd_checks(regs, rax, status, check):
    reply, rec = call(td(), rax, **regs)
    assert reply.regs["rax"] == status and reply.regs["r8"] == 0
    assert rec.checks[-1] == check


def test_vm_rd_version_1_is_said_to_be_not_modelled():
    reply, rec = call(td(), 7 | 1 << 16, rdx=TDCS_TD_CTLS)
    assert reply.regs["rax"] == op("RAX") and "not modelled" in rec.note


# -- TDG.MEM.PAGE.ACCEPT -------------------------------------------------------------------------
def test_accept_zeroes_a_pending_page_once():
    guest, mem = td(), Memory()
    page = PENDING_BASE + 0x3000
    mem.write(page, b"\xAA" * 4096)
    reply, rec = call(guest, 6, mem=mem, rcx=page)
    assert reply.regs["rax"] == 0 and mem.read(page, 4096) == bytes(4096)
    assert rec.memory_written == ((page, 4096),)
    reply, rec = call(guest, 6, mem=mem, rcx=page)
    assert reply.regs["rax"] == with_info(S.TDX_PAGE_ALREADY_ACCEPTED, 0)
    assert rec.checks[-1] == "not_accepted"


def test_accept_of_memory_built_into_the_td_is_already_accepted():
    reply, _ = call(td(), 6, rcx=0x10_0000)
    assert reply.regs["rax"] == S.TDX_PAGE_ALREADY_ACCEPTED


@pytest.mark.parametrize("rcx, status, check", [
    (PENDING_BASE | 2, op("RCX"), "page_info"),           # 1 GiB: refused by the level check
    (PENDING_BASE | 1, with_info(S.TDX_PAGE_SIZE_MISMATCH, 1), "size_match"),  # KVM maps 4 KiB
    (PENDING_BASE + 0x1000 | 1, op("RCX"), "page_info"),  # 2 MiB level, 4 KiB aligned
    (PENDING_BASE | 1 << 3, op("RCX"), "page_info"),      # reserved bit 3
    (PENDING_BASE | 1 << 47, op("RCX"), "gpa_private"),   # the shared bit of GPAW 48
    (1 << 50, op("RCX"), "gpa_private"),                  # beyond GPAW 48
])
def test_accept_checks(rcx, status, check):
    reply, rec = call(td(), 6, rcx=rcx)
    assert reply.regs["rax"] == status and rec.checks[-1] == check


def test_accept_of_an_unmapped_page_goes_through_the_vmm_and_succeeds():
    reply, rec = call(td(), 6, mem=Memory(128 * MiB), rcx=200 * MiB + 0x1000)
    assert reply.regs["rax"] == 0
    assert "EPT violation" in rec.note


# -- TDG.VP.VMCALL -------------------------------------------------------------------------------
class Vmm:
    def __init__(self, reply):
        self.reply, self.seen = reply, None

    def tdvmcall(self, lp, regs, mem):
        self.seen = dict(regs)
        return self.reply


def test_vmcall_passes_only_the_selected_registers_and_takes_the_vmms_values_back():
    vmm = Vmm(VmmReply({"r10": 0, "r11": 0x1234, "r9": 5}))
    guest = td(vmm)
    rcx = 1 << 10 | 1 << 11 | 1 << 12   # R10, R11, R12
    reply, _rec = call(guest, 0, rcx=rcx, r10=0, r11=0x10000, r12=9, r9=77, r13=3)
    assert vmm.seen == {"rcx": rcx, "r10": 0, "r11": 0x10000, "r12": 9}
    # RAX = success, RCX as the TD had it; R9 was not selected, so the VMM's value is ignored.
    assert reply.regs == {"rax": 0, "r10": 0, "r11": 0x1234, "r12": 9}


@pytest.mark.parametrize("rcx", [1 << 0, 1 << 1, 1 << 4, 1 << 5, 1 << 32])
def test_vmcall_refuses_what_the_rcx_bitmap_may_not_select(rcx):
    vmm = Vmm(VmmReply({}))
    reply, _rec = call(td(vmm), 0, rcx=rcx)      # RBP (bit 5): the TD has NO_RBP_MOD
    assert reply.regs["rax"] == op("RCX") and vmm.seen is None


def test_vmcall_to_a_vmm_that_stops_the_td_halts_the_call():
    reply, rec = call(td(Vmm(VmmReply({}, None, halt="the VMM stopped it"))), 0, rcx=1 << 10)
    assert reply.fault == HALT and rec.note == "the VMM stopped it"


# -- the dispatcher ------------------------------------------------------------------------------
@pytest.mark.parametrize("rax, note", [
    (1 | 1 << 24, "reserved RAX bits set"),
    (1 | 1 << 40, "reserved RAX bits set"),
    (1 | 1 << 16, "version 1 not supported by this leaf"),
    (4, "not modelled"),                    # TDG.MR.REPORT: a real leaf the model lacks
    (13, "unknown leaf"),
])
def test_the_dispatcher_refuses_rax_with_operand_invalid(rax, note):
    reply, rec = call(td(), rax)
    assert reply.regs == {"rax": op("RAX")} and rec.note == note


def test_every_guest_check_is_exercised_above():
    tested = {"ve_info_valid", "vm_id", "single_element", "known_field", "guest_readable",
              "version", "page_info", "gpa_private", "not_accepted", "size_match", "rcx_select"}
    assert {c.id for s in guest_leaf_specs() for c in s.checks} == tested
