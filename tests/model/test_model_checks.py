# SPDX-License-Identifier: MIT
"""Every check of every modelled leaf, driven to its status; the explain table matches the code.

Each scenario sets the module up so that exactly one named check decides the call, and asserts
the exact status (operand ID / index bytes included) and that this check was the last one the
handler evaluated.  A meta-test makes sure no check of any LeafSpec is left without a scenario.
"""

from __future__ import annotations

import pytest
from model_bench import (
    ARRAY_PA,
    CMRINFO_PA,
    ENTRY_PA,
    PAGE_PA,
    PAMT_BLOCK,
    SEAMRR_BASE,
    SEAMRR_SIZE,
    SYSINFO_PA,
    good_tdmrs,
    mutate,
)

from seamemu.arch.status import SeamldrStatus as L
from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_info, with_operand
from seamemu.arch.sysinfo import pack_seamldr_params
from seamemu.model import all_leaf_specs
from seamemu.model.leaves import sys_rd
from seamemu.model.module_state import LockHold
from seamemu.platform.facts import Cmr, GiB, LpValue, MiB

NULL = (1 << 64) - 1
OPINV = S.TDX_OPERAND_INVALID


def op(reg):
    return with_operand(OPINV, reg)


def info(b, lp=0, **over):
    regs = dict(rcx=SYSINFO_PA, rdx=1024, r8=CMRINFO_PA, r9=32)
    regs.update(over)
    return b.call(lp, "TDH.SYS.INFO", **regs)


def config_reply(b, tdmrs, **kw):
    b.config(tdmrs, **kw)
    return b.tdx.records[-1]


# ---------------------------------------------------------------- TDH.SYS.CONFIG TDMR sets
def t0():
    return good_tdmrs()[0]


def t1():
    return good_tdmrs()[1]


PAMT_SEAMRR = dict(pamt_4k_base=SEAMRR_BASE, pamt_2m_base=SEAMRR_BASE + 4 * MiB,
                   pamt_1g_base=SEAMRR_BASE + 4 * MiB + 8192)

CONFIG_CASES = {
    "entry_hpa": ([t0()], "misaligned entry", op("RCX")),
    "tdmr_overflow": ([mutate(t0(), base=NULL - GiB + 1, size=2 * GiB)], "",
                      with_info(S.TDX_INVALID_TDMR, 0)),
    "tdmr_sorted": ([t1(), t0()], "", with_info(S.TDX_NON_ORDERED_TDMR, 1)),
    "tdmr_overlap": ([t1(), mutate(t0(), base=5 * GiB, size=GiB)], "",
                     with_info(S.TDX_NON_ORDERED_TDMR, 1)),
    "tdmr_align": ([mutate(t0(), size=GiB + 4096)], "", with_info(S.TDX_INVALID_TDMR, 0)),
    "tdmr_base_pa": ([mutate(t0(), base=1 << 46)], "", with_info(S.TDX_INVALID_TDMR, 0)),
    "tdmr_end_pa": ([mutate(t0(), size=(1 << 46) + GiB)], "", with_info(S.TDX_INVALID_TDMR, 0)),
    "rsvd_null_order": ([mutate(t0(), rsvd0_offset=0, rsvd0_size=0, rsvd1_offset=SEAMRR_BASE,
                                rsvd1_size=SEAMRR_SIZE)], "",
                        with_info(S.TDX_NON_ORDERED_RESERVED_IN_TDMR, 0, 0)),
    "rsvd_overflow": ([mutate(t0(), rsvd0_offset=NULL - 4095, rsvd0_size=8192)], "",
                      with_info(S.TDX_INVALID_RESERVED_IN_TDMR, 0, 0)),
    "rsvd_sorted": ([mutate(t0(), rsvd1_offset=0x100000, rsvd1_size=0x1000)], "",
                    with_info(S.TDX_NON_ORDERED_RESERVED_IN_TDMR, 0, 1)),
    "rsvd_overlap": ([mutate(t0(), rsvd1_offset=SEAMRR_BASE + 0x1000, rsvd1_size=0x1000)], "",
                     with_info(S.TDX_NON_ORDERED_RESERVED_IN_TDMR, 0, 1)),
    "rsvd_align": ([mutate(t0(), rsvd0_offset=SEAMRR_BASE + 0x800)], "",
                   with_info(S.TDX_INVALID_RESERVED_IN_TDMR, 0, 0)),
    "rsvd_inside": ([mutate(t0(), rsvd1_offset=GiB, rsvd1_size=0x1000)], "",
                    with_info(S.TDX_INVALID_RESERVED_IN_TDMR, 0, 1)),
    "pamt_valid": ([mutate(t0(), pamt_4k_size=4 * MiB - 4096)], "",
                   with_info(S.TDX_INVALID_PAMT, 0, 0)),
    "pamt_pamt_overlap": ([t0(), mutate(t1(), pamt_4k_base=PAMT_BLOCK)], "",
                          with_info(S.TDX_PAMT_OVERLAP, 1, 0, 0)),
    "pamt_tdmr_overlap": ([mutate(t0(), pamt_4k_base=0x10000000)], "",
                          with_info(S.TDX_PAMT_OVERLAP, 0, 0, 0)),
    "pamt_cmr": ([mutate(t0(), **PAMT_SEAMRR)], "", with_info(S.TDX_PAMT_OUTSIDE_CMRS, 0, 2)),
    "tdmr_cmr": ([mutate(t0(), rsvd0_size=0)], "", with_info(S.TDX_TDMR_OUTSIDE_CMRS, 0)),
}


