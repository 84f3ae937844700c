# SPDX-License-Identifier: MIT
"""TDH.SYS.INIT (33) and TDH.SYS.LP.INIT (35): global and per-LP initialisation, with the
platform checks the module makes on the way (the platform file's MSRs, CPUID, SMRR, SEAMOPS
capabilities and KeyIDs: model/platform_checks.py).

Spec: intel/tdx-module TDX_1.5.01 src/vmm_dispatcher/api_calls/tdh_sys_init.c (tdh_sys_init:
lock, RCX, state, check_platform_config_and_cpu_enumeration = check_msrs,
check_cpuid_configurations, check_vmx_msrs, check_key_management_config, check_cmrs,
check_and_store_smrr_smrr2; then is_td_preserving_available, check_module_build_time_defs,
tdx_init_stack_canary) and tdh_sys_lp_init.c (lock, state, lp_is_init, lfsr_init_seed, SEAM
capabilities, check_enumeration_and_compare_configuration); qizhangz/tdx-module the same paths
(TDX 1.0: BOOT_NT4 first, check_msrs after the key management and with check_perf_msrs (FULL_WRITE
and PERF_METRICS_AVAILABLE), which TDH.SYS.LP.INIT repeats; LP.INIT's only SEAM-capability check
is SEAMREPORT; RDRAND failures answer TDX_SYS_BUSY).  Not modelled: the VMX-capability value
checks (the platform's VMX MSRs always pass them), the CPUID leaf-specific checks (leaves 0xA,
0xD, 0x15, 0x1F ...), TSX_CTRL handling (1.0 refuses RTM_ENABLE or TSX_CPUID_CLEAR when
ARCH_CAPABILITIES.TSX_CTRL is set) and check_module_build_time_defs
(TDX_SYS_INCOMPATIBLE_SIGSTRUCT).
TDX 2.0 (intel/tdx-module 1666adc tdh_sys_init.c tdh_sys_init(version)): the dispatcher lets
TDH.SYS.INIT have a version; above 1 it answers TDX_OPERAND_INVALID(RAX) before the lock;
RCX must be 0 whole; version 1 takes a fatal-error diagnostics configuration in R8
(fatal_info.h fatal_error_config_t), checked last (configure_fatal_info_diagnostics), whose
failure is TDX_OPERAND_INVALID(R8).  The TPA bit of ATTRIBUTES_FIXED0 follows TDX-IO, which
the modelled platforms lack (arch.module_versions).  What version 1's configuration does
afterwards (logging on a fatal error, the notification IPI) is not modelled.
"""

from __future__ import annotations

from seamemu.arch import msrs as m
from seamemu.arch import platform_checks as pc
from seamemu.arch.leaves import V15, V20
from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_operand
from seamemu.model import platform_checks as P
from seamemu.model.context import Call
from seamemu.model.leaf_spec import Check, global_lock_check, leaf, operand_check
from seamemu.model.module_state import SysState

V10 = ("1.0",)
OP_RAX = with_operand(S.TDX_OPERAND_INVALID, "RAX")
OP_R8 = with_operand(S.TDX_OPERAND_INVALID, "R8")
MSR_BAD = S.TDX_INCORRECT_MSR_VALUE
# 2.0 fatal_error_config_t (fatal_info.h at 1666adc): reserved bits 5:0 and 53:52, the log's
# HPA in bits 51:6 (HPA_CODE_NO_LOGGING_REQUIRED: none), the notification in 55:54 (1 = an
# interrupt, whose vector in 63:56 must be 16 or more; 2 = NMI, 3 = SMI).
FATAL_CONFIG_RESERVED = 0x3F | 0x3 << 52
FATAL_INFO_HPA_SHIFT, FATAL_INFO_HPA_MASK = 6, (1 << 46) - 1
HPA_CODE_NO_LOGGING_REQUIRED = 0x3FFFFFFFFFFF
FATAL_INFO_ALIGNMENT = 64                   # CACHELINE_SIZE


def fatal_config_ok(c: Call, config: int) -> bool:
    """configure_fatal_info_diagnostics() at 1666adc for a version-1 TDH.SYS.INIT."""
    if config & FATAL_CONFIG_RESERVED:
        return False
    hpa = (config >> FATAL_INFO_HPA_SHIFT) & FATAL_INFO_HPA_MASK
    if hpa != HPA_CODE_NO_LOGGING_REQUIRED and \
            not c.rules.shared_hpa_ok(config & ((1 << 54) - 1), FATAL_INFO_ALIGNMENT):
        return False
    return not ((config >> 54) & 0x3 == 1 and (config >> 56) < 16)
