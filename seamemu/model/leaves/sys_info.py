# SPDX-License-Identifier: MIT
"""TDH.SYS.INFO (32): TDSYSINFO_STRUCT and the CMR_INFO array.

Spec: intel/tdx-module tdx_1.5 src/vmm_dispatcher/api_calls/tdh_sys_info.c (M15; M10 the same
checks, no sys_rd flag).  The 1024-byte struct is zeroed after the RDX check and before the
R8/R9 checks, so a failing R8/R9 still clears the caller's buffer.
"""

from __future__ import annotations

from seamemu.arch.sysinfo import (
    CMR_INFO_ARRAY_ALIGNMENT,
    CMR_INFO_ENTRY,
    CPUID_CONFIG,
    CPUID_CONFIG_OFFSET,
    MAX_CMRS,
    TDSYSINFO_STRUCT,
    TDSYSINFO_STRUCT_ALIGNMENT,
    TDSYSINFO_STRUCT_SIZE,
)
from seamemu.model.context import Call
from seamemu.model.leaf_spec import LP_INIT_DONE, leaf, operand_check


def tdsysinfo_bytes(c: Call) -> bytes:
    """The TDSYSINFO_STRUCT this module writes (tdh_sys_info.c: the release's constants; the
    CPUID_CONFIG list as CONFIG_DIRECT | ALLOW_DIRECT & native in both 1.0 and 1.5)."""
    info, prof = c.module.module_info, c.module.profile
    k = prof.constants
    configs = prof.cpuid_configs
    body = bytearray(TDSYSINFO_STRUCT.pack(
        attributes=0, vendor_id=info.vendor_id, build_date=info.build_date,
        build_num=info.build_num, minor_version=info.minor, major_version=info.major,
        sys_rd=1 if c.abi != "1.0" else 0,
        max_tdmrs=k["MAX_TDMRS"], max_reserved_per_tdmr=k["MAX_RESERVED_PER_TDMR"],
        pamt_entry_size=k["PAMT_4K_ENTRY_SIZE"],
        tdcs_base_size=k["TDCS_BASE_SIZE"], tdvps_base_size=k["TDVPS_BASE_SIZE"],
        tdvps_xfam_dependent_size=0,
        attributes_fixed0=k["ATTRIBUTES_FIXED0"], attributes_fixed1=k["ATTRIBUTES_FIXED1"],
        xfam_fixed0=k["XFAM_FIXED0"], xfam_fixed1=k["XFAM_FIXED1"],
        num_cpuid_config=len(configs),
    ))
    for i, cfg in enumerate(configs):
        eax, ebx, ecx, edx = cfg.values()
        off = CPUID_CONFIG_OFFSET + i * CPUID_CONFIG.size
        body[off:off + CPUID_CONFIG.size] = CPUID_CONFIG.pack(
            leaf=cfg.leaf, sub_leaf=cfg.sub_leaf, eax=eax, ebx=ebx, ecx=ecx, edx=edx)
    return bytes(body)


def cmr_info_bytes(c: Call) -> bytes:
    """MAX_CMRS entries, null entries included, straight from the platform's CMRs."""
    return b"".join(CMR_INFO_ENTRY.pack(base=b, size=s) for b, s in c.rules.cmrs)


@leaf(
    "TDH.SYS.INFO",
    summary="Copy TDSYSINFO_STRUCT and the CMR list (always all 32 entries) to host memory.",
    inputs=(("rcx", "PA of the TDSYSINFO_STRUCT buffer (1024-byte aligned)"),
            ("rdx", "its size in bytes (at least 1024)"),
            ("r8", "PA of the CMR_INFO array (512-byte aligned)"),
            ("r9", "number of CMR_INFO entries it holds (at least 32)")),
    outputs=(("rdx", "1024: bytes of TDSYSINFO_STRUCT written (0 on error)"),
             ("r9", "32: CMR_INFO entries written (0 on error)")),
    on_entry=(("rdx", 0), ("r9", 0)),
    checks=(
        LP_INIT_DONE,
        operand_check("rcx_hpa", "RCX", "RCX is not a 1024-byte-aligned shared HPA"),
        operand_check("rdx_size", "RDX", "RDX is below 1024",
                      note="passing it zeroes the 1024-byte struct at RCX"),
        operand_check("r8_hpa", "R8", "R8 is not a 512-byte-aligned shared HPA"),
        operand_check("r9_count", "R9", "R9 is below 32"),
    ),
    success="TDSYSINFO_STRUCT at RCX, 32 CMR_INFO entries at R8",
)
def tdh_sys_info(c: Call) -> None:
    c.write(rdx=0, r9=0)
    rcx, rdx, r8, r9 = c.reg("rcx"), c.reg("rdx"), c.reg("r8"), c.reg("r9")
    c.require(c.lp in c.state.lp_init, "lp_init")
    c.require(c.rules.shared_hpa_ok(rcx, TDSYSINFO_STRUCT_ALIGNMENT), "rcx_hpa")
    c.require(rdx >= TDSYSINFO_STRUCT_SIZE, "rdx_size")
    c.mem.write(rcx, bytes(TDSYSINFO_STRUCT_SIZE))
    c.require(c.rules.shared_hpa_ok(r8, CMR_INFO_ARRAY_ALIGNMENT), "r8_hpa")
    c.require(r9 >= MAX_CMRS, "r9_count")
    c.mem.write(rcx, tdsysinfo_bytes(c))
    c.mem.write(r8, cmr_info_bytes(c))
    c.write(rdx=TDSYSINFO_STRUCT_SIZE, r9=MAX_CMRS)


__all__ = ["cmr_info_bytes", "tdh_sys_info", "tdsysinfo_bytes"]
