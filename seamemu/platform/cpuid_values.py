# SPDX-License-Identifier: MIT
"""The CPUID fields a platform implies (what its CPUs report), for the CPUID trap.

Each value follows from a fact the platform already states: its physical-address width
(`max_pa`), its MSRs (VMX capability MSRs are implemented, IA32_FEATURE_CONTROL does not
enable VMX inside SMX, IA32_TME_CAPABILITY is implemented), and bare metal (no hypervisor).
Linear addresses are 48 bits wide: the machine's canonical check is 4-level paging's
(CR4.LA57 = 0).  Fields not listed here are answered by Unicorn's own CPU model.

`cpuid_regs` gives the registers the platform file's [[cpuid]] entries describe per LP: what
the TDX module samples in TDH.SYS.INIT and TDH.SYS.LP.INIT (model/platform_checks.py).  The
CPUID trap does not apply them yet.
"""

from __future__ import annotations

from seamemu.arch import cpuid as c
from seamemu.arch import msrs as m
from seamemu.platform.facts import Platform
from seamemu.platform.msr_values import msr_values

LINEAR_ADDRESS_BITS = 48


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


def cpuid_regs(platform: Platform, lp: int, leaf_subleaf: int) -> tuple[int | None, ...]:
    """(EAX, EBX, ECX, EDX) the platform file gives for a CPUID leaf on `lp`; None for a
    register it does not describe (the model has no CPUID table of its own)."""
    regs: list[int | None] = [None, None, None, None]
    for entry in platform.cpuid:
        if entry.key == leaf_subleaf and entry.applies(lp):
            regs[entry.reg] = entry.value
    return tuple(regs)


_DEFAULTS: dict[c.CpuidField, int] = {}


def default_cpuid_values() -> dict[c.CpuidField, int]:
    """The fields of a platform described only by the Platform defaults (a bare machine)."""
    if not _DEFAULTS:
        _DEFAULTS.update(cpuid_values(Platform(name="defaults", memory=(), cmrs=())))
    return dict(_DEFAULTS)


__all__ = ["LINEAR_ADDRESS_BITS", "cpuid_regs", "cpuid_values", "default_cpuid_values"]
