# SPDX-License-Identifier: MIT
"""Per-LP initial MSR values a platform implies (and its SEAMOPS answer), and which writes the
CPU refuses.

Data for the RDMSR/WRMSR trap: `msr_values(platform, lp)` is what RDMSR reads on each LP at
boot, and `wrmsr_fault()` says why a WRMSR raises #GP(0) (read-only MSR, or the MSR's lock bit
is set).  Layouts and access classes come from seamemu.arch.msrs; values derive from the
platform (SEAMRR per LP, present only where MTRRcap reports it; KeyIDs).  The VMX capability
values are those of one illustrative VMX-capable part: the layouts are facts, the values are
this platform's choice.
"""

from __future__ import annotations

from collections.abc import Mapping

from seamemu.arch import msrs as m
from seamemu.platform.facts import Platform

# MTRRcap without the SEAMRR bit: 10 variable MTRRs, FIX, WC, SMRR, PRMRR, SMRR_LOCK.
# Spec: intel/tdx-module src/common/helpers/smrrs.h (field positions); the module requires
# SMRR and SMRR_LOCK (tdh_sys_init.c check_and_store_smrr_smrr2).
_MTRRCAP_BASE = 0x0A | (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 14)

# IA32_VMX_BASIC: revision 4, 1 KiB VMCS, WB (6) VMCS memory type, INS/OUTS info (54), TRUE
# controls (55), no-error-code delivery (56).  TDH.SYS.INIT requires bits 54 and 55 (M15
# tdh_sys_init.c check_vmx_msrs).
_VMX_BASIC = 0x4 | (0x400 << 32) | (6 << 50) | (1 << 54) | (1 << 55) | (1 << 56)

# IA32_VMX_MISC: TSC factor 5, unrestricted guest, HLT/shutdown/wait-for-SIPI, PT in VMX,
# 4 CR3 targets, VMWRITE to any field: the bits check_vmx_msrs insists on, plus the usual.
_VMX_MISC = (5 | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 14) | (4 << 16) | (1 << 29))

# Allowed-0/allowed-1 control settings as one Intel part reports them (values dumped by
# jasonliu96/linux cmpe283/MODULE_OUTPUT.md and devanshudighe/CMPE283 README.md); the TRUE_*
# variants let the default-1 controls (CR3 exiting, save/load debug controls) be cleared.
# The TRUE_* allowed-1 halves, PROCBASED_CTLS2/3 and EPT_VPID_CAP admit every control TDX
# module 1.5 sets or varies (intel/tdx-module src/common/x86_defs/vmcs_defs.h
# td_vmcs_ctl_values_e / td_l2_vmcs_ctl_values_e, IA32_VMX_EPT_VPID_CAP_MASK, checked by
# tdh_sys_init.c check_vmx_msrs()/check_l2_vmx_msrs()).
_VMX_FIXED: dict[int, int] = {
    m.IA32_VMX_PINBASED_CTLS: 0x0000003F00000016,
    m.IA32_VMX_PROCBASED_CTLS: 0xFFF9FFFE0401E172,
    m.IA32_VMX_EXIT_CTLS: 0x01FFFFFF00036DFF,
    m.IA32_VMX_ENTRY_CTLS: 0x0003FFFF000011FF,
    m.IA32_VMX_MISC: _VMX_MISC,
    m.IA32_VMX_CR0_FIXED0: 0x0000000080000021,   # PE, NE, PG must be 1 in VMX operation
    m.IA32_VMX_CR0_FIXED1: 0x00000000FFFFFFFF,
    m.IA32_VMX_CR4_FIXED0: 0x0000000000002000,   # CR4.VMXE must be 1
    m.IA32_VMX_CR4_FIXED1: 0x0000000003FF7FFF,   # CR4 bits 0-14 and 16-25 may be 1
    m.IA32_VMX_VMCS_ENUM: 0x000000000000005C,
    m.IA32_VMX_PROCBASED_CTLS2: 0xFFFFFFFF00000000,
    m.IA32_VMX_EPT_VPID_CAP: 0x00000F0106F34141 | 0x10106334041,
    m.IA32_VMX_TRUE_PINBASED_CTLS: 0x000000FF00000016,
    m.IA32_VMX_TRUE_PROCBASED_CTLS: 0xFFFFFFFF04006172,
    m.IA32_VMX_TRUE_EXIT_CTLS: 0xFFFFFFFF00036DFB,
    m.IA32_VMX_TRUE_ENTRY_CTLS: 0xFFFFFFFF000011FB,
    m.IA32_VMX_VMFUNC: 0x0000000000000001,
    m.IA32_VMX_PROCBASED_CTLS3: 0x00000000000000FF,
}

