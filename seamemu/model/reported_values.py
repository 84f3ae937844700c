# SPDX-License-Identifier: MIT
"""Values the modelled module reports about itself (TDH.SYS.INFO and TDH.SYS.RD/RDALL).

Build-time constants come from the release profile (seamemu.arch.module_versions); this file
adds what a real module reads from the platform or its own state, the way
intel/tdx-module src/common/metadata_handlers/metadata_sys.c md_sys_get_first_element_val_and_ptr
(TDX_1.5.01) / md_sys_get_elements (1.5.05) do: NUM_PKGS and PKG_FMS from MCHECK's sysinfo
table, CMR_BASE/SIZE from the CMR list, CPUID_CONFIG_* from cpuid_configurable[] (all-ones
leaves and zero values past NUM_CPUID_CONFIG), ALLOWED_FMS from cpuid_fms.c, the handoff fields
from the handoff data header, SYS_ATTRIBUTES from TDH.SYS.INIT's RCX; 2.0.08 (1666adc) adds
MIN_DYNAMIC_PAMT_NUM_HKID_BITS = MAXPA - MAX_DYNAMIC_PAMT_HKID_START_BIT (48, pamt_manager.h)
when MAXPA is above 48, else 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from seamemu.arch.metadata import GLOBAL_FIELDS, GlobalField
from seamemu.arch.module_versions import TDX_FEATURES0_LOCAL_ATTESTATION, ModuleProfile
from seamemu.arch.sysinfo import MAX_CMRS, SEAMLDR_NUM_HANDOFF_PAGES
from seamemu.platform.facts import ModuleInfo, Platform

MASK64 = (1 << 64) - 1
# MCHECK's per-package family/model/stepping (sysinfo socket_cpuid_table): the platform file
# has no CPU model, so every package reports Sapphire Rapids stepping 8 (SPR_NATIVE_FMS |
# SPR_LATEST_STEPPING, cpuid_fms.h).  A guess about the platform, not about the module.
PKG_FMS = 0x000806F8
# cpuid_fms.c allowed_fms[] (TDX_1.5.01), newest family first; the module reports the platform's
# own FMS as ALLOWED_FMS[0] and the entries from the platform's row on (get_allowed_fms).
KNOWN_FMS = (0xD06D0, 0xA06E0, 0xA06D0, 0xA06F0, 0xC06F2, 0x806F8)   # CWF GNR-D GNR-SP SRF EMR SPR
CPUID_S_MASK = 0xF
MAX_FMS_FIELDS = 64
MAX_DYNAMIC_PAMT_HKID_START_BIT = 48    # intel/tdx-module 1666adc pamt_manager.h


@dataclass(frozen=True)
class Handoff:
    """The handoff data header a module finds in its data region (valid, version, size)."""

    valid: int = 0
    hv: int = 0
    size: int = 0


def default_module_info(abi: str) -> ModuleInfo:
    """The default release of generation `abi` (a P-SEAMLDR install on a bare platform, or
    an --abi override)."""
    return ModuleInfo(abi=abi)


def _allowed_fms(platform_fms: int) -> list[int]:
    start = next((i for i, f in enumerate(KNOWN_FMS)
                  if (f & ~CPUID_S_MASK) == (platform_fms & ~CPUID_S_MASK)), None)
    if start is None:
        return [platform_fms] + [0] * (MAX_FMS_FIELDS - 1)
    row = [platform_fms] + list(KNOWN_FMS[start + 1:])
    return row + [0] * (MAX_FMS_FIELDS - len(row))


def _field_values(entry: GlobalField, prof: ModuleProfile, platform: Platform,
                  info: ModuleInfo, sys_attributes: int, handoff: Handoff,
                  attestation: bool) -> list[int]:
    """Every element of every field of one table entry, flattened in field-code order."""
    name, n = entry.name, entry.num_fields * entry.num_elements
    configs = prof.cpuid_configs
    by_state = {
        "NUM_PKGS": platform.packages,
        "VENDOR_ID": info.vendor_id,
        "BUILD_DATE": info.build_date,
        "BUILD_NUM": info.build_num,
        "MINOR_VERSION": info.minor,
        "MAJOR_VERSION": info.major,
        "UPDATE_VERSION": info.update,
        "INTERNAL_VERSION": info.internal,
        "NUM_HANDOFF_PAGES": SEAMLDR_NUM_HANDOFF_PAGES,      # the loader's sysinfo table
        "HANDOFF_DATA_VALID": handoff.valid,
        "HANDOFF_DATA_HV": handoff.hv,
        "HANDOFF_DATA_SIZE": handoff.size,
        "SYS_ATTRIBUTES": sys_attributes,   # always 0: TDH.SYS.INIT refuses other RCX
        # metadata_sys.c: local_attestation = global_data->seamverifyreport_available, which
        # TDH.SYS.INIT took from its LP's SEAMOPS capabilities.
        "TDX_FEATURES0": info.tdx_features0 | (TDX_FEATURES0_LOCAL_ATTESTATION if attestation
                                               and prof.abi != "1.0" else 0),
        "NUM_CPUID_CONFIG": len(configs),
        "NUM_ALLOWED_FMS": sum(1 for v in _allowed_fms(PKG_FMS) if v),
        "MIN_DYNAMIC_PAMT_NUM_HKID_BITS": max(platform.max_pa - MAX_DYNAMIC_PAMT_HKID_START_BIT,
                                              0),
    }
    if name in by_state:
        return [by_state[name]]
    if name in prof.constants:
        return [prof.constants[name]]
    if name == "PKG_FMS":
        return [PKG_FMS if i < platform.packages else 0 for i in range(n)]
    if name in ("CMR_BASE", "CMR_SIZE"):
        cmrs = list(platform.cmrs[:MAX_CMRS])
        vals = [c.base if name == "CMR_BASE" else c.size for c in cmrs]
        return vals + [0] * (n - len(vals))
    if name == "CPUID_CONFIG_LEAVES":
        return [c.leaf_subleaf for c in configs] + [MASK64] * (n - len(configs))
    if name == "CPUID_CONFIG_VALUES":
        out: list[int] = []
        for c in configs:
            eax, ebx, ecx, edx = c.values() if prof.rd_cpuid_allow_direct else c.config_direct
            out += [eax | ebx << 32, ecx | edx << 32]
        return out + [0] * (n - len(out))
    if name == "ALLOWED_FMS":
        return _allowed_fms(PKG_FMS)[:n]
    if name == "DISALLOWED_FMS":
        return [0] * n
    raise KeyError(f"module {prof.name}: no value for global field {name}")


def global_values(platform: Platform, info: ModuleInfo, sys_attributes: int = 0,
                  handoff: Handoff = Handoff(), attestation: bool = False
                  ) -> dict[str, list[int]]:
    """Element values of every global field of the module's release, masked to size."""
    prof = info.profile
    out: dict[str, list[int]] = {}
    for entry in GLOBAL_FIELDS:
        if not prof.has_field(entry.name):
            continue
        mask = (1 << (8 * entry.element_size)) - 1
        vals = _field_values(entry, prof, platform, info, sys_attributes, handoff, attestation)
        out[entry.name] = [v & mask for v in vals]
    return out