def _config_case(check):
    def run(make):
        b = make()
        b.bring_up(until="lp_init")
        tdmrs, how, expected = CONFIG_CASES[check]
        if how == "misaligned entry":
            b.write_tdmrs(tdmrs, entry_pa=ENTRY_PA + 8)
            return b.call(0, "TDH.SYS.CONFIG", rcx=ARRAY_PA, rdx=1, r8=b.hkid), expected
        b.config(tdmrs)
        return b.tdx.records[-1], expected
    return run


# ---------------------------------------------------------------- scenarios
def _held(b, lp=1, exclusive=True):
    b.tdx.state.lock = LockHold(lp, exclusive)


def _loader_bench(make, **kw):
    return make(packages=1, cores=2, threads=1, **kw)


def _install(b, lp, params=None, rcx=PAGE_PA):
    if params is not None:
        b.mem.write(rcx, params)
    return b.call(lp, "SEAMLDR.INSTALL", rcx=rcx)


def _params(**kw):
    base = dict(scenario=0, sigstruct_pa=0x130000, pages=[0x131000, 0x132000])
    base.update(kw)
    return pack_seamldr_params(base.pop("scenario"), base.pop("sigstruct_pa"), base.pop("pages"),
                               **base)


def _install_last(make, params, **kw):
    b = _loader_bench(make, **kw)
    assert _install(b, 0).regs["rax"] == 0
    return _install(b, 1, params)


def _bad_reserved_params():
    raw = bytearray(_params())
    raw[40] = 1
    return bytes(raw)


def _install_hpa(m):
    b = _loader_bench(m)
    _install(b, 0)
    return b.call(1, "SEAMLDR.INSTALL", rcx=SEAMRR_BASE)


def _after(b, stage):
    if stage == "init":
        assert b.sys_init() == 0
    elif stage == "ready":
        b.bring_up()
    else:
        b.bring_up(until=stage)
    return b


def _go(b, hold, leaf):
    hold(b)
    return b.call(0, leaf)


def _twice(b, leaf):
    b.call(0, leaf)
    return b.call(0, leaf)


def _pkg_twice(b):
    b.call(0, "TDH.SYS.KEY.CONFIG")
    return b.call(1, "TDH.SYS.KEY.CONFIG")          # LP 1 shares package 0 with LP 0


def _tdmr_locked(b):
    b.tdx.state.tdmr_locks.add(0)  # another LP holds TDMR 0's mutex
    return b.call(0, "TDH.SYS.TDMR.INIT", rcx=0)


def _msr(number, value, lps=None):
    return LpValue(number, value, None if lps is None else frozenset(lps))


def _init_with(m, **platform):
    """TDH.SYS.INIT on LP 0 of a platform with these per-LP values."""
    return m(**platform).call(0, "TDH.SYS.INIT")


def _lp1_differs(m, **platform):
    """TDH.SYS.INIT on LP 0, then TDH.SYS.LP.INIT on LP 1, whose values the platform changes."""
    b = m(**platform)
    assert b.sys_init() == 0, b.tdx.records[-1].status_name
    return b.call(1, "TDH.SYS.LP.INIT")


def _pamt_ready(b):
    """READY, with TDMR 0 ([0, 1 GiB), SEAMRR reserved) fully initialised."""
    _after(b, "ready").tdmr_init(0, GiB)
    return b


def _tdmr_done(b):
    b.tdmr_init(0, GiB)
    return b.call(0, "TDH.SYS.TDMR.INIT", rcx=0)


