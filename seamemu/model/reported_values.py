"""Values the modelled module reports about itself (TDH.SYS.INFO and TDH.SYS.RD/RDALL).

Spec: intel/tdx-module tdx_1.5 src/common/metadata_handlers/metadata_sys.c and
src/vmm_dispatcher/api_calls/tdh_sys_info.c (what each field is: MAX_TDMRS 64, 16 reserved
areas, 16-byte PAMT entries, NUM_CMRS = MAX_CMR = 32, VENDOR_ID 0x8086, TDR = one page);
TDX_ATTRIBUTES_FIXED0/1 and TDX_XFAM_FIXED0/1 from the modules' td_control_structures.h.
Marked "plausible" below: values a real module derives from CPUID / build settings that were
not verified for a specific release; they are shaped like the real ones so kernel code that
parses them works, and they are named here so nobody mistakes them for measured facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from seamemu.arch.metadata import GLOBAL_FIELDS
from seamemu.arch.sysinfo import MAX_CMRS, MAX_RESERVED_PER_TDMR, MAX_TDMRS, PAMT_ENTRY_SIZE
from seamemu.platform.facts import ModuleInfo, Platform

MASK64 = (1 << 64) - 1
PAGE = 4096


@dataclass(frozen=True)
class CpuidConfig:
    leaf: int
    sub_leaf: int            # 0xFFFFFFFF = no sub-leaf
    eax: int
    ebx: int
    ecx: int
    edx: int


# Plausible (invented) CPUID_CONFIG list: the leaves a 1.5 module lets the host configure,
# with bit masks of the right shape.  Not the list of any real module release.
CPUID_CONFIGS: tuple[CpuidConfig, ...] = (
    CpuidConfig(0x00000001, 0xFFFFFFFF, 0x0FFF3FFF, 0x00000000, 0x31044D88, 0xB8440000),
    CpuidConfig(0x00000007, 0x00000000, 0x00000000, 0xDC2CE7FF, 0x00417F5E, 0x0000C010),
    CpuidConfig(0x0000000D, 0x00000000, 0x000602E7, 0x00000000, 0x00000000, 0x00000000),
    CpuidConfig(0x0000000D, 0x00000001, 0x0000000F, 0x00000000, 0x00001800, 0x00000000),
    CpuidConfig(0x80000008, 0xFFFFFFFF, 0x0000FFFF, 0x00000000, 0x00000000, 0x00000000),
)

# ATTRIBUTES bits a TD may set: DEBUG(0) | SEPT_VE_DISABLE(28) | PKS(30) | PERFMON(63), plus
# MIGRATABLE(29) in 1.5.  Spec: td_control_structures.h TDX_ATTRIBUTES_FIXED0 (M10 / M15).
ATTRIBUTES_FIXED0 = {"1.0": 0x8000000050000001, "1.5": 0x8000000070000001}
ATTRIBUTES_FIXED1 = 0
# TDX_XFAM_FIXED0 0x0006DBE7 (assuming the CPU supports every such XCR0/XSS bit); FIXED1 = 3.
XFAM_FIXED0 = 0x0006DBE7
XFAM_FIXED1 = 0x00000003
# Plausible: TDCS 4 pages in 1.0 / 6 in 1.5 (MIN_NUM_TDCS_PAGES); TDVPS 6 pages.  Not verified.
TDCS_BASE_SIZE = {"1.0": 4 * PAGE, "1.5": 6 * PAGE}
TDVPS_BASE_SIZE = {"1.0": 6 * PAGE, "1.5": 6 * PAGE}
TDR_BASE_SIZE = PAGE
# Plausible: Sapphire Rapids family/model/stepping for every package; handoff versions that
# let TDH.SYS.SHUTDOWN take RCX = 0.
PKG_FMS = 0x000806F8
MODULE_HV = 0
MIN_UPDATE_HV = 0
NO_DOWNGRADE = 0
NUM_TDX_FEATURES = 1


def default_module_info(abi: str) -> ModuleInfo:
    """What a module of generation `abi` reports when the platform names none of that
    generation (a P-SEAMLDR install on a bare platform, or an --abi override).  A 1.0 module
    has no TDX_FEATURES0 (it is 1.5 metadata), so its value is 0 there."""
    if abi == "1.0":
        return ModuleInfo(abi=abi, major=1, minor=0, tdx_features0=0)
    return ModuleInfo(abi=abi, major=1, minor=5)


def _field_values(name: str, platform: Platform, info: ModuleInfo, abi: str,
                  sys_attributes: int) -> list[int]:
    """Every element of every field of one table entry, flattened in field-code order."""
    cmrs = list(platform.cmrs[:MAX_CMRS]) + [None] * max(0, MAX_CMRS - len(platform.cmrs))
    n = len(CPUID_CONFIGS)
    single = {
        "NUM_PKGS": platform.packages,
        "VENDOR_ID": info.vendor_id,
        "BUILD_DATE": info.build_date,
        "BUILD_NUM": info.build_num,
        "MINOR_VERSION": info.minor,
        "MAJOR_VERSION": info.major,
        "UPDATE_VERSION": info.update,
        "INTERNAL_VERSION": info.internal,
        "MODULE_HV": MODULE_HV,
        "MIN_UPDATE_HV": MIN_UPDATE_HV,
        "NO_DOWNGRADE": NO_DOWNGRADE,
        "SYS_ATTRIBUTES": sys_attributes,
        "NUM_TDX_FEATURES": NUM_TDX_FEATURES,
        "TDX_FEATURES0": info.tdx_features0,
        "NUM_CMRS": MAX_CMRS,
        "MAX_TDMRS": MAX_TDMRS,
        "MAX_RESERVED_PER_TDMR": MAX_RESERVED_PER_TDMR,
        "PAMT_4K_ENTRY_SIZE": PAMT_ENTRY_SIZE,
        "PAMT_2M_ENTRY_SIZE": PAMT_ENTRY_SIZE,
        "PAMT_1G_ENTRY_SIZE": PAMT_ENTRY_SIZE,
        "TDR_BASE_SIZE": TDR_BASE_SIZE,
        "TDCS_BASE_SIZE": TDCS_BASE_SIZE[abi],
        "TDVPS_BASE_SIZE": TDVPS_BASE_SIZE[abi],
        "ATTRIBUTES_FIXED0": ATTRIBUTES_FIXED0[abi],
        "ATTRIBUTES_FIXED1": ATTRIBUTES_FIXED1,
        "XFAM_FIXED0": XFAM_FIXED0,
        "XFAM_FIXED1": XFAM_FIXED1,
        "NUM_CPUID_CONFIG": n,
    }
    if name in single:
        return [single[name]]
    if name == "PKG_FMS":
        return [PKG_FMS if i < platform.packages else 0 for i in range(8)]
    if name == "CMR_BASE":
        return [c.base if c else 0 for c in cmrs]
    if name == "CMR_SIZE":
        return [c.size if c else 0 for c in cmrs]
    if name == "CPUID_CONFIG_LEAVES":   # beyond NUM_CPUID_CONFIG: all-ones (metadata_sys.c)
        return [(c.leaf | c.sub_leaf << 32) for c in CPUID_CONFIGS] + [MASK64] * (32 - n)
    if name == "CPUID_CONFIG_VALUES":   # two elements: EBX:EAX, EDX:ECX; beyond the list: 0
        out: list[int] = []
        for c in CPUID_CONFIGS:
            out += [c.eax | c.ebx << 32, c.ecx | c.edx << 32]
        return out + [0] * (2 * (32 - n))
    raise KeyError(name)


def global_values(platform: Platform, info: ModuleInfo, abi: str,
                  sys_attributes: int = 0) -> dict[str, list[int]]:
    """Element values of every modelled global field, masked to the element size."""
    out: dict[str, list[int]] = {}
    for entry in GLOBAL_FIELDS:
        mask = (1 << (8 * entry.element_size)) - 1
        vals = _field_values(entry.name, platform, info, abi, sys_attributes)
        out[entry.name] = [v & mask for v in vals]
    return out


# TDH.SYS.RD is the hot path of every metadata read: computing the whole table per call cost
# ~85% of a read.  The values depend only on these four inputs, and Platform and ModuleInfo
# are frozen, so a table computed once per (platform, module info, abi, attributes) object is
# reused.  Keyed on identity (hashing a whole Platform per call would cost as much as the
# table); each entry keeps its key objects alive so an id is never reused while cached.
_Table = Mapping[str, tuple[int, ...]]
_CACHE: dict[tuple[int, int, str, int], tuple[Platform, ModuleInfo, _Table]] = {}
_CACHE_MAX = 32


def cached_global_values(platform: Platform, info: ModuleInfo, abi: str,
                         sys_attributes: int = 0) -> Mapping[str, tuple[int, ...]]:
    """global_values() as a shared read-only table, computed once per distinct input."""
    key = (id(platform), id(info), abi, sys_attributes)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is platform and hit[1] is info:
        return hit[2]
    table = MappingProxyType({name: tuple(vals) for name, vals in
                              global_values(platform, info, abi, sys_attributes).items()})
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = (platform, info, table)
    return table


__all__ = [
    "ATTRIBUTES_FIXED0",
    "ATTRIBUTES_FIXED1",
    "CPUID_CONFIGS",
    "CpuidConfig",
    "TDCS_BASE_SIZE",
    "TDR_BASE_SIZE",
    "TDVPS_BASE_SIZE",
    "XFAM_FIXED0",
    "XFAM_FIXED1",
    "cached_global_values",
    "default_module_info",
    "global_values",
]
