# SPDX-License-Identifier: MIT
"""The platform as TDH.SYS.INIT and TDH.SYS.LP.INIT see it: what they sample on an LP and the
rules they apply to it (the handlers in leaves/sys_init.py run these in the module's order).

Spec: intel/tdx-module TDX_1.5.01 tdh_sys_init.c (check_msrs, check_cpuid_configurations,
check_key_management_config with helpers.c check_mem_enc_alg, check_and_store_smrr_smrr2 with
is_smrr_mask_valid_for_tdx) and tdh_sys_lp_init.c (the compare_* functions); qizhangz/tdx-module
the same files for TDX 1.0.  MCHECK's sysinfo table is taken to say "TDX with integrity" and
"SMRR2 supported", the values a platform with MTRRCAP.SMRR2 clear makes irrelevant.  CPUID is
sampled from the platform's CPUID table (platform/cpuid_table.py), the one every LP answers
from, so the model checks what Intel's module would read on the same platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from seamemu.arch import msrs as m
from seamemu.arch import platform_checks as pc
from seamemu.arch.cpuid_lookup import CPUID_LOOKUP_1_0, CPUID_LOOKUP_1_5, CpuidCheck
from seamemu.platform.cpuid_table import Regs, cpuid, cpuid_table
from seamemu.platform.facts import Platform
from seamemu.platform.msr_values import msr_values, seamops_capabilities

MASK32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Sample:
    """What TDH.SYS.INIT read on its LP and keeps for the LPs that follow."""

    lp: int
    msrs: Mapping[int, int]
    cpuid: tuple[Regs, ...]                         # per cpuid_lookup entry, index order
    seamops: int


def cpuid_lookup(abi: str) -> tuple[CpuidCheck, ...]:
    return CPUID_LOOKUP_1_0 if abi == "1.0" else CPUID_LOOKUP_1_5


def sample(platform: Platform, lp: int, abi: str) -> Sample:
    table = cpuid_table(platform, lp)
    return Sample(lp=lp, msrs=msr_values(platform, lp),
                  cpuid=tuple(cpuid(table, e.leaf, e.sub_leaf) for e in cpuid_lookup(abi)),
                  seamops=seamops_capabilities(platform, lp))


def arch_capabilities_ok(value: int, abi: str) -> bool:
    must_set, must_clear = pc.ARCH_CAPABILITIES_REQUIRED[abi]
    return value & must_set == must_set and not value & must_clear


def cpuid_verify_failure(s: Sample, abi: str) -> CpuidCheck | None:
    """The first cpuid_lookup entry whose registers fail VERIFY_MASK/VALUE."""
    for entry, regs in zip(cpuid_lookup(abi), s.cpuid):
        for j, value in enumerate(regs):
            if value & entry.verify_mask[j] != entry.verify_value[j]:
                return entry
    return None


def cpuid_same_failure(bsp: Sample, here: Sample, abi: str) -> CpuidCheck | None:
    """The first entry whose VERIFY_SAME bits differ between TDH.SYS.INIT's LP and this one."""
    for entry, a, b in zip(cpuid_lookup(abi), bsp.cpuid, here.cpuid):
        for j in range(4):
            if a[j] & entry.verify_same[j] != b[j] & entry.verify_same[j]:
                return entry
    return None


def halves(regs: tuple[int, int, int, int]) -> tuple[int, int]:
    """(EBX:EAX, EDX:ECX): how the module puts four CPUID registers in two u64 outputs."""
    return regs[0] | regs[1] << 32, regs[2] | regs[3] << 32


def tme_alg_failure(msrs: Mapping[int, int]) -> int:
    """check_mem_enc_alg: 0, or the MSR whose value is wrong (TDX with integrity)."""
    cap, act = msrs.get(m.IA32_TME_CAPABILITY, 0), msrs.get(m.IA32_TME_ACTIVATE, 0)
    if not act & pc.TME_ACTIVATE_LOCK:
        return m.IA32_TME_ACTIVATE
    if not cap & (pc.TME_CAP_AES_XTS_128_INTEGRITY | pc.TME_CAP_AES_XTS_256_INTEGRITY):
        return m.IA32_TME_CAPABILITY
    if not act & (pc.TME_ACT_AES_XTS_128_INTEGRITY | pc.TME_ACT_AES_XTS_256_INTEGRITY):
        return m.IA32_TME_ACTIVATE
    return 0


def smrrs(msrs: Mapping[int, int]) -> list[tuple[int, int]]:
    """(base MSR, mask MSR) values of the SMRRs the module reads: SMRR, and SMRR2 when
    MTRRCAP says it exists."""
    out = [(msrs.get(m.IA32_SMRR_PHYSBASE, 0), msrs.get(m.IA32_SMRR_PHYSMASK, 0))]
    if msrs.get(m.IA32_MTRRCAP, 0) & pc.MTRRCAP_SMRR2:
        out.append((msrs.get(m.IA32_SMRR2_PHYSBASE, 0), msrs.get(m.IA32_SMRR2_PHYSMASK, 0)))
    return out


def smrr_mask_valid(base: int, mask: int) -> bool:
    """is_smrr_mask_valid_for_tdx: the mask (bits 31:12) is nonzero and contiguous from bit
    31 down, and the base has no bits below it."""
    actual = mask & 0xFFFFF000
    if not actual:
        return False
    low = (actual & -actual).bit_length() - 1
    contiguous = MASK32 & ~((1 << low) - 1)
    return actual == contiguous and not (base & 0xFFFFF000) & ~contiguous


def smrr_range(base: int, mask: int) -> tuple[int, int]:
    actual = mask & 0xFFFFF000
    return base & 0xFFFFF000, (actual & -actual)


def first_difference(group: tuple[int, ...], bsp: Mapping[int, int],
                     here: Mapping[int, int]) -> int:
    """The first MSR of `group` that reads differently here than on TDH.SYS.INIT's LP (0)."""
    for msr in group:
        if bsp.get(msr) != here.get(msr):
            return msr
    return 0


__all__ = ["Sample", "arch_capabilities_ok", "cpuid_lookup", "cpuid_same_failure",
           "cpuid_verify_failure", "first_difference", "halves", "sample", "smrr_mask_valid",
           "smrr_range", "smrrs", "tme_alg_failure"]