SCENARIOS = {
    ("TDH.SYS.INIT", "global_lock"): (lambda m: (
        _go(m(), _held, "TDH.SYS.INIT"), S.TDX_SYS_BUSY)),
    ("TDH.SYS.INIT", "rcx_reserved"): (lambda m: (m().call(0, "TDH.SYS.INIT", rcx=1), op("RCX"))),
    # 2.0 (intel/tdx-module 1666adc tdh_sys_init.c): versions 0 and 1; version 1's R8 has
    # reserved bits 5:0.
    ("TDH.SYS.INIT", "version"): (lambda m: (m().call(0, "TDH.SYS.INIT", version=2), op("RAX"))),
    ("TDH.SYS.INIT", "fatal_config"): (lambda m: (
        m().call(0, "TDH.SYS.INIT", version=1, r8=1), op("R8"))),
    ("TDH.SYS.INIT", "state"): (lambda m: (
        _twice(m(), "TDH.SYS.INIT"), S.TDX_SYS_INIT_NOT_PENDING)),
    ("TDH.SYS.INIT", "cmr_list"): (lambda m: (
        m(cmrs=(Cmr(4 * GiB, GiB), Cmr(0, GiB))).call(0, "TDH.SYS.INIT"),
        S.TDX_CMR_LIST_INVALID)),
    ("TDH.SYS.INIT", "canary_entropy"): (lambda m: (
        m(injector="leaf=TDH.SYS.INIT:status=TDX_RND_NO_ENTROPY").call(0, "TDH.SYS.INIT"),
        S.TDX_RND_NO_ENTROPY)),
    ("TDH.SYS.LP.INIT", "global_lock"): (lambda m: (
        _go(_after(m(), "init"), _held, "TDH.SYS.LP.INIT"), S.TDX_SYS_BUSY)),
    ("TDH.SYS.LP.INIT", "state"): (lambda m: (
        m().call(0, "TDH.SYS.LP.INIT"), S.TDX_SYS_LP_INIT_NOT_PENDING)),
    ("TDH.SYS.LP.INIT", "lp_done"): (lambda m: (
        _twice(_after(m(), "init"), "TDH.SYS.LP.INIT"), S.TDX_SYS_LP_INIT_DONE)),
    ("TDH.SYS.LP.INIT", "lfsr_entropy"): (lambda m: (
        _after(m(injector="leaf=TDH.SYS.LP.INIT:status=TDX_RND_NO_ENTROPY"), "init").call(
            0, "TDH.SYS.LP.INIT"), S.TDX_RND_NO_ENTROPY)),
    ("TDH.SYS.CONFIG", "global_lock"): (lambda m: (
        _go(_after(m(), "lp_init"), _held, "TDH.SYS.CONFIG"), S.TDX_SYS_BUSY)),
    ("TDH.SYS.CONFIG", "state"): (lambda m: (
        config_reply(m(), good_tdmrs()), S.TDX_SYS_CONFIG_NOT_PENDING)),
    ("TDH.SYS.CONFIG", "all_lps"): (lambda m: (
        config_reply(_after(m(), "init"), good_tdmrs()), S.TDX_SYS_CONFIG_NOT_PENDING)),
    ("TDH.SYS.CONFIG", "rcx_hpa"): (lambda m: (
        _after(m(), "lp_init").call(0, "TDH.SYS.CONFIG", rcx=0x100100, rdx=1, r8=32), op("RCX"))),
    ("TDH.SYS.CONFIG", "rdx_max"): (lambda m: (
        config_reply(_after(m(), "lp_init"), good_tdmrs(), count=65), op("RDX"))),
    ("TDH.SYS.CONFIG", "rdx_min"): (lambda m: (
        config_reply(_after(m(), "lp_init"), good_tdmrs(), count=0), op("RDX"))),
    ("TDH.SYS.CONFIG", "r8_hkid"): (lambda m: (
        config_reply(_after(m(), "lp_init"), good_tdmrs(), hkid=1), op("R8"))),
    # 2.0 Dynamic PAMT (R8 bit 16) with KeyID bits 51:50: above MAX_DYNAMIC_PAMT_HKID_START_BIT.
    ("TDH.SYS.CONFIG", "dynamic_pamt_hkid"): (lambda m: (
        config_reply(_after(b := m(keyid_bits=2), "lp_init"), good_tdmrs(),
                     hkid=b.hkid | 1 << 16), op("R8"))),
    ("TDH.SYS.KEY.CONFIG", "global_lock"): (lambda m: (
        _go(_after(m(), "config"), _held, "TDH.SYS.KEY.CONFIG"), S.TDX_SYS_BUSY)),
    ("TDH.SYS.KEY.CONFIG", "state"): (lambda m: (
        _after(m(), "lp_init").call(0, "TDH.SYS.KEY.CONFIG"), S.TDX_SYS_KEY_CONFIG_NOT_PENDING)),
    ("TDH.SYS.KEY.CONFIG", "pkg_done"): (lambda m: (
        _pkg_twice(_after(m(), "config")), S.TDX_KEY_CONFIGURED)),
    ("TDH.SYS.KEY.CONFIG", "pconfig_busy"): (lambda m: (
        _after(m(injector="leaf=TDH.SYS.KEY.CONFIG:status=TDX_OPERAND_BUSY"), "config").call(
            0, "TDH.SYS.KEY.CONFIG"), with_operand(S.TDX_OPERAND_BUSY, "KET"))),
    ("TDH.SYS.KEY.CONFIG", "pconfig_entropy"): (lambda m: (
        _after(m(injector="leaf=TDH.SYS.KEY.CONFIG:status=TDX_KEY_GENERATION_FAILED"),
               "config").call(0, "TDH.SYS.KEY.CONFIG"), S.TDX_KEY_GENERATION_FAILED)),
    ("TDH.SYS.TDMR.INIT", "rcx_addr"): (lambda m: (
        _after(m(), "ready").call(0, "TDH.SYS.TDMR.INIT", rcx=0x1000), op("RCX"))),
    ("TDH.SYS.TDMR.INIT", "rcx_tdmr"): (lambda m: (
        _after(m(), "ready").call(0, "TDH.SYS.TDMR.INIT", rcx=2 * GiB), op("RCX"))),
    ("TDH.SYS.TDMR.INIT", "tdmr_lock"): (lambda m: (
        _tdmr_locked(_after(m(), "ready")), with_operand(S.TDX_OPERAND_BUSY, "RCX"))),
    ("TDH.SYS.TDMR.INIT", "tdmr_done"): (lambda m: (
        _tdmr_done(_after(m(), "ready")), S.TDX_TDMR_ALREADY_INITIALIZED)),
    ("TDH.SYS.INFO", "lp_init"): (lambda m: (info(m()), S.TDX_SYS_LP_INIT_NOT_DONE)),
    ("TDH.SYS.INFO", "rcx_hpa"): (lambda m: (info(_after(m(), "lp_init"), rcx=SEAMRR_BASE),
                                             op("RCX"))),
    ("TDH.SYS.INFO", "rdx_size"): (lambda m: (info(_after(m(), "lp_init"), rdx=1023), op("RDX"))),
    ("TDH.SYS.INFO", "r8_hpa"): (lambda m: (info(_after(m(), "lp_init"), r8=CMRINFO_PA + 256),
                                            op("R8"))),
    ("TDH.SYS.INFO", "r9_count"): (lambda m: (info(_after(m(), "lp_init"), r9=31), op("R9"))),
    ("TDH.SYS.RD", "lp_init"): (lambda m: (
        _after(m(), "init").call(0, "TDH.SYS.RD", rdx=0x0800000100000004),
        S.TDX_SYS_LP_INIT_NOT_DONE)),
    ("TDH.SYS.RD", "null_field"): (lambda m: (
        _after(m(), "lp_init").call(0, "TDH.SYS.RD", rdx=NULL),
        S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT)),
    ("TDH.SYS.RD", "single_element"): (lambda m: (
        _after(m(), "lp_init").call(0, "TDH.SYS.RD", rdx=0x0800000100000004 | 1 << 34),
        S.TDX_METADATA_FIELD_ID_INCORRECT)),
    ("TDH.SYS.RD", "known_field"): (lambda m: (
        _after(m(), "lp_init").call(0, "TDH.SYS.RD", rdx=0x0800000100000077),
        S.TDX_METADATA_FIELD_ID_INCORRECT)),
    ("TDH.SYS.RDALL", "lp_init"): (lambda m: (
        m().call(0, "TDH.SYS.RDALL", rdx=PAGE_PA, r8=NULL), S.TDX_SYS_LP_INIT_NOT_DONE)),
    ("TDH.SYS.RDALL", "rdx_hpa"): (lambda m: (
        _after(m(), "lp_init").call(0, "TDH.SYS.RDALL", rdx=PAGE_PA + 8, r8=NULL), op("RDX"))),
    ("TDH.SYS.RDALL", "start_field"): (lambda m: (
        _after(m(), "lp_init").call(0, "TDH.SYS.RDALL", rdx=PAGE_PA, r8=0x9900000300000501),
        S.TDX_METADATA_FIELD_ID_INCORRECT)),
    ("TDH.SYS.LP.SHUTDOWN", "global_lock"): (lambda m: (
        _go(_after(m(), "ready"), _held, "TDH.SYS.LP.SHUTDOWN"), S.TDX_SYS_BUSY)),
    ("TDH.SYS.SHUTDOWN", "rcx_hv"): (lambda m: (
        _after(m(), "ready").call(0, "TDH.SYS.SHUTDOWN", rcx=1), op("RCX"))),
    ("TDH.SYS.SHUTDOWN", "global_lock"): (lambda m: (
        _go(_after(m(), "ready"), _held, "TDH.SYS.SHUTDOWN"), S.TDX_SYS_BUSY)),
    ("TDH.SYS.INIT", "arch_capabilities"): (lambda m: (
        _init_with(m, msrs=(_msr(0x10A, 0),)), with_operand(S.TDX_INCORRECT_MSR_VALUE, 0x10A))),
    ("TDH.SYS.INIT", "arch_capabilities_10"): (lambda m: (
        _init_with(m, msrs=(_msr(0x10A, 1 << 21),)),
        with_operand(S.TDX_INCORRECT_MSR_VALUE, 0x10A))),
    ("TDH.SYS.INIT", "perf_capabilities_10"): (lambda m: (   # FULL_WRITE without PERF_METRICS
        _init_with(m, msrs=(_msr(0x345, 1 << 13),)),
        with_operand(S.TDX_INCORRECT_MSR_VALUE, 0x345))),
    ("TDH.SYS.INIT", "xapic_disable"): (lambda m: (
        _init_with(m, msrs=(_msr(0xBD, 0),)), with_operand(S.TDX_INCORRECT_MSR_VALUE, 0xBD))),
    ("TDH.SYS.INIT", "misc_package_ctls"): (lambda m: (
        _init_with(m, msrs=(_msr(0xBC, 0),)), with_operand(S.TDX_INCORRECT_MSR_VALUE, 0xBC))),
    ("TDH.SYS.INIT", "perf_capabilities"): (lambda m: (
        _init_with(m, msrs=(_msr(0x345, 0),)), with_operand(S.TDX_INCORRECT_MSR_VALUE, 0x345))),
    ("TDH.SYS.INIT", "limit_cpuid_maxval"): (lambda m: (
        _init_with(m, msrs=(_msr(0x1A0, 1 << 22),)), S.TDX_LIMIT_CPUID_MAXVAL_SET)),
    ("TDH.SYS.INIT", "cpuid_value"): (lambda m: (
        _init_with(m, cpuid=(LpValue(7, 0, None, reg=1),)), S.TDX_INCORRECT_CPUID_VALUE)),
    ("TDH.SYS.INIT", "tme_algorithm"): (lambda m: (
        _init_with(m, msrs=(_msr(0x982, 0),)), with_operand(S.TDX_INCORRECT_MSR_VALUE, 0x982))),
    ("TDH.SYS.INIT", "hkid_max"): (lambda m: (
        _init_with(m, tdx_keyids=2017), with_operand(S.TDX_NUM_ACTIVATED_HKIDS_NOT_SUPPORTED,
                                                     2048))),
    ("TDH.SYS.INIT", "wbnoinvdp"): (lambda m: (
        _init_with(m, msrs=(_msr(0x99, 1),)), with_operand(S.TDX_INCORRECT_MSR_VALUE, 0x99))),
    ("TDH.SYS.INIT", "smrr_supported"): (lambda m: (
        _init_with(m, msrs=(_msr(0xFE, 0x0A | 1 << 14),)), S.TDX_SMRR_NOT_SUPPORTED)),
    ("TDH.SYS.INIT", "smrr_lock_supported"): (lambda m: (
        _init_with(m, msrs=(_msr(0xFE, 0x0A | 1 << 11),)), S.TDX_SMRR_LOCK_NOT_SUPPORTED)),
    ("TDH.SYS.INIT", "smrr_locked"): (lambda m: (
        _init_with(m, msrs=(_msr(0x1F3, 0),)), S.TDX_SMRR_NOT_LOCKED)),
    ("TDH.SYS.INIT", "smrr_config"): (lambda m: (
        _init_with(m, msrs=(_msr(0x1F3, 0xFF0FF000 | 3 << 10),)),
        S.TDX_INVALID_SMRR_CONFIGURATION)),
    ("TDH.SYS.INIT", "smrr_cmr"): (lambda m: (
        _init_with(m, msrs=(_msr(0x1F2, 0x01000006), _msr(0x1F3, 0xFF000000 | 3 << 10))),
        S.TDX_SMRR_OVERLAPS_CMR)),
    ("TDH.SYS.INIT", "seam_capabilities"): (lambda m: (
        _init_with(m, seamops=(LpValue(0, 0x0F),)), S.TDX_INCOMPATIBLE_SEAM_CAPABILITIES)),
    ("TDH.SYS.LP.INIT", "seam_capabilities"): (lambda m: (
        _lp1_differs(m, seamops=(LpValue(0, 0x3F, frozenset({1})),)),
        S.TDX_INCOMPATIBLE_SEAM_CAPABILITIES)),
    ("TDH.SYS.LP.INIT", "msr_caps"): (lambda m: (
        _lp1_differs(m, msrs=(_msr(0xCF, 1, {1}),)), with_operand(S.TDX_INCONSISTENT_MSR, 0xCF))),
    ("TDH.SYS.LP.INIT", "limit_cpuid_maxval"): (lambda m: (
        _lp1_differs(m, msrs=(_msr(0x1A0, 1 << 22, {1}),)), S.TDX_LIMIT_CPUID_MAXVAL_SET)),
    ("TDH.SYS.LP.INIT", "cpuid_same"): (lambda m: (
        _lp1_differs(m, cpuid=(LpValue(4, 1, frozenset({1}), reg=0),)),
        S.TDX_INCONSISTENT_CPUID_FIELD)),
    ("TDH.SYS.LP.INIT", "msr_tsc_adjust"): (lambda m: (
        _lp1_differs(m, msrs=(_msr(0x3B, 5, {1}),)), with_operand(S.TDX_INCONSISTENT_MSR, 0x3B))),
    ("TDH.SYS.LP.INIT", "msr_caps_10"): (lambda m: (
        _lp1_differs(m, msrs=(_msr(0xCF, 1, {1}),)), with_operand(S.TDX_INCONSISTENT_MSR, 0xCF))),
    ("TDH.SYS.LP.INIT", "msr_smrr"): (lambda m: (
        _lp1_differs(m, msrs=(_msr(0x1F2, 0x1000, {1}),)),
        with_operand(S.TDX_INCONSISTENT_MSR, 0x1F2))),
    ("TDH.SYS.LP.INIT", "msr_vmx"): (lambda m: (
        _lp1_differs(m, msrs=(_msr(0x480, 0, {1}),)), with_operand(S.TDX_INCONSISTENT_MSR, 0x480))),
    ("TDH.SYS.LP.INIT", "msr_perf"): (lambda m: (
        _lp1_differs(m, msrs=(_msr(0x345, 1 << 13 | 1, {1}),)),
        with_operand(S.TDX_INCONSISTENT_MSR, 0x345))),
    ("TDH.SYS.LP.INIT", "seamreport_10"): (lambda m: (      # SEAMOPS: CAPABILITIES leaf only
        _lp1_differs(m, seamops=(LpValue(0, 0x01, frozenset({1})),)),
        S.TDX_SEAMREPORT_NOT_AVAILABLE)),
    ("TDH.SYS.LP.INIT", "perf_capabilities_10"): (lambda m: (   # no PERF_METRICS on LP 1
        _lp1_differs(m, msrs=(_msr(0x345, 1 << 13, {1}),)),
        with_operand(S.TDX_INCORRECT_MSR_VALUE, 0x345))),
    ("TDH.SYS.LP.INIT", "msr_keys"): (lambda m: (
        _lp1_differs(m, msrs=(_msr(0x98, 0x41, {1}), _msr(0x99, 0x41, {1}))),
        with_operand(S.TDX_INCONSISTENT_MSR, 0x98))),
    ("TDH.SYS.INIT", "canary_rdrand"): (lambda m: (
        m(injector="leaf=TDH.SYS.INIT:status=TDX_SYS_BUSY,at=canary_rdrand").call(
            0, "TDH.SYS.INIT"), S.TDX_SYS_BUSY)),
    ("TDH.SYS.LP.INIT", "lfsr_rdrand"): (lambda m: (
        _after(m(injector="leaf=TDH.SYS.LP.INIT:status=TDX_SYS_BUSY,at=lfsr_rdrand"), "init")
        .call(0, "TDH.SYS.LP.INIT"), S.TDX_SYS_BUSY)),
    ("TDH.SYS.UPDATE", "global_lock"): (lambda m: (
        _go(_after(m(), "lp_init"), _held, "TDH.SYS.UPDATE"), S.TDX_SYS_BUSY)),
    ("TDH.SYS.UPDATE", "state"): (lambda m: (
        m().call(0, "TDH.SYS.UPDATE"), S.TDX_SYS_STATE_INCORRECT)),
    ("TDH.SYS.UPDATE", "handoff"): (lambda m: (
        _after(m(), "lp_init").call(0, "TDH.SYS.UPDATE"), S.TDX_SYS_INVALID_HANDOFF)),
    ("TDH.PHYMEM.PAGE.RDMD", "rcx_addr"): (lambda m: (
        _after(m(), "ready").call(0, "TDH.PHYMEM.PAGE.RDMD", rcx=0x1800), op("RCX"))),
    ("TDH.PHYMEM.PAGE.RDMD", "rcx_pamt"): (lambda m: (
        _after(m(), "ready").call(0, "TDH.PHYMEM.PAGE.RDMD", rcx=0x1000),
        with_operand(S.TDX_OPERAND_ADDR_RANGE_ERROR, "RCX"))),
    ("TDH.PHYMEM.PAGE.RDMD", "pamt_lock"): (lambda m: (
        _pamt_ready(m(injector="leaf=TDH.PHYMEM.PAGE.RDMD:status=TDX_OPERAND_BUSY")).call(
            0, "TDH.PHYMEM.PAGE.RDMD", rcx=0x1000), with_operand(S.TDX_OPERAND_BUSY, "RCX"))),
    ("TDH.PHYMEM.PAGE.RECLAIM", "rcx_addr"): (lambda m: (
        _after(m(), "ready").call(0, "TDH.PHYMEM.PAGE.RECLAIM", rcx=1 << 52), op("RCX"))),
    ("TDH.PHYMEM.PAGE.RECLAIM", "rcx_pamt"): (lambda m: (
        _pamt_ready(m()).call(0, "TDH.PHYMEM.PAGE.RECLAIM", rcx=2 * GiB),
        with_operand(S.TDX_OPERAND_ADDR_RANGE_ERROR, "RCX"))),
    ("TDH.PHYMEM.PAGE.RECLAIM", "pamt_lock"): (lambda m: (
        _pamt_ready(m(injector="leaf=TDH.PHYMEM.PAGE.RECLAIM:status=TDX_OPERAND_BUSY(RCX)"))
        .call(0, "TDH.PHYMEM.PAGE.RECLAIM", rcx=0x1000), with_operand(S.TDX_OPERAND_BUSY, "RCX"))),
    ("TDH.PHYMEM.PAGE.RECLAIM", "page_type"): (lambda m: (
        _pamt_ready(m()).call(0, "TDH.PHYMEM.PAGE.RECLAIM", rcx=0x1000),
        with_operand(S.TDX_PAGE_METADATA_INCORRECT, "RCX"))),
    ("TDH.PHYMEM.CACHE.WB", "rcx_cmd"): (lambda m: (
        _after(m(), "ready").call(0, "TDH.PHYMEM.CACHE.WB", rcx=2), op("RCX"))),
    ("TDH.PHYMEM.CACHE.WB", "wbt_lock"): (lambda m: (
        _after(m(injector="leaf=TDH.PHYMEM.CACHE.WB:status=TDX_OPERAND_BUSY"), "ready").call(
            0, "TDH.PHYMEM.CACHE.WB"), with_operand(S.TDX_OPERAND_BUSY, "WBCACHE"))),
    ("TDH.PHYMEM.CACHE.WB", "kot_lock"): (lambda m: (
        _after(m(injector="leaf=TDH.PHYMEM.CACHE.WB:status=TDX_OPERAND_BUSY(KOT)"), "ready")
        .call(0, "TDH.PHYMEM.CACHE.WB"), with_operand(S.TDX_OPERAND_BUSY, "KOT"))),
    ("TDH.PHYMEM.CACHE.WB", "hkid_ready"): (lambda m: (
        _after(m(), "ready").call(0, "TDH.PHYMEM.CACHE.WB", rcx=0),
        S.TDX_NO_HKID_READY_TO_WBCACHE)),
    ("TDH.PHYMEM.CACHE.WB", "resume_point"): (lambda m: (
        _after(m(), "ready").call(0, "TDH.PHYMEM.CACHE.WB", rcx=1), S.TDX_WBCACHE_RESUME_ERROR)),
    ("TDH.PHYMEM.PAGE.WBINVD", "rcx_addr"): (lambda m: (
        _pamt_ready(m()).call(0, "TDH.PHYMEM.PAGE.WBINVD", rcx=0x1008), op("RCX"))),
    ("TDH.PHYMEM.PAGE.WBINVD", "rcx_pamt"): (lambda m: (
        _after(m(), "ready").call(0, "TDH.PHYMEM.PAGE.WBINVD", rcx=0x1000),
        with_operand(S.TDX_OPERAND_ADDR_RANGE_ERROR, "RCX"))),
    ("TDH.PHYMEM.PAGE.WBINVD", "pamt_lock"): (lambda m: (
        _pamt_ready(m(injector="leaf=TDH.PHYMEM.PAGE.WBINVD:status=TDX_OPERAND_BUSY")).call(
            0, "TDH.PHYMEM.PAGE.WBINVD", rcx=0x1000), with_operand(S.TDX_OPERAND_BUSY, "RCX"))),
    ("TDH.PHYMEM.PAGE.WBINVD", "page_type"): (lambda m: (
        _pamt_ready(m()).call(0, "TDH.PHYMEM.PAGE.WBINVD", rcx=SEAMRR_BASE),
        with_operand(S.TDX_PAGE_METADATA_INCORRECT, "RCX"))),
    ("SEAMLDR.INFO", "rcx_hpa"): (lambda m: (
        m().call(0, "SEAMLDR.INFO", rcx=PAGE_PA + 128), L.PSEAMLDR_EBADPARAM)),
    ("SEAMLDR.INSTALL", "lp_again"): (lambda m: (
        _twice(_loader_bench(m), "SEAMLDR.INSTALL"), L.PSEAMLDR_EBADCALL)),
    ("SEAMLDR.INSTALL", "not_last"): (lambda m: (
        _install(_loader_bench(m), 0), L.PSEAMLDR_SUCCESS)),
    ("SEAMLDR.INSTALL", "params_hpa"): (lambda m: (
        _install_hpa(m), L.PSEAMLDR_EBADPARAM)),
    ("SEAMLDR.INSTALL", "params_version"): (lambda m: (
        _install_last(m, _params(version=1)), L.PSEAMLDR_EBADPARAM)),
    ("SEAMLDR.INSTALL", "params_reserved"): (lambda m: (
        _install_last(m, _bad_reserved_params()), L.PSEAMLDR_EBADPARAM)),
    ("SEAMLDR.INSTALL", "params_scenario"): (lambda m: (
        _install_last(m, _params(scenario=2)), L.PSEAMLDR_EBADPARAM)),
    ("SEAMLDR.INSTALL", "params_pages"): (lambda m: (
        _install_last(m, _params(num_module_pages=497)), L.PSEAMLDR_EBADPARAM)),
    ("SEAMLDR.INSTALL", "page_hpa"): (lambda m: (
        _install_last(m, _params(pages=[0x131000, SEAMRR_BASE])), L.PSEAMLDR_EBADPARAM)),
    ("SEAMLDR.INSTALL", "sigstruct_hpa"): (lambda m: (
        _install_last(m, _params(sigstruct_pa=0x130010)), L.PSEAMLDR_EBADPARAM)),
    ("SEAMLDR.INSTALL", "update_no_module"): (lambda m: (
        _install_last(m, _params(scenario=1), abi=None), L.PSEAMLDR_EBADPARAM)),
    ("SEAMLDR.INSTALL", "aslr_entropy"): (lambda m: (
        _install_last(m, _params(), injector="leaf=SEAMLDR.INSTALL,lp=1:status="
                                             "PSEAMLDR_ENOENTROPY"), L.PSEAMLDR_ENOENTROPY)),
}
for _check in CONFIG_CASES:
    SCENARIOS[("TDH.SYS.CONFIG", _check)] = _config_case(_check)