# What the TDX module samples in TDH.SYS.INIT and compares in TDH.SYS.LP.INIT, as a sound BIOS
# leaves it: every value passes the module's checks (intel/tdx-module TDX_1.5.01 tdh_sys_init.c
# check_msrs / check_key_management_config, virt_msr_helpers.h
# check_native_ia32_arch_capabilities).  The exact values are this platform's choice; the file's
# [smrr] and [[msr]] entries replace them.
_ARCH_CAPABILITIES = sum(1 << b for b in (0, 1, 3, 5, 6, 8, 10, 11, 12, 13, 14, 15, 21))
_CACHE_SUB_BLOCKS = 0x40            # IA32_WBINVDP / IA32_WBNOINVDP: any equal pair passes
_MODULE_SAMPLED: dict[int, int] = {
    m.IA32_TSC_ADJUST: 0,
    m.IA32_SPEC_CTRL: 0,                            # the dispatcher saves and sets it
    m.IA32_WBINVDP: _CACHE_SUB_BLOCKS,
    m.IA32_WBNOINVDP: _CACHE_SUB_BLOCKS,
    m.IA32_MISC_PACKAGE_CTLS: 1,                    # ENERGY_FILTERING_ENABLE
    m.IA32_XAPIC_DISABLE_STATUS: 1,                 # LEGACY_XAPIC_DISABLED
    m.IA32_CORE_CAPABILITIES: 0,
    m.IA32_ARCH_CAPABILITIES: _ARCH_CAPABILITIES,
    m.IA32_MISC_ENABLE: 0x850089,                   # LIMIT_CPUID_MAXVAL (bit 22) clear
    m.IA32_SMRR_PHYSBASE: 0,
    m.IA32_SMRR_PHYSMASK: 1 << 10,                  # locked, no valid range ([smrr] sets one)
    m.IA32_PERF_CAPABILITIES: 1 << 13 | 1 << 15,    # FULL_WRITE, PERF_METRICS (1.0 needs both)
}
# SEAMOPS(CAPABILITIES): leaves 0 (CAPABILITIES) to 6 (SEAMVERIFYREPORT) supported.  Spec:
# intel/tdx-module src/common/accessors/vt_accessors.h SEAMOPS_*_LEAF.
SEAMOPS_ALL_LEAVES = 0x7F


def _tme_values(p: Platform) -> tuple[int, int]:
    """IA32_TME_CAPABILITY and IA32_TME_ACTIVATE for the platform's KeyID split."""
    algs = 0xF  # AES-XTS-128/256, with and without integrity
    cap = algs | (p.keyid_bits << 32) | (((1 << p.keyid_bits) - 1) << 36)
    if p.keyid_bits == 0:
        return cap, 1  # locked, TME off
    # TDX KeyIDs take the top of the KeyID space: the smallest power of two holding them.
    tdx_bits = (p.tdx_keyids - 1).bit_length() if p.tdx_keyids else 0
    act = (1 | 2 | (p.keyid_bits << 32) | (tdx_bits << 36) | (1 << 48) | (1 << 49))
    return cap, act


