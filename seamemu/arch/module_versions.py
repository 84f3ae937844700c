# SPDX-License-Identifier: MIT
"""TDX module release profiles: what each modelled release is, reports and refuses.

A profile is chosen by the platform file's `[module] version` (or `--module-version`).  It fixes
the leaf set (through its ABI generation), the global-metadata fields TDH.SYS.RD/RDALL serve
(empty for 1.0, which has TDH.SYS.INFO only), the build-time constants those fields and
TDSYSINFO_STRUCT report, the CPUID_CONFIG list, and the status table.  Values a real module
derives from the CPU (XFAM_FIXED0, the ALLOW_DIRECT part of CPUID_CONFIG_VALUES) are computed
for a CPU that has every such bit, and each profile lists its `guesses`: values not read from
Intel's sources for that release, with what would confirm them.

Releases and build identities: intel/tdx-module BUILD.md "Current TDX version was built with"
at each release commit (1.5.01: a31dfd4 / tag TDX_1.5.01 72d8cff, 20231008 build 595;
1.5.05: e98d963, 20240129 build 698); intel/tdx-module-binaries lists the published releases
(1.5.01, 1.5.05, 1.5.06, 1.5.08, ...).  1.5.05 is the first published 1.5 release whose
global_sys_lookup[] has MAX_VCPUS_PER_TD (0x9900000100000008), the last field mainline Linux
reads (arch/x86/virt/vmx/tdx/tdx_global_metadata.c get_tdx_sys_info_td_conf, 01f492e).
TDX 1.0: qizhangz/tdx-module (9359de5, "TDX_1.0_V1.00"), a copy of Intel's 1.0 sources.
TDX 2.0: intel/tdx-module 1666adc (2.0.08; BUILD.md: TDX_MODULE_BUILD_DATE=20250325
TDX_MODULE_BUILD_NUM=882 TDX_MODULE_UPDATE_VER=08; proj_defs.mk TDX_MODULE_MAJOR_VER=2,
MINOR_VER=0, UPDATE_VER=8); be44324 is 2.0.02 (build 786, 20240814), not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from seamemu.arch.cpuid_configs import (
    CPUID_CONFIGS_1_0,
    CPUID_CONFIGS_1_5_01,
    CPUID_CONFIGS_1_5_05,
    CPUID_CONFIGS_2_0_08,
    CpuidConfigurable,
)
from seamemu.arch.metadata import GLOBAL_FIELDS

PAGE = 4096


def _bits(*positions: int) -> int:
    return sum(1 << p for p in positions)


# TDX_FEATURES0 bits (tdx_api_defs.h tdx_features_enum0_t).
TDX_FEATURES0_LOCAL_ATTESTATION = 1 << 8    # set only when SEAMOPS has SEAMVERIFYREPORT
TDX_FEATURES0_NO_RBP_MOD = 1 << 18          # Linux refuses a module without it
TDX_FEATURES0_TOPOLOGY_ENUM = 1 << 20


@dataclass(frozen=True)
class ModuleProfile:
    """One TDX module release as the model serves it."""

    name: str                       # "1.5.05": what `[module] version` names
    abi: str                        # leaf-set generation: "1.0", "1.5" or "2.0"
    major: int
    minor: int
    update: int
    build_date: int
    build_num: int
    source: str
    internal: int = 0
    # Global-metadata fields served by TDH.SYS.RD/RDALL, in global_sys_lookup[] order.
    fields: tuple[str, ...] = ()
    # Build-time constants: metadata field name -> value (TDSYSINFO_STRUCT reuses them).
    constants: Mapping[str, int] = field(default_factory=dict)
    cpuid_configs: tuple[CpuidConfigurable, ...] = ()
    # 1.5.01's TDH.SYS.RD returns CONFIG_DIRECT only for CPUID_CONFIG_VALUES (metadata_sys.c
    # md_sys_get_first_element_val_and_ptr); 1.5.05 adds ALLOW_DIRECT & native (md_sys_get_elements).
    rd_cpuid_allow_direct: bool = True
    statuses: str = "M15"           # which status table (arch.status_tables: M10, M15, M20)
    guesses: tuple[tuple[str, str], ...] = ()   # (value, what would confirm it)
    # Fields the release has whose value no source read pins: TDH.SYS.RD/RDALL report the
    # profile's placeholder and say so in the call's note.  (field name, why)
    unpinned: tuple[tuple[str, str], ...] = ()

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}.{self.update:02d}"

    def has_field(self, name: str) -> bool:
        return name in self.fields

    def constant(self, name: str) -> int:
        return self.constants[name]


# The fields 2.0 (include/auto_gen_2_0/global_sys_fields_lookup.c at 1666adc) adds to 1.5.05's.
_FIELDS_NEW_IN_2_0 = ("PAMT_PAGE_BITMAP_ENTRY_BITS", "MIN_DYNAMIC_PAMT_NUM_HKID_BITS",
                      "MIN_VIRT_MAXPA", "MAX_EVENT_FILTERS", "GUEST_GPA_ATTR_MASK",
                      "TDX_CONNECT_FEATURES")


def _fields(*, without: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(f.name for f in GLOBAL_FIELDS if f.name not in without)


# Constants shared by the 1.5 releases (TDX_1.5.01 sources; 1.5.05 where it changed).
# MAX_TDMRS tdx_global_data.h; MAX_RESERVED_AREAS, MAX_CMR, GUEST_L2_GPA_ATTR_MASK,
# NUM_TDX_FEATRUES tdx_api_defs.h; sizeof(pamt_entry_t) pamt_manager.h; sizeof(tdr_t) one page;
# MIN_NUM_TDCS_PAGES 6 / TDCS_PAGES_PER_L2_VM 1 and TDX_ATTRIBUTES_FIXED0/1, CONFIG_FLAGS_FIXED0/1,
# TDX_XFAM_FIXED0/1, MAX_MIGS, ALLOWED_VM_CTLS td_control_structures.h; MIN_TDVPS_PAGES 6 /
# TDVPS_PAGES_PER_L2_VM 3, ALLOWED_L2_VCPU_CTLS, ALLOWED_L2_VM_DEBUG_CTLS tdx_tdvps.h;
# MIN_*_EXPORT_PAGES migration.h; MAX_SERVTDS, SERVTD_ATTRIBUTES_FIXED_0/1 service_td.h;
# IA32_ARCH_CAPABILITIES_CONFIG_MASK msr_defs.h; NUM_OF_DISALLOWED_FMS cpuid_fms.h; the
# handoff versions are proj_defs.mk's defaults (BUILD.md's reproduction command sets none).
_CONSTANTS_1_5_01: dict[str, int] = {
    "ATTRIBUTES_FIXED0": _bits(0, 28, 29, 30, 63),
    "ATTRIBUTES_FIXED1": 0,
    "CONFIG_FLAGS_FIXED0": _bits(0, 1, 2),
    "CONFIG_FLAGS_FIXED1": 0,
    "GUEST_L2_GPA_ATTR_MASK": _bits(0, 1, 2, 3, 4, 5, 6, 15),
    "IA32_ARCH_CAPABILITIES_CONFIG_MASK": _bits(4, 19, 20, 24),
    "MAX_EXPORT_VERSION": 0,
    "MAX_IMPORT_VERSION": 0,
    "MAX_MIGS": 512,
    "MAX_RESERVED_PER_TDMR": 16,
    "MAX_SERV_TDS": 1,
    "MAX_TDMRS": 64,
    "MIG_ATTRIBUTES": 0,
    "MIN_EXPORT_VERSION": 0,
    "MIN_IMPORT_VERSION": 0,
    "MIN_UPDATE_HV": 0,
    "MODULE_HV": 0,
    "NO_DOWNGRADE": 0,
    "NUM_CMRS": 32,
    "NUM_DISALLOWED_FMS": 0,
    "NUM_IMMUTABLE_STATE_PAGES": 3,
    "NUM_TDX_FEATURES": 1,
    "NUM_TD_STATE_PAGES": 2,
    "NUM_VP_STATE_PAGES": 5,
    "PAMT_1G_ENTRY_SIZE": 16,
    "PAMT_2M_ENTRY_SIZE": 16,
    "PAMT_4K_ENTRY_SIZE": 16,
    "SERVTD_ATTR_FIXED0": 0x000007FF00000001,
    "SERVTD_ATTR_FIXED1": 0,
    "TDCS_BASE_SIZE": 6 * PAGE,
    "TDCS_SIZE_PER_L2_VM": 1 * PAGE,
    "TDR_BASE_SIZE": PAGE,
    "TDVPS_BASE_SIZE": 6 * PAGE,
    "TDVPS_SIZE_PER_L2_VM": 3 * PAGE,
    # metadata_sys.c TDX_FEATURES0 case: every bit it sets unconditionally (bit 8 is ORed in
    # from the platform's SEAMOPS capabilities by the model).
    "TDX_FEATURES0": _bits(0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 16, 17, 18, 19),
    "VCPU_L2_CTLS_FIXED1": 0,
    "VCPU_L2_DEBUG_CTLS_FIXED1": 0,
    "VM_CTLS_FIXED0": _bits(0),
    "VM_CTLS_FIXED1": 0,
    "VPCU_L2_CTLS_FIXED0": _bits(0, 1),
    "VPCU_L2_DEBUG_CTLS_FIXED0": _bits(0, 1, 2),
    "XFAM_FIXED0": 0x0006DBE7,      # TDX_XFAM_FIXED0, ANDed with the CPU's XCR0/XSS support
    "XFAM_FIXED1": 0x00000003,
}

_CPU_GUESS = ("XFAM_FIXED0 and the ALLOW_DIRECT bits of CPUID_CONFIG_VALUES",
              "computed for a CPU with every XCR0/XSS and ALLOW_DIRECT bit; the real value is "
              "ANDed with the native CPUID, which the platform file does not describe")


# TDX_FEATURES0 as 2.0.08 reports it (metadata_sys.c md_sys_get_elements at 1666adc; bit
# positions tdx_api_defs.h tdx_features_enum0_t): every bit it sets unconditionally, and
# CONFIG_IA32_ARCH_CAP (11), which it sets unless CPUID(1).EAX is a Granite Rapids A0 (0xA06D0,
# 0xA06E0; helpers.h is_not_gnr_a0_stepping) - the modelled packages report 0x806F8.  TDX_IO (6)
# and TDX_CONNECT_PARTITIONING (32) follow MCHECK's io_sys_info_table_version, 0 on the
# modelled platforms; LOCAL_ATTESTATION (8) is ORed in by the model as for 1.5.
_TDX_FEATURES0_2_0_08 = _bits(0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 16, 17, 18, 19, 20, 21, 24, 25,
                              26, 27, 29, 30, 33, 36, 37, 44)

PROFILES: tuple[ModuleProfile, ...] = (
    ModuleProfile(
        name="1.0", abi="1.0", major=1, minor=0, update=0,
        build_date=20211209, build_num=160,
        source="qizhangz/tdx-module 9359de5 (TDX_1.0_V1.00)",
        constants=MappingProxyType({
            # tdh_sys_info.c: TDCS = MAX_NUM_TDCS_PAGES (4), TDVPS = MAX_TDVPS_PAGES (6);
            # TDX_ATTRIBUTES_FIXED0 without MIGRATABLE (td_control_structures.h).
            "ATTRIBUTES_FIXED0": _bits(0, 28, 30, 63), "ATTRIBUTES_FIXED1": 0,
            "MAX_RESERVED_PER_TDMR": 16, "MAX_TDMRS": 64, "PAMT_4K_ENTRY_SIZE": 16,
            "TDCS_BASE_SIZE": 4 * PAGE, "TDVPS_BASE_SIZE": 6 * PAGE,
            "XFAM_FIXED0": 0x0006DBE7, "XFAM_FIXED1": 0x00000003, "TDX_FEATURES0": 0,
        }),
        cpuid_configs=CPUID_CONFIGS_1_0, statuses="M10",
        guesses=(("build_date 20211209, build_num 160",
                  "the module the TDX host kernel series documented (Documentation/x86/tdx.rst "
                  "dmesg sample, e.g. [PATCH v5 22/22], June 2022); no 1.0 BUILD.md states "
                  "them, and other 1.0 builds differ"),
                 ("update version 0", "TDSYSINFO_STRUCT has no update field; Intel's 1.0 "
                  "release numbering (1.0.0x) was not found in its sources"),
                 _CPU_GUESS),
    ),
    ModuleProfile(
        name="1.5.01", abi="1.5", major=1, minor=5, update=1,
        build_date=20231008, build_num=595,
        source="intel/tdx-module TDX_1.5.01 (72d8cff); BUILD.md at a31dfd4",
        fields=_fields(without=("MAX_VCPUS_PER_TD", *_FIELDS_NEW_IN_2_0)),
        constants=MappingProxyType(dict(_CONSTANTS_1_5_01)),
        cpuid_configs=CPUID_CONFIGS_1_5_01, rd_cpuid_allow_direct=False,
        guesses=(_CPU_GUESS,
                 ("NUM_HANDOFF_PAGES = 15", "comes from the P-SEAMLDR's SEAM sysinfo table "
                  "(the module's sigstruct); arch.sysinfo.SEAMLDR_NUM_HANDOFF_PAGES is a "
                  "choice, at least the 13 TDH.SYS.INIT needs")),
    ),
    ModuleProfile(
        name="1.5.05", abi="1.5", major=1, minor=5, update=5,
        build_date=20240129, build_num=698,
        source="intel/tdx-module e98d963 (1.5.05); BUILD.md there",
        fields=_fields(without=_FIELDS_NEW_IN_2_0),
        constants=MappingProxyType(dict(
            _CONSTANTS_1_5_01,
            # td_control_structures.h at e98d963: LASS (bit 27) joins TDX_ATTRIBUTES_FIXED0
            # (tdh_sys_init.c clears it on a CPU without LASS: see guesses); MAX_VCPUS_PER_TD
            # 576.  metadata_sys.c md_sys_get_elements: topology_enum set in TDX_FEATURES0.
            ATTRIBUTES_FIXED0=_bits(0, 27, 28, 29, 30, 63),
            MAX_VCPUS_PER_TD=576,
            TDX_FEATURES0=_CONSTANTS_1_5_01["TDX_FEATURES0"] | TDX_FEATURES0_TOPOLOGY_ENUM,
        )),
        cpuid_configs=CPUID_CONFIGS_1_5_05,
        guesses=(_CPU_GUESS,
                 ("ATTRIBUTES_FIXED0 bit 27 (LASS)", "set as for a CPU with LASS: at e98d963 "
                  "tdh_sys_init() (tdh_sys_init.c) clears it when the CPU lacks LASS, and the "
                  "platform file does not describe LASS"),
                 ("TDCS/TDVPS page counts, IA32_ARCH_CAPABILITIES_CONFIG_MASK, migration and "
                  "service-TD constants", "carried over from TDX_1.5.01; not re-read at "
                  "e98d963 (td_control_structures.h / tdx_tdvps.h / msr_defs.h there)"),
                 ("MODULE_HV, MIN_UPDATE_HV, NO_DOWNGRADE = 0", "proj_defs.mk defaults as in "
                  "1.5.01; the released binary's TDH.SYS.RD would confirm them"),
                 ("the TDH.SYS.* checks, their order and the CPUID checks of TDH.SYS.INIT / "
                  "LP.INIT", "TDX_1.5.01's (the leaves are modelled per ABI generation, and "
                  "arch.cpuid_lookup holds 1.5.01's 64-entry cpuid_lookup[]; e98d963 has 68); "
                  "diffing e98d963's tdh_sys_*.c, or model-diff against a 1.5.05 build, would "
                  "confirm them")),
    ),
    ModuleProfile(
        name="2.0.08", abi="2.0", major=2, minor=0, update=8,
        build_date=20250325, build_num=882,
        source="intel/tdx-module 1666adc (2.0.08); BUILD.md and proj_defs.mk there",
        fields=_fields(),
        constants=MappingProxyType(dict(
            _CONSTANTS_1_5_01,
            # At 1666adc: td_control_structures.h TDX_ATTRIBUTES_FIXED0 (bits 0, 6, 16, 27,
            # 28, 29, 30, 62, 63) with TPA (62) cleared by tdh_sys_init() when
            # is_tdx_io_supported() is false (no TDX-IO here) and LASS (27) kept as for
            # 1.5.05 (see guesses); CONFIG_FLAGS_FIXED0 bits 0..4 (MAXGPA_VIRT added);
            # MIN_NUM_TDCS_PAGES 9 (tdcs_page_index_t); MAX_VCPUS_PER_TD 1376; MAX_MIGS 512;
            # TDX_XFAM_FIXED0/1 unchanged.  tdx_tdvps.h: MIN_TDVPS_PAGES 6,
            # TDVPS_PAGES_PER_L2_VM 3, ALLOWED_L2_VCPU_CTLS / ALLOWED_L2_VM_DEBUG_CTLS
            # unchanged.  tdx_api_defs.h: MAX_EVENT_FILTERS 512, TDX_CONNECT_FEATURES_MASK
            # (bits 0, 7, 9, 12), GUEST_L2_GPA_ATTR_MASK, MAX_CMR 32, MAX_RESERVED_AREAS 16,
            # NUM_TDX_FEATRUES 1 unchanged.  pamt_manager.h: PAMT entries 16 bytes.
            # metadata_sys.c: PAMT_PAGE_BITMAP_ENTRY_BITS 1, GUEST_GPA_ATTR_MASK 0, the
            # migration version fields and MIG_ATTRIBUTES 0.
            ATTRIBUTES_FIXED0=_bits(0, 6, 16, 27, 28, 29, 30, 63),
            CONFIG_FLAGS_FIXED0=_bits(0, 1, 2, 3, 4),
            TDCS_BASE_SIZE=9 * PAGE,
            MAX_VCPUS_PER_TD=1376,
            MAX_EVENT_FILTERS=512,
            PAMT_PAGE_BITMAP_ENTRY_BITS=1,
            GUEST_GPA_ATTR_MASK=0,
            TDX_CONNECT_FEATURES=_bits(0, 7, 9, 12),
            MIN_VIRT_MAXPA=0,           # placeholder: see unpinned
            TDX_FEATURES0=_TDX_FEATURES0_2_0_08,
        )),
        cpuid_configs=CPUID_CONFIGS_2_0_08, statuses="M20",
        unpinned=(("MIN_VIRT_MAXPA", "metadata_sys.c at 1666adc reports the constant "
                   "MIN_VIRT_MAXPA, whose definition was not found in the sources read; the "
                   "model reports 0 in its place"),),
        guesses=(_CPU_GUESS,
                 ("ATTRIBUTES_FIXED0 bit 27 (LASS)", "set as for a CPU with LASS: tdh_sys_init() "
                  "at 1666adc clears it when the CPU lacks LASS, and the platform file does not "
                  "describe LASS"),
                 ("MAX_TDMRS, IA32_ARCH_CAPABILITIES_CONFIG_MASK, NUM_DISALLOWED_FMS, "
                  "ALLOWED_FMS, the migration state page counts and service-TD constants",
                  "carried over from TDX_1.5.01; not re-read at 1666adc (tdx_global_data.h, "
                  "msr_defs.h, cpuid_fms.c, migration.h, service_td.h there)"),
                 ("MODULE_HV, MIN_UPDATE_HV, NO_DOWNGRADE = 0", "proj_defs.mk defaults at "
                  "1666adc (BUILD.md's command sets none); the released binary's TDH.SYS.RD "
                  "would confirm them"),
                 ("the TDH.SYS.* checks other than those 2.0 is modelled with (TDH.SYS.INIT "
                  "versions and fatal-error configuration, TDH.SYS.CONFIG Dynamic PAMT), their "
                  "order, the CPUID checks (arch.cpuid_lookup: TDX_1.5.01's 64 entries; 1666adc "
                  "has 79) and TDH.SYS.INFO", "TDX_1.5.01's; diffing 1666adc's tdh_sys_*.c, or "
                  "model-diff against a 2.0.08 build, would confirm them")),
    ),
)

DEFAULT_MODULE_VERSION = "1.5.05"
# The profile a bare "--abi 1.0/1.5" means (a module of that generation, no version named).
DEFAULT_FOR_ABI: Mapping[str, str] = MappingProxyType({"1.0": "1.0", "1.5": "1.5.05",
                                                       "2.0": "2.0.08"})

_BY_NAME: dict[str, ModuleProfile] = {p.name: p for p in PROFILES}


def profile_names() -> tuple[str, ...]:
    return tuple(p.name for p in PROFILES)


def find_profile(name: str) -> ModuleProfile | None:
    """The profile named `name`; "1.5.5" and "1.5.05" name the same release."""
    p = _BY_NAME.get(name)
    if p is not None:
        return p
    parts = name.split(".")
    if len(parts) == 3 and all(x.isdigit() for x in parts):
        return _BY_NAME.get(f"{int(parts[0])}.{int(parts[1])}.{int(parts[2]):02d}")
    return None


def module_profile(name: str) -> ModuleProfile:
    """The profile named `name` (KeyError naming the known ones otherwise)."""
    p = find_profile(name)
    if p is None:
        raise KeyError(f"unknown TDX module version {name!r} (known: {', '.join(profile_names())})")
    return p


__all__ = [
    "DEFAULT_FOR_ABI",
    "DEFAULT_MODULE_VERSION",
    "ModuleProfile",
    "PROFILES",
    "TDX_FEATURES0_LOCAL_ATTESTATION",
    "TDX_FEATURES0_NO_RBP_MOD",
    "TDX_FEATURES0_TOPOLOGY_ENUM",
    "find_profile",
    "module_profile",
    "profile_names",
]