MSR_DIFF = S.TDX_INCONSISTENT_MSR


def _msr_check(cid: str, what: str, abi: tuple[str, ...] = V15) -> Check:
    return Check(cid, what, MSR_BAD, abi=abi)


def rdrand_fails(prefix: str, what: str, source_10: str) -> tuple[Check, Check]:
    """RDRAND failing for `what`, one owner for its status by ABI: from 1.5 on the module
    answers TDX_RND_NO_ENTROPY (`<prefix>_entropy`); TDX 1.0 answers TDX_SYS_BUSY
    (`<prefix>_rdrand`, as `source_10` shows)."""
    return (Check(f"{prefix}_entropy", f"RDRAND for {what} fails", S.TDX_RND_NO_ENTROPY,
                  abi=V15, inject=True),
            Check(f"{prefix}_rdrand", f"RDRAND for {what} fails: TDX 1.0 answers TDX_SYS_BUSY "
                  f"({source_10})", S.TDX_SYS_BUSY, abi=V10, inject=True))

@leaf(
    "TDH.SYS.INIT",
    summary="Global initialisation of the module; runs once, on any LP, and checks the "
            "platform as that LP sees it.",
    inputs=(("rcx", "SYS_ATTRIBUTES: all bits reserved, must be 0"),),
    outputs=(("rcx", "0; on TDX_INCORRECT_CPUID_VALUE the leaf/sub-leaf"),
             ("rdx", "0; ... VERIFY_MASK EBX:EAX"), ("r8", "0; ... VERIFY_MASK EDX:ECX"),
             ("r9", "0; ... VERIFY_VALUE EBX:EAX"), ("r10", "0; ... VERIFY_VALUE EDX:ECX")),
    on_entry=(("rcx", 0), ("rdx", 0), ("r8", 0), ("r9", 0), ("r10", 0)),
    checks=(
        Check("version", "2.0: the version in RAX is above 1", OP_RAX, abi=V20),
        global_lock_check(),
        operand_check("rcx_reserved", "RCX", "RCX (attributes) is not 0"),
        Check("state", "the module is not in SYSINIT_PENDING", S.TDX_SYS_INIT_NOT_PENDING),
        _msr_check("arch_capabilities", "IA32_ARCH_CAPABILITIES lacks a mitigation bit the "
                   "module needs (RDCL_NO, IBRS_ALL, MDS_NO, TAA_NO, ... XAPIC_DISABLE_STATUS) "
                   "or has RSBA"),
        _msr_check("xapic_disable", "IA32_XAPIC_DISABLE_STATUS is not exactly "
                   "LEGACY_XAPIC_DISABLED"),
        _msr_check("misc_package_ctls", "IA32_MISC_PACKAGE_CTLS.ENERGY_FILTERING_ENABLE is 0"),
        _msr_check("perf_capabilities", "IA32_PERF_CAPABILITIES.FULL_WRITE is 0"),
        Check("limit_cpuid_maxval", "IA32_MISC_ENABLE.LIMIT_CPUID_MAXVAL (bit 22) is set "
              "(TDX 1.0 calls it TDX_BOOT_NT4_SET)", S.TDX_LIMIT_CPUID_MAXVAL_SET),
        Check("cpuid_value", "a CPUID leaf fails the module's VERIFY_MASK/VALUE (RCX..R10 out: "
              "the leaf and the mask/value)", S.TDX_INCORRECT_CPUID_VALUE),
        Check("tme_algorithm", "IA32_TME_ACTIVATE is not locked, or TME_CAPABILITY / "
              "TME_ACTIVATE offer no AES-XTS with integrity", MSR_BAD),
        Check("hkid_max", "the last TDX KeyID (MKTME + TDX KeyIDs) is 2048 or more",
              with_operand(S.TDX_NUM_ACTIVATED_HKIDS_NOT_SUPPORTED, pc.MAX_HKIDS)),
        Check("wbnoinvdp", "IA32_WBNOINVDP differs from IA32_WBINVDP", MSR_BAD),
        _msr_check("arch_capabilities_10", "IA32_ARCH_CAPABILITIES lacks RDCL_NO, IBRS_ALL, "
                   "SKIP_L1DFL_VMENTRY, MDS_NO, IF_PSCHANGE_MC_NO, TAA_NO, MISC_PACKAGE_CTLS "
                   "or ENERGY_FILTERING_CTL", abi=V10),
        _msr_check("perf_capabilities_10", "IA32_PERF_CAPABILITIES lacks FULL_WRITE or "
                   "PERF_METRICS_AVAILABLE (qizhangz/tdx-module helpers.h check_perf_msrs)",
                   abi=V10),
        Check("cmr_list", "the CMR list from MCHECK fails the sanity check (overflow, HKID bits, "
              "end above 2^52, not 4 KiB aligned, unsorted or overlapping)",
              S.TDX_CMR_LIST_INVALID),
        Check("smrr_supported", "IA32_MTRRCAP.SMRR is 0", S.TDX_SMRR_NOT_SUPPORTED),
        Check("smrr_lock_supported", "IA32_MTRRCAP.SMRR_LOCK is 0",
              S.TDX_SMRR_LOCK_NOT_SUPPORTED),
        Check("smrr_locked", "an SMRR (index in the operand) is not locked",
              S.TDX_SMRR_NOT_LOCKED),
        Check("smrr_config", "a valid SMRR's mask is not contiguous or its base not aligned to "
              "it", S.TDX_INVALID_SMRR_CONFIGURATION),
        Check("smrr_cmr", "a valid SMRR overlaps a CMR (info: SMRR index, CMR index)",
              S.TDX_SMRR_OVERLAPS_CMR),
        Check("seam_capabilities", "SEAMOPS lacks SEAMDB_GETREF or SEAMDB_REPORT (TD "
              "preserving)", S.TDX_INCOMPATIBLE_SEAM_CAPABILITIES, abi=V15),
        *rdrand_fails("canary", "the stack canary",
                      "qizhangz/tdx-module tdh_sys_init.c tdx_init_stack_canary"),
        Check("fatal_config", "2.0 version 1: R8 (fatal-error diagnostics) has reserved bits "
              "5:0 or 53:52 set, a log HPA that is not a 64-byte-aligned shared HPA (all ones: "
              "no log), or an interrupt notification with a vector below 16", OP_R8, abi=V20),
    ),
    success="state SYSINIT_DONE; the LP's MSRs, CPUID and SEAMOPS capabilities kept for "
            "TDH.SYS.LP.INIT; no LP initialised, no package key configured",
    other_statuses=(S.TDX_CPUID_LEAF_NOT_SUPPORTED, S.TDX_CPUID_LEAF_1F_FORMAT_UNRECOGNIZED,
                    S.TDX_INVALID_WBINVD_SCOPE),
)
def tdh_sys_init(c: Call) -> None:
    c.write(rcx=0, rdx=0, r8=0, r9=0, r10=0)
    if c.abi in V20:
        c.require(c.version <= 1, "version")
    c.require(c.state.lock_free_for(c.lp, exclusive=True), "global_lock")
    c.require(c.reg("rcx") == 0, "rcx_reserved")
    c.require(c.state.sys_state == SysState.SYSINIT_PENDING, "state")
    s = P.sample(c.module.platform, c.lp, c.abi)
    msrs = s.msrs
    if c.abi in V15:
        c.require(P.arch_capabilities_ok(msrs[m.IA32_ARCH_CAPABILITIES], c.abi),
                  "arch_capabilities", detail=m.IA32_ARCH_CAPABILITIES)
        c.require(msrs[m.IA32_XAPIC_DISABLE_STATUS] == 1, "xapic_disable",
                  detail=m.IA32_XAPIC_DISABLE_STATUS)
        c.require(bool(msrs[m.IA32_MISC_PACKAGE_CTLS] & 1), "misc_package_ctls",
                  detail=m.IA32_MISC_PACKAGE_CTLS)
        c.require(bool(msrs[m.IA32_PERF_CAPABILITIES] & pc.PERF_CAPABILITIES_FULL_WRITE),
                  "perf_capabilities", detail=m.IA32_PERF_CAPABILITIES)
    c.require(not msrs[m.IA32_MISC_ENABLE] & pc.MISC_ENABLE_LIMIT_CPUID_MAXVAL,
              "limit_cpuid_maxval")
    bad = P.cpuid_verify_failure(s, c.abi)
    if bad is not None:
        (rdx, r8), (r9, r10) = P.halves(bad.verify_mask), P.halves(bad.verify_value)
        c.write(rcx=bad.leaf_subleaf, rdx=rdx, r8=r8, r9=r9, r10=r10)
    c.require(bad is None, "cpuid_value")
    wrong = P.tme_alg_failure(msrs)
    c.require(not wrong, "tme_algorithm", detail=wrong)
    p = c.module.platform
    c.require(p.mktme_keyids + p.tdx_keyids < pc.MAX_HKIDS, "hkid_max")
    c.require(msrs[m.IA32_WBNOINVDP] == msrs[m.IA32_WBINVDP], "wbnoinvdp",
              detail=m.IA32_WBNOINVDP)
    if c.abi not in V15:
        c.require(P.arch_capabilities_ok(msrs[m.IA32_ARCH_CAPABILITIES], c.abi),
                  "arch_capabilities_10", detail=m.IA32_ARCH_CAPABILITIES)
        perf_10 = pc.PERF_CAPABILITIES_FULL_WRITE | pc.PERF_CAPABILITIES_PERF_METRICS
        c.require(msrs[m.IA32_PERF_CAPABILITIES] & perf_10 == perf_10, "perf_capabilities_10",
                  detail=m.IA32_PERF_CAPABILITIES)
    c.require(c.rules.cmr_list_ok(), "cmr_list")
    _check_smrrs(c, msrs)
    if c.abi in V15:
        c.require(s.seamops & pc.TD_PRESERVING_CAPABILITIES == pc.TD_PRESERVING_CAPABILITIES,
                  "seam_capabilities")
    c.require(True, "canary_entropy" if c.abi in V15 else "canary_rdrand")
    if c.abi in V20 and c.version == 1:
        c.require(fatal_config_ok(c, c.reg("r8")), "fatal_config")
        c.notes.append("seamemu: the fatal-error diagnostics configuration was checked; what "
                       "it configures is not modelled")
    st = c.state
    st.sys_state = SysState.SYSINIT_DONE
    st.sys_attributes = 0
    st.sample = s
    st.lp_init.clear()
    st.pkg_configured.clear()


