# SPDX-License-Identifier: MIT
"""Physical-address rules the module and the P-SEAMLDR apply to host-supplied addresses: HKID
bits, the shared-HPA check, SEAMRR overlap, and "inside a CMR".

Spec: intel/tdx-module tdx_1.5 src/common/helpers/helpers.c (shared_hpa_check,
shared_hpa_check_with_pwr_2_alignment), helpers.h (is_pa_smaller_than_max_pa compares against
the compile-time MAX_PA = 52 of x86_defs.h, not CPUID's MAX_PA; is_private_hkid; is_overlap),
tdh_sys_init.c (hkid_start_bit = MAX_PA - MK_TME_KEYID_BITS, the compile-time MAX_PA = 52
again, so the KeyID sits in bits 51:52-bits whatever CPUID reports; private HKIDs
[NUM_MKTME_KIDS + 1, NUM_MKTME_KIDS + NUM_TDX_PRIV_KIDS]; SEAMRR size = mask_to_size(mask);
check_cmrs), tdh_sys_config.c (is_area_in_cmr merges adjacent CMRs).  P-SEAMLDR variant: SEAM
loader src/common/helpers/helpers.c (MAX_PA from CPUID; only the address, not the range, is
tested against SEAMRR; returns EBADPARAM).  TDX 2.0 (intel/tdx-module 1666adc tdh_sys_init.c
check_key_management_config) puts the KeyID below the CPU's MAXPA instead: hkid_start_bit =
global_data->max_pa (CPUID(0x80000008).EAX[7:0]) - MK_TME_KEYID_BITS, hkid_mask =
BITS(max_pa - 1, hkid_start_bit); is_pa_smaller_than_max_pa still compares with MAX_PA = 52.
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.arch.sysinfo import MAX_CMRS
from seamemu.platform.facts import Platform

MASK64 = (1 << 64) - 1
MODULE_MAX_PA = 52          # x86_defs.h MAX_PA: the module's is_pa_smaller_than_max_pa bound
SEAMRR_ADDR_LOW_BIT = 25    # IA32_SEAMRR_PHYS_BASE/MASK bits MAX_PA-1:25


def is_overlap(base: int, size: int, base2: int, size2: int) -> bool:
    """helpers.h is_overlap; an empty second range never overlaps."""
    if size2 == 0 or size == 0:
        return False
    return not (base >= base2 + size2 or base2 >= base + size)


def aligned(value: int, alignment: int) -> bool:
    return value & (alignment - 1) == 0


def valid_range(base: int, size: int) -> bool:
    """is_valid_integer_range: base + size does not overflow 64 bits."""
    return base <= MASK64 - size


@dataclass(frozen=True)
class AddressRules:
    """The address facts one platform gives the module (computed as TDH.SYS.INIT does)."""

    max_pa: int
    hkid_start_bit: int
    hkid_mask: int
    private_hkid_min: int
    private_hkid_max: int
    seamrr_base: int
    seamrr_size: int
    cmrs: tuple[tuple[int, int], ...]         # exactly MAX_CMRS (base, size), nulls at the end

    @classmethod
    def from_platform(cls, platform: Platform, *, hkid_below_cpu_max_pa: bool = False
                      ) -> AddressRules:
        """`hkid_below_cpu_max_pa`: the KeyID bits end at the CPU's MAXPA (TDX 2.0), not at
        the module's MAX_PA (1.0, 1.5)."""
        max_pa = max(1, min(platform.max_pa, MODULE_MAX_PA))
        bits = max(0, min(platform.keyid_bits, MODULE_MAX_PA))
        start = max(0, (max_pa if hkid_below_cpu_max_pa else MODULE_MAX_PA) - bits)
        mask = ((1 << bits) - 1) << start
        addr_mask = ((1 << max_pa) - 1) & ~((1 << SEAMRR_ADDR_LOW_BIT) - 1)
        base = size = 0
        if platform.seamrr:
            rr = platform.seamrr_of(0)
            m = rr.mask_msr & addr_mask
            if rr.configured and m:
                base, size = rr.base_msr & addr_mask, m & -m
        cmrs = tuple((c.base, c.size) for c in platform.cmrs[:MAX_CMRS])
        cmrs += ((0, 0),) * (MAX_CMRS - len(cmrs))
        return cls(max_pa=max_pa, hkid_start_bit=start, hkid_mask=mask,
                   private_hkid_min=platform.mktme_keyids + 1,
                   private_hkid_max=platform.mktme_keyids + platform.tdx_keyids,
                   seamrr_base=base, seamrr_size=size, cmrs=cmrs)

    def hkid_of(self, pa: int) -> int:
        return (pa & self.hkid_mask) >> self.hkid_start_bit

    def is_private_hkid(self, hkid: int) -> bool:
        return self.private_hkid_min <= hkid <= self.private_hkid_max

    def below_module_max_pa(self, pa: int) -> bool:
        return 0 <= pa < (1 << MODULE_MAX_PA)

    def pa_ok(self, pa: int) -> bool:
        """Below the module's MAX_PA and no HKID bits: what TDMR/PAMT addresses must be."""
        return self.below_module_max_pa(pa) and self.hkid_of(pa) == 0

    def shared_hpa_ok(self, pa: int, alignment: int) -> bool:
        """shared_hpa_check_with_pwr_2_alignment: aligned, < 2^52, [pa, pa+alignment) clear of
        SEAMRR, HKID below the first private HKID.  Failure means TDX_OPERAND_INVALID."""
        if not aligned(pa, alignment) or not self.below_module_max_pa(pa):
            return False
        addr = pa & ~self.hkid_mask
        if is_overlap(addr, alignment, self.seamrr_base, self.seamrr_size):
            return False
        return self.hkid_of(pa) < self.private_hkid_min

    def loader_shared_hpa_ok(self, pa: int, alignment: int) -> bool:
        """The P-SEAMLDR's version: aligned, < 2^MAX_PA(CPUID), the address itself outside
        SEAMRR, HKID below the first private HKID.  Failure means PSEAMLDR_EBADPARAM."""
        if not aligned(pa, alignment) or not 0 <= pa < (1 << self.max_pa):
            return False
        addr = pa & ~self.hkid_mask
        if self.seamrr_size and self.seamrr_base <= addr < self.seamrr_base + self.seamrr_size:
            return False
        return self.hkid_of(pa) < self.private_hkid_min

    def area_in_cmr(self, start: int, end: int) -> bool:
        """is_area_in_cmr: [start, end) inside one CMR, adjacent CMRs counting as one."""
        last_start = last_end = 0
        for base, size in self.cmrs:
            if size == 0:
                continue
            cmr_start, cmr_end = base, base + size
            if cmr_start == last_end:
                cmr_start = last_start
            if start >= cmr_start and end <= cmr_end:
                return True
            last_start, last_end = cmr_start, cmr_end
        return False

    def cmr_list_ok(self) -> bool:
        """check_cmrs (TDH.SYS.INIT): each non-null CMR has no overflow, no HKID bits at either
        end, ends at or below 2^52, is 4 KiB aligned, and the list is sorted and disjoint."""
        prev_start = prev_end = 0
        for base, size in self.cmrs:
            if size == 0:
                continue
            if not valid_range(base, size):
                return False
            last = base + size - 1
            if base & self.hkid_mask or last & self.hkid_mask or last > (1 << MODULE_MAX_PA):
                return False
            if base % 4096 or size % 4096:
                return False
            if prev_end > 0 and (prev_start > base or prev_end > base):
                return False
            prev_start, prev_end = base, last
        return True


__all__ = ["AddressRules", "MODULE_MAX_PA", "aligned", "is_overlap", "valid_range"]