SCENARIOS[("TDH.SYS.RDALL", "list_overflow")] = None        # needs monkeypatch; see below


def _cases():
    for spec in all_leaf_specs():
        for check in spec.checks:
            for abi in spec.generations:
                if abi in check.abi:
                    yield pytest.param(spec.name, check.id, abi, id=f"{spec.name}:{check.id}:{abi}")


@pytest.mark.parametrize("leaf, check_id, abi", list(_cases()))
def test_check_drives_its_status(leaf, check_id, abi, make_bench, monkeypatch):
    spec = next(s for s in all_leaf_specs() if s.name == leaf)
    if (leaf, check_id) == ("TDH.SYS.RDALL", "list_overflow"):
        monkeypatch.setattr(sys_rd, "RDALL_BUFFER_SIZE", 256)
        b = _after(make_bench(abi), "lp_init")
        reply, expected = b.call(0, "TDH.SYS.RDALL", rdx=PAGE_PA, r8=NULL), \
            S.TDX_METADATA_LIST_OVERFLOW
    else:
        scenario = SCENARIOS[(leaf, check_id)]
        reply, expected = scenario(lambda abi_=abi, **kw: make_bench(
            kw.pop("abi", abi_), **kw))
    record = reply.record if hasattr(reply, "record") else reply
    assert record.status == expected, record.status_name
    assert record.checks and record.checks[-1] == check_id, record.checks
    assert record.leaf_name == leaf
    keys = [spec.order_key(c) for c in dict.fromkeys(record.checks)]
    assert keys == sorted(keys), f"checks ran out of the spec's order: {record.checks}"