def _check_smrrs(c: Call, msrs) -> None:
    """check_and_store_smrr_smrr2: MTRRCAP support bits, every SMRR locked, then each valid
    one well formed and outside every CMR."""
    cap = msrs[m.IA32_MTRRCAP]
    c.require(bool(cap & pc.MTRRCAP_SMRR), "smrr_supported")
    c.require(bool(cap & pc.MTRRCAP_SMRR_LOCK), "smrr_lock_supported")
    ranges = P.smrrs(msrs)
    for i, (_base, mask) in enumerate(ranges):
        c.require(bool(mask & pc.SMRR_MASK_LOCK), "smrr_locked", detail=i)
    for i, (base, mask) in enumerate(ranges):
        if not mask & pc.SMRR_MASK_VALID:
            continue
        c.require(P.smrr_mask_valid(base, mask), "smrr_config", detail=i)
        start, size = P.smrr_range(base, mask)
        for j, (cmr_base, cmr_size) in enumerate(c.rules.cmrs):
            hit = cmr_size and start < cmr_base + cmr_size and cmr_base < start + size
            c.require(not hit, "smrr_cmr", i, j)


@leaf(
    "TDH.SYS.LP.INIT",
    summary="Per-LP initialisation; every LP must run it after TDH.SYS.INIT and before "
            "TDH.SYS.CONFIG.  The LP must read the platform as TDH.SYS.INIT's LP did.",
    outputs=(("rcx", "0; on TDX_INCONSISTENT_CPUID_FIELD the leaf/sub-leaf"),
             ("rdx", "0; ... VERIFY_SAME EBX:EAX"), ("r8", "0; ... VERIFY_SAME EDX:ECX")),
    on_entry=(("rcx", 0), ("rdx", 0), ("r8", 0)),
    checks=(
        global_lock_check(exclusive=False),
        Check("state", "the module is not in SYSINIT_DONE (so never after TDH.SYS.CONFIG)",
              S.TDX_SYS_LP_INIT_NOT_PENDING),
        Check("lp_done", "this LP already ran TDH.SYS.LP.INIT", S.TDX_SYS_LP_INIT_DONE),
        *rdrand_fails("lfsr", "the LP's LFSR seed",
                      "qizhangz/tdx-module tdh_sys_lp_init.c lfsr_init_seed"),
        Check("seamreport_10", "SEAMOPS capabilities on this LP lack SEAMREPORT (qizhangz/"
              "tdx-module tdh_sys_lp_init.c is_seamreport_available)",
              S.TDX_SEAMREPORT_NOT_AVAILABLE, abi=V10),
        Check("seam_capabilities", "SEAMOPS capabilities differ from TDH.SYS.INIT's LP",
              S.TDX_INCOMPATIBLE_SEAM_CAPABILITIES, abi=V15),
        Check("msr_caps", "IA32_CORE_CAPABILITIES, ARCH_CAPABILITIES, MISC_PACKAGE_CTLS or "
              "XAPIC_DISABLE_STATUS differs (the MSR in the operand)", MSR_DIFF, abi=V15),
        Check("limit_cpuid_maxval", "IA32_MISC_ENABLE.LIMIT_CPUID_MAXVAL is set on this LP",
              S.TDX_LIMIT_CPUID_MAXVAL_SET),
        Check("cpuid_same", "a CPUID leaf's VERIFY_SAME bits differ (RCX..R8 out: the leaf and "
              "the mask)", S.TDX_INCONSISTENT_CPUID_FIELD),
        Check("msr_tsc_adjust", "IA32_TSC_ADJUST differs", MSR_DIFF, abi=V15),
        Check("msr_caps_10", "IA32_TSC_ADJUST, CORE_CAPABILITIES or ARCH_CAPABILITIES differs",
              MSR_DIFF, abi=V10),
        Check("msr_smrr", "IA32_MTRRCAP or an SMRR base/mask differs", MSR_DIFF),
        Check("msr_vmx", "an IA32_VMX_* capability MSR differs", MSR_DIFF),
        Check("msr_perf", "IA32_PERF_CAPABILITIES differs", MSR_DIFF, abi=V15),
        _msr_check("perf_capabilities_10", "IA32_PERF_CAPABILITIES on this LP lacks FULL_WRITE "
                   "or PERF_METRICS_AVAILABLE (check_perf_msrs again)", abi=V10),
        Check("msr_keys", "IA32_TME_CAPABILITY, TME_ACTIVATE, MKTME_KEYID_PARTITIONING, "
              "WBINVDP or WBNOINVDP differs", MSR_DIFF),
    ),
    success="this LP counts as initialised",
    other_statuses=(S.TDX_INVALID_PKG_ID,),
)
def tdh_sys_lp_init(c: Call) -> None:
    c.write(rcx=0, rdx=0, r8=0)
    st = c.state
    c.require(st.lock_free_for(c.lp, exclusive=False), "global_lock")
    c.require(st.sys_state == SysState.SYSINIT_DONE, "state")
    c.require(c.lp not in st.lp_init, "lp_done")
    c.require(True, "lfsr_entropy" if c.abi in V15 else "lfsr_rdrand")
    bsp = st.sample
    assert bsp is not None                       # SYSINIT_DONE: TDH.SYS.INIT kept one
    here = P.sample(c.module.platform, c.lp, c.abi)
    a, b = bsp.msrs, here.msrs
    if c.abi not in V15:
        c.require(bool(here.seamops & pc.SEAMOPS_SEAMREPORT), "seamreport_10")

    def same(check_id: str, group: tuple[int, ...]) -> None:
        msr = P.first_difference(group, a, b)
        c.require(not msr, check_id, detail=msr)

    if c.abi in V15:
        c.require(here.seamops == bsp.seamops, "seam_capabilities")
        same("msr_caps", pc.LP_MSR_CAPS)
    c.require(not b[m.IA32_MISC_ENABLE] & pc.MISC_ENABLE_LIMIT_CPUID_MAXVAL, "limit_cpuid_maxval")
    bad = P.cpuid_same_failure(bsp, here, c.abi)
    if bad is not None:
        rdx, r8 = P.halves(bad.verify_same)
        c.write(rcx=bad.leaf_subleaf, rdx=rdx, r8=r8)
    c.require(bad is None, "cpuid_same")
    if c.abi in V15:
        same("msr_tsc_adjust", (m.IA32_TSC_ADJUST,))
    else:
        same("msr_caps_10", pc.LP_MSR_CAPS_10)
    smrr = pc.LP_MSR_SMRR + (pc.LP_MSR_SMRR2 if b[m.IA32_MTRRCAP] & pc.MTRRCAP_SMRR2 else ())
    same("msr_smrr", smrr)
    same("msr_vmx", pc.LP_MSR_VMX[c.abi])
    if c.abi in V15:
        same("msr_perf", (m.IA32_PERF_CAPABILITIES,))
    else:
        perf_10 = pc.PERF_CAPABILITIES_FULL_WRITE | pc.PERF_CAPABILITIES_PERF_METRICS
        c.require(b[m.IA32_PERF_CAPABILITIES] & perf_10 == perf_10, "perf_capabilities_10",
                  detail=m.IA32_PERF_CAPABILITIES)
    same("msr_keys", pc.LP_MSR_KEYS)
    st.lp_init.add(c.lp)


__all__ = ["tdh_sys_init", "tdh_sys_lp_init"]