def msr_values(platform: Platform, lp: int) -> dict[int, int]:
    """RDMSR values on `lp` right after boot (the BIOS has programmed and locked everything)."""
    if not 0 <= lp < platform.num_lps:
        raise ValueError(f"LP {lp} does not exist (LPs are 0..{platform.num_lps - 1})")
    cap, act = _tme_values(platform)
    values = {
        m.IA32_FEATURE_CONTROL: m.FEATURE_CONTROL_LOCKED | m.FEATURE_CONTROL_VMX_OUTSIDE_SMX,
        m.IA32_MKTME_KEYID_PARTITIONING: m.keyid_partitioning(platform.mktme_keyids,
                                                              platform.tdx_keyids),
        m.IA32_MTRRCAP: _MTRRCAP_BASE | (m.MTRRCAP_SEAMRR if platform.mtrrcap_seamrr else 0),
        m.IA32_VMX_BASIC: _VMX_BASIC,
        **_VMX_FIXED,
        m.IA32_TME_CAPABILITY: cap,
        m.IA32_TME_ACTIVATE: act,
        **_MODULE_SAMPLED,
    }
    # Without IA32_MTRRCAP.SEAMRR the SEAMRR MSRs do not exist: RDMSR of them raises #GP(0)
    # (the 2022 detection read MTRRCAP first for exactly that reason).
    if platform.mtrrcap_seamrr and platform.seamrr:
        seamrr = platform.seamrr_of(lp)
        values[m.IA32_SEAMRR_PHYS_BASE] = seamrr.base_msr
        values[m.IA32_SEAMRR_PHYS_MASK] = seamrr.mask_msr
    for entry in platform.msrs:                     # [smrr] then [[msr]], later ones win
        if entry.applies(lp):
            values[entry.key] = entry.value
    return dict(sorted(values.items()))


def seamops_capabilities(platform: Platform, lp: int) -> int:
    """What SEAMOPS(CAPABILITIES) answers on `lp`: a bitmap of the SEAMOPS leaves the CPU has."""
    caps = SEAMOPS_ALL_LEAVES
    for entry in platform.seamops:
        if entry.applies(lp):
            caps = entry.value
    return caps


READ_ONLY_MSRS: frozenset[int] = frozenset(s.number for s in m.MSRS if s.access == m.ACCESS_RO)
# MSR -> (MSR holding its lock bit, bit number): once that bit reads 1, WRMSR raises #GP(0).
LOCK_PROTECTED: dict[int, tuple[int, int]] = {s.number: s.lock for s in m.MSRS if s.lock}


def rdmsr_fault(values: Mapping[int, int], msr: int) -> str | None:
    """Why RDMSR of `msr` raises #GP(0) on an LP holding `values`, or None if it reads."""
    if msr in values:
        return None
    return f"{m.msr_name(msr)} (0x{msr:x}) is not implemented on this platform"


def wrmsr_fault(values: Mapping[int, int], msr: int, value: int) -> str | None:
    """Why WRMSR of `value` to `msr` raises #GP(0) on an LP holding `values`, or None."""
    if msr not in values:
        return f"{m.msr_name(msr)} (0x{msr:x}) is not implemented on this platform"
    if msr in READ_ONLY_MSRS:
        return f"{m.msr_name(msr)} is read-only"
    lock = LOCK_PROTECTED.get(msr)
    if lock and values.get(lock[0], 0) >> lock[1] & 1:
        return f"{m.msr_name(msr)} is locked ({m.msr_name(lock[0])} bit {lock[1]} is set)"
    if msr == m.IA32_SEAMRR_PHYS_BASE or msr == m.IA32_SEAMRR_PHYS_MASK:
        spec = m.MSR_BY_NUMBER[msr]
        allowed = 0
        for f in spec.fields:
            allowed |= f.mask
        if value & ~allowed:
            return f"{m.msr_name(msr)}: reserved bits set in 0x{value:016x}"
    return None


__all__ = ["LOCK_PROTECTED", "READ_ONLY_MSRS", "SEAMOPS_ALL_LEAVES", "msr_values", "rdmsr_fault",
           "seamops_capabilities", "wrmsr_fault"]