# TDH.SYS.RD is the hot path of every metadata read: computing the whole table per call cost
# ~85% of a read.  The values depend only on these inputs, and Platform, ModuleInfo and
# Handoff are frozen, so a table computed once per distinct input is reused.  Keyed on
# identity (hashing a whole Platform per call would cost as much as the table); each entry
# keeps its key objects alive so an id is never reused while cached.
_Table = Mapping[str, tuple[int, ...]]
_CACHE: dict[tuple[int, int, int, Handoff, bool], tuple[Platform, ModuleInfo, _Table]] = {}
_CACHE_MAX = 32
_LAST: list[tuple[Platform, ModuleInfo, int, Handoff, bool, _Table] | None] = [None]


def cached_global_values(platform: Platform, info: ModuleInfo, sys_attributes: int = 0,
                         handoff: Handoff = Handoff(), attestation: bool = False
                         ) -> Mapping[str, tuple[int, ...]]:
    """global_values() as a shared read-only table, computed once per distinct input."""
    last = _LAST[0]
    # The same objects as the last call (one module's TDH.SYS.RDs): no key to hash.
    if last is not None and last[0] is platform and last[1] is info and \
            last[2] == sys_attributes and last[3] is handoff and last[4] is attestation:
        return last[5]
    key = (id(platform), id(info), sys_attributes, handoff, attestation)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is platform and hit[1] is info:
        _LAST[0] = (platform, info, sys_attributes, handoff, attestation, hit[2])
        return hit[2]
    table = MappingProxyType({name: tuple(vals) for name, vals in
                              global_values(platform, info, sys_attributes, handoff,
                                            attestation).items()})
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = (platform, info, table)
    _LAST[0] = (platform, info, sys_attributes, handoff, attestation, table)
    return table


__all__ = [
    "Handoff",
    "KNOWN_FMS",
    "PKG_FMS",
    "cached_global_values",
    "default_module_info",
    "global_values",
]
