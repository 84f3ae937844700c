# SPDX-License-Identifier: MIT
"""The CPUID fields a platform implies: what follows from facts it already states.

Its MAXPHYADDR (`max_pa`: the physical-address width CPUID.80000008H:EAX[7:0] reports, the
KeyID bits included), its MSRs (VMX capability MSRs are implemented, IA32_FEATURE_CONTROL does
not enable VMX inside SMX, IA32_TME_CAPABILITY is implemented), and bare metal (no
hypervisor).  Linear addresses are 48 bits wide: the machine's canonical check is 4-level
paging's (CR4.LA57 = 0).  platform/cpuid_table.py writes these fields into the one CPUID
table every LP answers from.
"""

from __future__ import annotations

from seamemu.arch import cpuid as c
from seamemu.arch import msrs as m
from seamemu.platform.facts import Platform
from seamemu.platform.msr_values import msr_values

LINEAR_ADDRESS_BITS = 48     # no LA57 (CPUID.7.0:ECX[16] clear)


def cpuid_values(platform: Platform) -> dict[c.CpuidField, int]:
    """Field -> value, identical on every LP of `platform`."""
    msrs = msr_values(platform, 0)
    smx = bool(msrs.get(m.IA32_FEATURE_CONTROL, 0) & m.FEATURE_CONTROL_VMX_INSIDE_SMX)
    return {
        c.VMX: int(m.IA32_VMX_BASIC in msrs),
        c.SMX: int(smx),
        c.NOT_USED_31: 0,
        c.TME_EN: int(m.IA32_TME_CAPABILITY in msrs),
        c.PHYS_ADDR_BITS: platform.max_pa,
        c.LINEAR_ADDR_BITS: LINEAR_ADDRESS_BITS,
    }


__all__ = ["LINEAR_ADDRESS_BITS", "cpuid_values"]
