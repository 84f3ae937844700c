# SPDX-License-Identifier: MIT
"""What TDH.SYS.INIT requires of the platform and TDH.SYS.LP.INIT compares between LPs.

TDH.SYS.INIT checks the values on its own LP (MSR bits, CPUID verify masks, SMRR, SEAMOPS
capabilities, the KeyID configuration) and keeps them; TDH.SYS.LP.INIT reads them again on
each LP and refuses an LP that differs (TDX_INCONSISTENT_MSR with the MSR's address as the
operand, TDX_INCONSISTENT_CPUID_FIELD, TDX_INCOMPATIBLE_SEAM_CAPABILITIES).

Spec: intel/tdx-module TDX_1.5.01 (72d8cff) src/vmm_dispatcher/api_calls/tdh_sys_init.c
(check_msrs, check_key_management_config, check_and_store_smrr_smrr2,
is_td_preserving_available), tdh_sys_lp_init.c (check_msrs, compare_cpuid_configuration,
check_smrr_smrr2_config, compare_vmx_msrs, compare_key_management_config),
src/common/helpers/virt_msr_helpers.h (check_native_ia32_arch_capabilities),
src/common/accessors/vt_accessors.h (TD_PRESERVING_CAPABILITIES), tdx_global_data.h (MAX_HKIDS);
qizhangz/tdx-module (TDX 1.0) the same two files.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from seamemu.arch import msrs as m


def _bits(*positions: int) -> int:
    return sum(1 << p for p in positions)


# IA32_ARCH_CAPABILITIES bits that must be 1 and bits that must be 0 on TDH.SYS.INIT's LP.
# 1.5: RDCL_NO, IBRS_ALL, SKIP_L1DFL_VMENTRY, MDS_NO, IF_PSCHANGE_MC_NO, TAA_NO,
# MISC_PACKAGE_CTLS, ENERGY_FILTERING_CTL, DOITM, SBDR_SSDP_NO, FBSDP_NO, PSDP_NO,
# XAPIC_DISABLE_STATUS set and RSBA clear.  1.0 (tdh_sys_init.c check_msrs): the first eight.
ARCH_CAPABILITIES_REQUIRED: Mapping[str, tuple[int, int]] = MappingProxyType({
    "1.0": (_bits(0, 1, 3, 5, 6, 8, 10, 11), 0),
    "1.5": (_bits(0, 1, 3, 5, 6, 8, 10, 11, 12, 13, 14, 15, 21), _bits(2)),
})
# 2.0 (intel/tdx-module 1666adc) is checked with the 1.5 values here and in LP_MSR_VMX: not
# re-read there (arch.module_versions lists it among the 2.0.08 profile's guesses).
ARCH_CAPABILITIES_REQUIRED = MappingProxyType(
    {**ARCH_CAPABILITIES_REQUIRED, "2.0": ARCH_CAPABILITIES_REQUIRED["1.5"]})
MISC_ENABLE_LIMIT_CPUID_MAXVAL = 1 << 22      # MISC_EN_BOOT_NT4_BIT
PERF_CAPABILITIES_FULL_WRITE = 1 << 13
# TDX 1.0 also wants PERF_METRICS_AVAILABLE (qizhangz/tdx-module 9359de5 helpers.h check_perf_msrs,
# msr_defs.h ia32_perf_capabilities_t bit 15); 1.5.01's tdh_sys_init.c check_msrs only FULL_WRITE.
PERF_CAPABILITIES_PERF_METRICS = 1 << 15
MAX_HKIDS = 2048
# SEAMOPS leaves SEAMDB_GETREF (4) and SEAMDB_REPORT (5): what TD preserving (updates) needs.
TD_PRESERVING_CAPABILITIES = _bits(4, 5)
SEAMOPS_SEAMVERIFYREPORT = 1 << 6
# TDX 1.0's TDH.SYS.LP.INIT wants SEAMREPORT (qizhangz/tdx-module 9359de5 vmcs_defs.h
# seam_ops_capabilities_t bit 1; tdh_sys_lp_init.c is_seamreport_available).
SEAMOPS_SEAMREPORT = 1 << 1

# TME_CAPABILITY / TME_ACTIVATE bits check_mem_enc_alg reads (msr_defs.h).
TME_ACTIVATE_LOCK = 1 << 0
TME_CAP_AES_XTS_128, TME_CAP_AES_XTS_128_INTEGRITY = 1 << 0, 1 << 1
TME_CAP_AES_XTS_256, TME_CAP_AES_XTS_256_INTEGRITY = 1 << 2, 1 << 3
TME_ACT_AES_XTS_128, TME_ACT_AES_XTS_128_INTEGRITY = 1 << 48, 1 << 49
TME_ACT_AES_XTS_256, TME_ACT_AES_XTS_256_INTEGRITY = 1 << 50, 1 << 51

# MTRRCAP and SMRR bits (smrrs.h).
MTRRCAP_SMRR, MTRRCAP_SMRR2, MTRRCAP_SMRR_LOCK = 1 << 11, 1 << 13, 1 << 14
SMRR_MASK_LOCK, SMRR_MASK_VALID = 1 << 10, 1 << 11

# The MSR groups TDH.SYS.LP.INIT compares with TDH.SYS.INIT's LP, each in the module's order.
LP_MSR_CAPS = (m.IA32_CORE_CAPABILITIES, m.IA32_ARCH_CAPABILITIES, m.IA32_MISC_PACKAGE_CTLS,
               m.IA32_XAPIC_DISABLE_STATUS)                                    # 1.5 check_msrs
LP_MSR_CAPS_10 = (m.IA32_TSC_ADJUST, m.IA32_CORE_CAPABILITIES, m.IA32_ARCH_CAPABILITIES)
LP_MSR_SMRR = (m.IA32_MTRRCAP, m.IA32_SMRR_PHYSBASE, m.IA32_SMRR_PHYSMASK)
LP_MSR_SMRR2 = (m.IA32_SMRR2_PHYSBASE, m.IA32_SMRR2_PHYSMASK)   # when MTRRCAP.SMRR2 is set
LP_MSR_VMX: Mapping[str, tuple[int, ...]] = MappingProxyType({
    "1.0": (m.IA32_VMX_BASIC, m.IA32_VMX_TRUE_PINBASED_CTLS, m.IA32_VMX_TRUE_PROCBASED_CTLS,
            m.IA32_VMX_PROCBASED_CTLS2, m.IA32_VMX_PROCBASED_CTLS3, m.IA32_VMX_TRUE_EXIT_CTLS,
            m.IA32_VMX_TRUE_ENTRY_CTLS, m.IA32_VMX_EPT_VPID_CAP, m.IA32_VMX_CR0_FIXED0,
            m.IA32_VMX_CR0_FIXED1, m.IA32_VMX_CR4_FIXED0, m.IA32_VMX_CR4_FIXED1),
    "1.5": (m.IA32_VMX_BASIC, m.IA32_VMX_TRUE_PINBASED_CTLS, m.IA32_VMX_TRUE_PROCBASED_CTLS,
            m.IA32_VMX_PROCBASED_CTLS2, m.IA32_VMX_PROCBASED_CTLS3, m.IA32_VMX_TRUE_EXIT_CTLS,
            m.IA32_VMX_TRUE_ENTRY_CTLS, m.IA32_VMX_MISC, m.IA32_VMX_EPT_VPID_CAP,
            m.IA32_VMX_CR0_FIXED0, m.IA32_VMX_CR0_FIXED1, m.IA32_VMX_CR4_FIXED0,
            m.IA32_VMX_CR4_FIXED1),
})
LP_MSR_VMX = MappingProxyType({**LP_MSR_VMX, "2.0": LP_MSR_VMX["1.5"]})
LP_MSR_KEYS = (m.IA32_TME_CAPABILITY, m.IA32_TME_ACTIVATE, m.IA32_MKTME_KEYID_PARTITIONING,
               m.IA32_WBINVDP, m.IA32_WBNOINVDP)
# Every MSR TDH.SYS.INIT keeps for the comparisons.
SAMPLED_MSRS = tuple(sorted(set(LP_MSR_CAPS + LP_MSR_CAPS_10 + LP_MSR_SMRR + LP_MSR_SMRR2 +
                                LP_MSR_VMX["1.5"] + LP_MSR_KEYS +
                                (m.IA32_PERF_CAPABILITIES, m.IA32_TSC_ADJUST))))

__all__ = [
    "ARCH_CAPABILITIES_REQUIRED",
    "LP_MSR_CAPS",
    "LP_MSR_CAPS_10",
    "LP_MSR_KEYS",
    "LP_MSR_SMRR",
    "LP_MSR_SMRR2",
    "LP_MSR_VMX",
    "MAX_HKIDS",
    "MISC_ENABLE_LIMIT_CPUID_MAXVAL",
    "MTRRCAP_SMRR",
    "MTRRCAP_SMRR2",
    "MTRRCAP_SMRR_LOCK",
    "PERF_CAPABILITIES_FULL_WRITE",
    "PERF_CAPABILITIES_PERF_METRICS",
    "SAMPLED_MSRS",
    "SEAMOPS_SEAMREPORT",
    "SEAMOPS_SEAMVERIFYREPORT",
    "SMRR_MASK_LOCK",
    "SMRR_MASK_VALID",
    "TD_PRESERVING_CAPABILITIES",
    "TME_ACTIVATE_LOCK",
    "TME_ACT_AES_XTS_128",
    "TME_ACT_AES_XTS_128_INTEGRITY",
    "TME_ACT_AES_XTS_256",
    "TME_ACT_AES_XTS_256_INTEGRITY",
    "TME_CAP_AES_XTS_128",
    "TME_CAP_AES_XTS_128_INTEGRITY",
    "TME_CAP_AES_XTS_256",
    "TME_CAP_AES_XTS_256_INTEGRITY",
]