def test_every_check_has_a_scenario():
    missing = [(s.name, c.id) for s in all_leaf_specs() for c in s.checks
               if (s.name, c.id) not in SCENARIOS]
    assert missing == []


def test_explain_lists_checks_in_order_with_statuses():
    from seamemu.model import leaf_spec
    lines = leaf_spec("TDH.SYS.INFO").explain_lines()
    text = "\n".join(lines)
    assert "RCX is not a 1024-byte-aligned shared HPA -> TDX_OPERAND_INVALID(RCX)" in text
    order = [text.index(c.text) for c in leaf_spec("TDH.SYS.INFO").checks]
    assert order == sorted(order)
    assert "admitted before SYS_READY: yes" in text
    assert "TDX_INVALID_PAMT(tdmr=i, pamt=size)" in "\n".join(
        leaf_spec("tdh_sys_config").explain_lines())
    assert "admitted before SYS_READY: no" in "\n".join(
        leaf_spec("TDH.SYS.TDMR.INIT").explain_lines())


def test_leaf_spec_lookup_errors_name_the_leaf():
    from seamemu.errors import InputError
    from seamemu.model import leaf_spec
    with pytest.raises(InputError, match=r"TDH\.MNG\.CREATE"):
        leaf_spec("TDH.MNG.CREATE")
    assert leaf_spec(45).name == "TDH.SYS.CONFIG"
    assert leaf_spec("SEAMLDR.INSTALL").loader
