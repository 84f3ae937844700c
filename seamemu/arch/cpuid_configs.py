# SPDX-License-Identifier: MIT
"""The CPUID leaves each TDX module release lets the host configure (the CPUID_CONFIG list).

A module reports, per configurable leaf/sub-leaf, CONFIG_DIRECT bits (the host sets them freely)
OR'ed with the ALLOW_DIRECT bits the native CPU has.  The list is the module's
cpuid_configurable[] array, in array-index order (TDH.SYS.INFO's cpuid_config_list and
TDH.SYS.RD's CPUID_CONFIG_LEAVES[i] / CPUID_CONFIG_VALUES[i] follow that index).

Spec: qizhangz/tdx-module (TDX 1.0, 9359de5) include/auto_gen/cpuid_configurations.c
(6 entries); intel/tdx-module TDX_1.5.01 (72d8cff) include/auto_gen/cpuid_configurations.c
(MAX_NUM_CPUID_CONFIG 12); intel/tdx-module e98d963 (1.5.05) same file (18 entries: the six
CPUID(0x1F) sub-leaves added at indices 12..17); intel/tdx-module 1666adc (2.0.08)
include/auto_gen_2_0/cpuid_configurations.c (MAX_NUM_CPUID_CONFIG 28 in
cpuid_configurations_defines.h: CPUID(0x19) at 18 and nine CPUID(0x18) sub-leaves at 19..27;
new ALLOW_DIRECT bits in leaves 1, 7.0 and 7.1; CONFIG_DIRECT EDX 0x7 on every CPUID(4)
sub-leaf).
"""

from __future__ import annotations

from dataclasses import dataclass

NO_SUBLEAF = 0xFFFFFFFF          # CPUID_SUBLEAF_NA: the leaf has no sub-leaves


@dataclass(frozen=True)
class CpuidConfigurable:
    """One cpuid_configurable[] entry: registers as (eax, ebx, ecx, edx)."""

    leaf: int
    sub_leaf: int
    config_direct: tuple[int, int, int, int] = (0, 0, 0, 0)
    allow_direct: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def leaf_subleaf(self) -> int:
        """The u64 CPUID_CONFIG_LEAVES element: leaf in bits 31:0, sub-leaf in 63:32."""
        return self.leaf | self.sub_leaf << 32

    def values(self, native: tuple[int, int, int, int] | None = None) -> tuple[int, int, int, int]:
        """CONFIG_DIRECT | (ALLOW_DIRECT & native).  `native` None: a CPU with every
        ALLOW_DIRECT bit (the model has no native CPUID values; see module_versions)."""
        nat = native if native is not None else (0xFFFFFFFF,) * 4
        return tuple(c | (a & n) for c, a, n in zip(self.config_direct, self.allow_direct, nat))  # type: ignore[return-value]


_C = CpuidConfigurable
_CACHE_PARAMS = (0xFFFFC3FF, 0xFFFFF000, 0xFFFFFFFF, 0xFFFFFFFB)    # CPUID(4) sub-leaves 0..2
_TOPOLOGY = (0x1F, 0xFFFF, 0xFFFF, 0)                                  # CPUID(0x1F) sub-leaves

# Index order = cpuid_configurable[] index.
CPUID_CONFIGS_1_0: tuple[CpuidConfigurable, ...] = (
    _C(0x1, NO_SUBLEAF, (0, 0xFF0000, 0, 0), (0, 0, 0x44180, 0xB0400000)),
    _C(0x4, 0, (0xFFFFFFFF, 0xFFFFF000, 0xFFFFFFFF, 0xFFFFFFFF)),
    _C(0x4, 1, (0xFFFFFFFF, 0xFFFFF000, 0xFFFFFFFF, 0xFFFFFFFF)),
    _C(0x4, 2, (0xFFFFFFFF, 0xFFFFF000, 0xFFFFFFFF, 0xFFFFFFFF)),
    _C(0x4, 3, (0xFFFFFFFF, 0xFFFFF000, 0xFFFFFFFF, 0xFFFFFFFF)),
    _C(0x7, 0, allow_direct=(0, 0x89108, 0x2020, 0x40000)),
)

CPUID_CONFIGS_1_5_01: tuple[CpuidConfigurable, ...] = (
    _C(0x1, NO_SUBLEAF, (0x0FFF3FFF, 0xFF0000, 0, 0), (0, 0, 0x31044D88, 0xB8440000)),
    _C(0x4, 0, _CACHE_PARAMS),
    _C(0x4, 1, _CACHE_PARAMS),
    _C(0x4, 2, _CACHE_PARAMS),
    _C(0x4, 3, (0xFFFFC3FF, 0xFFFFF000, 0xFFFFFFFF, 0x7)),
    _C(0x7, 0, allow_direct=(0, 0xDC2B9B18, 0x2417F65, 0x5411C)),
    _C(0x7, 1, allow_direct=(0x1D30, 0, 0, 0)),
    _C(0xA, NO_SUBLEAF),
    _C(0x1C, NO_SUBLEAF, allow_direct=(0xFF, 0, 0, 0)),
    _C(0x80000008, NO_SUBLEAF, allow_direct=(0, 0x200, 0, 0)),
    _C(0x7, 2, allow_direct=(0, 0, 0, 0x28)),
    _C(0x23, 0, allow_direct=(0xF, 0, 0, 0)),
)

CPUID_CONFIGS_1_5_05: tuple[CpuidConfigurable, ...] = (
    CPUID_CONFIGS_1_5_01[:6]
    + (_C(0x7, 1, allow_direct=(0x4001D30, 0, 0, 0x430)),)
    + CPUID_CONFIGS_1_5_01[7:]
    + tuple(_C(0x1F, sub, _TOPOLOGY) for sub in range(6))
)

CPUID_CONFIGS_2_0_08: tuple[CpuidConfigurable, ...] = (
    _C(0x1, NO_SUBLEAF, (0x0FFF3FFF, 0xFF0000, 0, 0), (0, 0, 0x31044D88, 0xB8445080)),
    *(_C(0x4, sub, (0xFFFFC3FF, 0xFFFFF000, 0xFFFFFFFF, 0x7)) for sub in range(4)),
    _C(0x7, 0, allow_direct=(0, 0xDC2B9B18, 0x2417F65, 0x4005411C)),
    _C(0x7, 1, allow_direct=(0x4A81DBF, 0, 0, 0x24430)),
    _C(0xA, NO_SUBLEAF),
    _C(0x1C, NO_SUBLEAF, allow_direct=(0xFF, 0, 0, 0)),
    _C(0x80000008, NO_SUBLEAF, (0xFF, 0, 0, 0), (0, 0x200, 0, 0)),
    _C(0x7, 2, allow_direct=(0, 0, 0, 0x28)),
    _C(0x23, 0, allow_direct=(0xF, 0, 0, 0)),
    *(_C(0x1F, sub, _TOPOLOGY) for sub in range(6)),
    _C(0x19, NO_SUBLEAF),
    *(_C(0x18, sub, (0, 0, 0, 0x3FFC000)) for sub in range(9)),
)

__all__ = [
    "CPUID_CONFIGS_1_0",
    "CPUID_CONFIGS_1_5_01",
    "CPUID_CONFIGS_1_5_05",
    "CPUID_CONFIGS_2_0_08",
    "CpuidConfigurable",
    "NO_SUBLEAF",
]
