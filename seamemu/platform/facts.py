# SPDX-License-Identifier: MIT
"""The platform as plain frozen data: memory map, CMRs, SEAMRR, KeyIDs, topology, module.

This is what the TDX module model and the machine read.  Loading it from TOML, validating it
and the named presets live beside this file; nothing here computes policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from seamemu.arch.module_versions import (
    DEFAULT_FOR_ABI,
    DEFAULT_MODULE_VERSION,
    ModuleProfile,
    find_profile,
    module_profile,
    profile_names,
)
from seamemu.arch.msrs import seamrr_range

GiB = 1 << 30
MiB = 1 << 20
KiB = 1 << 10

# E820-style kinds of a memory-map entry, plus "hotplug" for an empty hot-pluggable slot.
MEMORY_KINDS = ("acpi", "hotplug", "persistent", "reserved", "usable")


@dataclass(frozen=True)
class Span:
    """A physical address range [base, base + size)."""

    base: int
    size: int

    @property
    def end(self) -> int:
        return self.base + self.size


@dataclass(frozen=True)
class MemoryRegion(Span):
    """One entry of the memory map (E820-style kind) on a NUMA node."""

    kind: str = "usable"
    node: int = 0


@dataclass(frozen=True)
class Cmr(Span):
    """A Convertible Memory Range as MCHECK verified it: static for the life of the platform."""


@dataclass(frozen=True)
class Seamrr:
    """One logical processor's IA32_SEAMRR_PHYS_BASE (0x1400) and _MASK (0x1401) values."""

    base_msr: int
    mask_msr: int

    @property
    def configured(self) -> bool:  # PHYS_BASE bit 3
        return bool(self.base_msr & (1 << 3))

    @property
    def locked(self) -> bool:  # PHYS_MASK bit 10
        return bool(self.mask_msr & (1 << 10))

    @property
    def valid(self) -> bool:  # PHYS_MASK bit 11: SEAMCALL raises #GP(0) when clear
        return bool(self.mask_msr & (1 << 11))

    @property
    def enabled(self) -> bool:
        """What the 2022 boot-time detection required: CONFIGURED, LOCK and VALID all set."""
        return self.configured and self.locked and self.valid

    def range(self, max_pa: int) -> tuple[int, int] | None:
        """(base, size) of the SEAM range, or None when the mask is empty or has holes."""
        return seamrr_range(self.base_msr, self.mask_msr, max_pa)


@dataclass(frozen=True)
class LpValue:
    """A value some LPs read differently from the platform default: an MSR (`key` = number),
    SEAMOPS capabilities (`key` 0), or one CPUID register (`key` = leaf | sub-leaf << 32,
    `reg` 0..3 = EAX..EDX).  `lps` None means every LP."""

    key: int
    value: int
    lps: frozenset[int] | None = None
    reg: int = 0

    def applies(self, lp: int) -> bool:
        return self.lps is None or lp in self.lps


@dataclass(frozen=True)
class NumaNode:
    """A NUMA node: the packages (sockets) whose LPs belong to it."""

    id: int
    packages: tuple[int, ...] = ()


FROM_PROFILE = -1      # a ModuleInfo number left to the release profile


@dataclass(frozen=True)
class ModuleInfo:
    """The TDX module MCHECK/P-SEAMLDR installed at boot (or None on the platform).

    `version` names a release profile (seamemu.arch.module_versions); every number left at
    its default comes from that profile, so `ModuleInfo(version="1.0")` is a whole 1.0
    module.  Given only `abi`, the default release of that generation is meant.  A number set
    explicitly is what this platform's module reports instead (a custom build).
    """

    version: str = ""         # release profile, e.g. "1.5.05"
    abi: str = ""             # "1.0", "1.5" or "2.0": the leaf set it serves (the profile's)
    major: int = FROM_PROFILE
    minor: int = FROM_PROFILE
    update: int = FROM_PROFILE
    internal: int = FROM_PROFILE
    build_num: int = FROM_PROFILE
    build_date: int = FROM_PROFILE
    vendor_id: int = 0x8086
    tdx_features0: int = FROM_PROFILE
    binary: str = ""          # Intel's module binary to run instead of the model ([module] binary)

    def __post_init__(self) -> None:
        version = self.version or (DEFAULT_FOR_ABI.get(self.abi) if self.abi
                                   else DEFAULT_MODULE_VERSION)
        prof = find_profile(version or "")
        if prof is None:
            raise ValueError(f"unknown TDX module version {self.version!r} (known: "
                             f"{', '.join(profile_names())})")
        if self.abi and self.abi != prof.abi:
            raise ValueError(f"module version {prof.name} serves ABI {prof.abi}, not {self.abi}")
        fill = {"version": prof.name, "abi": prof.abi, "major": prof.major,
                "minor": prof.minor, "update": prof.update, "internal": prof.internal,
                "build_num": prof.build_num, "build_date": prof.build_date,
                "tdx_features0": prof.constants.get("TDX_FEATURES0", 0)}
        for name, value in fill.items():
            if name in ("version", "abi") or getattr(self, name) == FROM_PROFILE:
                object.__setattr__(self, name, value)

    @cached_property
    def profile(self) -> ModuleProfile:
        # Read on every SEAMCALL (status names, metadata tables): looked up once per object.
        return module_profile(self.version)


