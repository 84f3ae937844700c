# SPDX-License-Identifier: MIT
"""TDH.SYS.CONFIG beyond the one-rule scenarios: index bytes of later TDMRs, PAMT sizes, CMR
merging, KeyID bounds, and unbacked memory."""

from __future__ import annotations

import pytest
from model_bench import ARRAY_PA, PAMT_BLOCK, SEAMRR_BASE, SEAMRR_SIZE, good_tdmrs, mutate

from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import status_name, with_info, with_operand
from seamemu.platform.facts import Cmr, GiB, MiB

LOW_HOLE = 0x20000000          # 32 MiB reserved in TDMR 0 for TDMR 1's PAMTs


@pytest.fixture
def ready_for_config(bench):
    bench.bring_up(until="lp_init")
    return bench


def t0(**kw):
    return mutate(good_tdmrs()[0], **kw)


def t1(**kw):
    return mutate(good_tdmrs()[1], **kw)


@pytest.mark.parametrize("tdmrs, expected", [
    ([t0(), t1(pamt_2m_size=4096)], with_info(S.TDX_INVALID_PAMT, 1, 1)),
    ([t0(pamt_1g_size=0, pamt_4k_size=0)], with_info(S.TDX_INVALID_PAMT, 0, 2)),
    ([t0(pamt_2m_base=PAMT_BLOCK + 0x1000)], with_info(S.TDX_PAMT_OVERLAP, 0, 0, 0)),
    ([t0(), t1(pamt_2m_base=PAMT_BLOCK + 8 * MiB)], with_info(S.TDX_PAMT_OVERLAP, 1, 0, 1)),
    ([t0(), t1(base=4 * GiB + 512 * MiB)], with_info(S.TDX_INVALID_TDMR, 1)),
    ([t0(), t1(rsvd0_offset=0x70000800)], with_info(S.TDX_INVALID_RESERVED_IN_TDMR, 1, 0)),
], ids=["pamt_2m_too_small_in_tdmr1", "pamt_1g_checked_first", "pamt_2m_inside_own_4k",
        "pamt_4k_overlaps_own_2m", "tdmr1_misaligned", "tdmr1_rsvd_misaligned"])
def test_rule_statuses_carry_index_bytes(ready_for_config, tdmrs, expected):
    assert ready_for_config.config(tdmrs) == expected, status_name(expected)


def test_earlier_pamt_inside_a_later_tdmr_is_reported_against_both(ready_for_config):
    p = LOW_HOLE
    tdmr0 = t0(rsvd1_offset=LOW_HOLE, rsvd1_size=32 * MiB)
    tdmr0 = mutate(tdmr0, rsvd0_offset=LOW_HOLE, rsvd0_size=32 * MiB,
                   rsvd1_offset=SEAMRR_BASE, rsvd1_size=SEAMRR_SIZE)
    tdmr1 = t1(pamt_4k_base=p, pamt_2m_base=p + 8 * MiB, pamt_1g_base=p + 8 * MiB + 16384,
               rsvd0_size=0, rsvd0_offset=0)
    status = ready_for_config.config([tdmr0, tdmr1])
    # TDMR 0's 4K PAMT (at PAMT_BLOCK) lies in TDMR 1's non-reserved memory: (j=0, 4K, i=1).
    assert status == with_info(S.TDX_PAMT_OVERLAP, 0, 0, 1), status_name(status)


def test_adjacent_cmrs_count_as_one(make_bench):
    b = make_bench(abi="1.5", cmrs=(Cmr(0, SEAMRR_BASE), Cmr(4 * GiB, GiB), Cmr(5 * GiB, GiB)))
    b.bring_up(until="lp_init")
    assert b.config() == S.TDX_SUCCESS


def test_a_gap_between_cmrs_puts_the_tdmr_outside(make_bench):
    b = make_bench(abi="1.5", cmrs=(Cmr(0, SEAMRR_BASE), Cmr(4 * GiB, GiB),
                                    Cmr(5 * GiB + 2 * MiB, GiB - 2 * MiB)))
    b.bring_up(until="lp_init")
    assert b.config() == with_info(S.TDX_TDMR_OUTSIDE_CMRS, 1)


@pytest.mark.parametrize("r8, ok", [(32, True), (63, True), (31, False), (64, False),
                                    (32 | 1 << 16, False), (0, False)])
def test_global_keyid_must_be_a_private_keyid(ready_for_config, r8, ok):
    # Platform: 31 MKTME KeyIDs, 32 TDX KeyIDs -> private HKIDs 32..63.
    status = ready_for_config.config(hkid=r8)
    assert status == (S.TDX_SUCCESS if ok else with_operand(S.TDX_OPERAND_INVALID, "R8"))


def test_second_entry_pa_misaligned_is_an_rcx_error(ready_for_config):
    b = ready_for_config
    b.write_tdmrs(good_tdmrs())
    b.mem.write(ARRAY_PA + 8, (0x101200 + 0x40).to_bytes(8, "little"))
    assert b.status(0, "TDH.SYS.CONFIG", rcx=ARRAY_PA, rdx=2, r8=b.hkid) == \
        with_operand(S.TDX_OPERAND_INVALID, "RCX")


def test_array_in_seamrr_is_refused(ready_for_config):
    b = ready_for_config
    assert b.status(0, "TDH.SYS.CONFIG", rcx=SEAMRR_BASE, rdx=1, r8=b.hkid) == \
        with_operand(S.TDX_OPERAND_INVALID, "RCX")


def test_unbacked_tdmr_info_reads_as_all_ones(ready_for_config):
    b = ready_for_config
    b.mem.write(ARRAY_PA, (2 * GiB).to_bytes(8, "little"))    # a hole in the memory map
    reply = b.call(0, "TDH.SYS.CONFIG", rcx=ARRAY_PA, rdx=1, r8=b.hkid)
    assert reply.regs["rax"] == with_info(S.TDX_INVALID_TDMR, 0)
    assert "not backed" in reply.record.note


def test_config_records_tdmrs_and_writes_no_memory(ready_for_config):
    b = ready_for_config
    assert b.config() == S.TDX_SUCCESS
    reply = b.tdx.records[-1]
    assert reply.memory_written == ()
    assert [(t.base, t.size) for t in b.tdx.state.tdmrs] == [(0, GiB), (4 * GiB, 2 * GiB)]
    assert b.tdx.state.tdmrs[0].reserved == ((SEAMRR_BASE, SEAMRR_SIZE),)