@dataclass(frozen=True)
class Platform:
    """One machine as a platform file describes it (docs/platform.md names every field)."""

    name: str
    memory: tuple[MemoryRegion, ...]
    cmrs: tuple[Cmr, ...]
    packages: int = 2
    cores_per_package: int = 2
    threads_per_core: int = 2
    max_pa: int = 52                 # MAXPHYADDR, CPUID.80000008H:EAX[7:0]: KeyID bits included
    mktme_keyids: int = 31           # IA32_MKTME_KEYID_PARTITIONING bits 31:0
    tdx_keyids: int = 32             # IA32_MKTME_KEYID_PARTITIONING bits 63:32
    keyid_bits: int = 6              # KeyID bits: the top ones of max_pa (the OS has the rest)
    seamrr: tuple[Seamrr, ...] = ()  # one per LP, in LP order
    mtrrcap_seamrr: bool = True      # IA32_MTRRCAP bit 15
    tdx_enabled_by_bios: bool = True
    mcheck_ok: bool = True
    module: ModuleInfo | None = field(default_factory=ModuleInfo)
    pseamldr: bool = True            # a P-SEAMLDR is resident in SEAMRR
    # Added with the TOML loader and the hotplug engine (all defaulted):
    description: str = ""
    numa: tuple[NumaNode, ...] = ()  # empty: one node 0 holding every package
    tdx_pw_mce_bug: bool = False     # X86_BUG_TDX_PW_MCE (SPR-X/EMR-X partial-write #MC erratum)
    absent_lps: frozenset[int] = frozenset()  # LPs whose socket slot is empty (CPU hotplug)
    hotplug_log: tuple[str, ...] = ()  # hotplug events applied since boot, oldest first
    source: str = ""                 # file or preset the description came from
    # What the module checks of each LP (platform/lp_values.py reads them; docs/platform.md):
    msrs: tuple[LpValue, ...] = ()   # [smrr] and [[msr]]: MSR values, later entries win
    cpuid: tuple[LpValue, ...] = ()  # [[cpuid]]: CPUID register values the file describes
    seamops: tuple[LpValue, ...] = ()  # [seamops]: SEAMOPS capabilities (default all leaves)

    @property
    def num_lps(self) -> int:
        return self.packages * self.cores_per_package * self.threads_per_core

    @property
    def present_lps(self) -> tuple[int, ...]:
        """LPs physically present now (all of them unless a CPU was hot-removed)."""
        return tuple(lp for lp in range(self.num_lps) if lp not in self.absent_lps)

    @property
    def tot_num_lps(self) -> int:
        """TOT_NUM_LPS of the SEAM sysinfo table: the LPs MCHECK found when this platform
        booted, so not an empty slot.  The module counts TDH.SYS.LP.INIT against it before
        TDH.SYS.CONFIG and TDH.SYS.UPDATE, the P-SEAMLDR its SEAMLDR.INSTALL calls.
        Spec: intel/tdx-module src/common/data_structures/loader_data.h (mcheck_fields),
        tdh_sys_init.c tdx_init_global_data() (num_of_lps), tdh_sys_config.c (TDX 1.5.01)."""
        return len(self.present_lps)

    @property
    def tot_num_sockets(self) -> int:
        """TOT_NUM_SOCKETS of the sysinfo table: packages with an LP present at boot; the
        module is SYS_READY once TDH.SYS.KEY.CONFIG ran on that many (tdh_sys_key_config.c)."""
        return len({self.lp_package(lp) for lp in self.present_lps})

    def lp_package(self, lp: int) -> int:
        """Package (socket) of a logical processor; LPs are numbered package-major."""
        return lp // (self.cores_per_package * self.threads_per_core)

    def lp_core(self, lp: int) -> int:
        """Platform-wide core index of an LP; the threads of one core share core-scoped MSRs."""
        return lp // self.threads_per_core

    def package_node(self, package: int) -> int:
        for node in self.numa:
            if package in node.packages:
                return node.id
        return 0

    def lp_node(self, lp: int) -> int:
        return self.package_node(self.lp_package(lp))

    @property
    def first_tdx_keyid(self) -> int:
        return self.mktme_keyids + 1

    def seamrr_of(self, lp: int) -> Seamrr:
        return self.seamrr[lp] if lp < len(self.seamrr) else self.seamrr[0]


__all__ = [
    "Cmr",
    "FROM_PROFILE",
    "GiB",
    "KiB",
    "LpValue",
    "MEMORY_KINDS",
    "MemoryRegion",
    "MiB",
    "ModuleInfo",
    "NumaNode",
    "Platform",
    "Seamrr",
    "Span",
]
