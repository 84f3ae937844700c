# SPDX-License-Identifier: MIT
"""What CPUID answers on each LP of a platform, leaf by leaf: the one CPUID of every CPU.

The caller's own code (the CPUID trap), the SEAM CPU running Intel's module and the module
model's TDH.SYS.INIT / TDH.SYS.LP.INIT sample all read this table, so they cannot disagree.

What CPUID returns is a fact of the CPU, not of TDX; seamemu's platforms describe one part in
the shape of a 4th-generation Xeon (family 6, model 0x8F).  The values are chosen, the layouts
are the SDM's (Vol. 2A "CPUID"), and every bit Intel's TDX module checks holds: the
verify_mask/verify_value pairs of intel/tdx-module TDX_1.5.01
include/auto_gen/cpuid_configurations.c, and the special cases of
src/vmm_dispatcher/api_calls/tdh_sys_init.c check_cpuid_configurations() (leaf 0x1F
topology and the L3 sharing of leaf 4 subleaf 3, leaf 0xA version >= 5 and at most 7 fixed
counters, leaf 0xD subleaves 11 and 12 supervisor states, leaf 0x15 TSC ratio, leaf 0x1C LBR
depth, leaf 0x80000008 52 physical and 48 linear address bits).  The fields the platform's own facts
imply (platform/cpuid_values.py: VMX, SMX, TME_EN, the address widths) are written over them.

Per-LP fields follow the platform's topology: the x2APIC ID (leaves 0xB/0x1F EDX, leaf 1
EBX[31:24]) is package << package shift | core << SMT shift | thread, and leaf 4 reports the
sharing that implies.  The physical-address width is the platform's `max_pa`, MAXPHYADDR with
the KeyID bits included: the CPU reports the full width and software subtracts the KeyID bits
(Linux arch/x86/kernel/cpu/intel.c, detect_tme_early(): c->x86_phys_bits -= keyid_bits), and
Intel's module requires 52 (cpuid_lookup[] leaf 0x80000008: EAX[7:0] == 0x34).  A platform
file's `[[cpuid]]` entries (schema_lp.py) replace any register of any leaf, on every LP or
some, last.  A leaf above the highest basic or extended leaf answers as the highest basic leaf
(SDM Vol. 2A CPUID: "If a value entered for CPUID.EAX is higher than the maximum input value
for basic or extended function ..., the data for the highest basic information leaf is
returned").
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from seamemu.arch.cpuid import CpuidField
from seamemu.platform.cpuid_values import cpuid_values
from seamemu.platform.facts import Platform
from seamemu.platform.schema_lp import NO_SUBLEAF

Regs = tuple[int, int, int, int]   # EAX, EBX, ECX, EDX

# Leaves whose ECX input selects a subleaf; for every other leaf ECX is ignored.
# Spec: SDM Vol. 2A CPUID, table "Information Returned by CPUID Instruction" (the sub-leaf,
# "initial ECX", of each leaf).
SUBLEAF_LEAVES = frozenset({0x4, 0x7, 0xB, 0xD, 0xF, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1D,
                            0x1F, 0x20, 0x23})
MAX_BASIC_LEAF = 0x23        # the TDX module needs at least 0x1F (CPUID_MIN_LAST_CPU_BASE_LEAF)
MAX_EXTENDED_LEAF = 0x80000008
FAMILY_MODEL_STEPPING = 0x000806F8   # leaf 1 EAX: family 6, model 0x8F, stepping 8
LEVEL_SMT, LEVEL_CORE = 1, 2         # leaf 0xB/0x1F ECX[15:8] level types

# Topology-independent rows, sorted by (leaf, subleaf): the part's features.
# Leaf 1 ECX/EDX and leaf 7 carry every feature bit the module's verify masks require
# (SSE3..AVX, XSAVE/OSXSAVE-capable, RDRAND; FPU..HTT; FSGSBASE, SMEP, ERMS, INVPCID, ...).
_FIXED: tuple[tuple[tuple[int, int], Regs], ...] = (
    ((0x0, 0), (MAX_BASIC_LEAF, 0x756E6547, 0x6C65746E, 0x49656E69)),   # "GenuineIntel"
    ((0x6, 0), (0x00000004, 0, 0, 0)),              # ARAT; EAX[23] clear as the module needs
    # EBX[11] RTM: TDX 1.0's cpuid_lookup[] requires it (1.5 only samples it: rtm_supported).
    ((0x7, 0), (0x00000002, 0x21942FEB, 0x99000000, 0xFC080400)),
    ((0x7, 1), (0, 0, 0, 0)),                       # no ArchPerfmonExt: leaf 0x23 stays zero
    ((0x7, 2), (0, 0, 0, 0x00000017)),              # PSFD, IPRED/RRSBA/BHI controls
    # PMU v5, 8 GP / 4 fixed counters; ECX: the fixed counters 0-3 present (TDX 1.0's
    # cpuid_lookup[] requires ECX[3:0] = 0xF; 1.5 requires only ECX[31:7] = 0).
    ((0xA, 0), (0x08300805, 0, 0x0000000F, 0x00008604)),
    # XSAVE: x87, SSE, AVX, AVX-512 (opmask, ZMM_Hi256, Hi16_ZMM), PKRU, AMX (TILECFG,
    # TILEDATA) in XCR0; PT, CET_U, CET_S, UINTR, arch LBR in IA32_XSS (supervisor, ECX[0]).
    # Sizes and offsets are the SDM's standard layout (Vol. 1 §13.4, Table 13-1 era values).
    ((0xD, 0), (0x000602E7, 0x00002B00, 0x00002B00, 0)),
    ((0xD, 1), (0x0000001F, 0x00002F00, 0x0000D900, 0)),  # XSAVES, XFD; IA32_XSS bits
    ((0xD, 2), (0x00000100, 0x00000240, 0, 0)),     # AVX: 256 bytes at 576
    ((0xD, 5), (0x00000040, 0x00000440, 0, 0)),     # opmask
    ((0xD, 6), (0x00000200, 0x00000480, 0, 0)),     # ZMM_Hi256
    ((0xD, 7), (0x00000400, 0x00000680, 0, 0)),     # Hi16_ZMM
    ((0xD, 8), (0x00000080, 0, 0x00000001, 0)),     # PT: supervisor
    ((0xD, 9), (0x00000008, 0x00000A80, 0, 0)),     # PKRU
    ((0xD, 11), (0x00000010, 0, 0x00000001, 0)),    # CET_U: supervisor (ECX[0])
    ((0xD, 12), (0x00000018, 0, 0x00000001, 0)),    # CET_S: supervisor (ECX[0])
    ((0xD, 14), (0x00000030, 0, 0x00000001, 0)),    # UINTR: supervisor
    ((0xD, 15), (0x00000328, 0, 0x00000001, 0)),    # arch LBR: supervisor
    ((0xD, 17), (0x00000040, 0x00000AC0, 0x00000002, 0)),  # TILECFG, 64-byte aligned
    ((0xD, 18), (0x00002000, 0x00000B00, 0x00000006, 0)),  # TILEDATA, aligned, XFD
    ((0x14, 0), (0x00000001, 0, 0, 0)),             # Processor Trace, max subleaf 1
    ((0x15, 0), (0x00000002, 0x000000BE, 0x017D7840, 0)),  # TSC = 25 MHz x 190 / 2
    ((0x1C, 0), (0x4000000F, 0x00000007, 0x00000007, 0)),  # architectural LBR, depth 8..32
    ((0x80000000, 0), (MAX_EXTENDED_LEAF, 0, 0, 0)),
    ((0x80000001, 0), (0, 0, 0x00000121, 0x2C100800)),  # LAHF, LZCNT, PREFETCHW; SYSCALL, NX,
                                                        # 1 GiB pages, RDTSCP, LM
    ((0x80000006, 0), (0, 0, 0x08007040, 0)),       # 64-byte lines
    ((0x80000007, 0), (0, 0, 0, 0x00000100)),       # invariant TSC
)


def _shift(n: int) -> int:
    """Bits needed to number `n` items (0 for one)."""
    return max(0, (n - 1).bit_length())


def topology_shifts(p: Platform) -> tuple[int, int]:
    """(SMT shift, package shift) of the x2APIC ID; a package spans at least 2 IDs."""
    smt = _shift(p.threads_per_core)
    return smt, max(1, smt + _shift(p.cores_per_package))


def x2apic_id(p: Platform, lp: int) -> int:
    smt, pkg = topology_shifts(p)
    per_pkg = p.cores_per_package * p.threads_per_core
    package, rest = divmod(lp, per_pkg)
    core, thread = divmod(rest, p.threads_per_core)
    return (package << pkg) | (core << smt) | thread


def addressable_lps_per_package(p: Platform) -> int:
    """x2APIC IDs per package: the P-SEAMLDR's per-socket count (L3 sharing, power of two)."""
    return 1 << topology_shifts(p)[1]


def cpuid_table(p: Platform, lp: int) -> dict[tuple[int, int], Regs]:
    """Every (leaf, subleaf) `lp` answers with something other than zeros."""
    smt, pkg = topology_shifts(p)
    apic = x2apic_id(p, lp)
    per_pkg = p.cores_per_package * p.threads_per_core
    cores_field = ((1 << (pkg - smt)) - 1) << 26          # EAX[31:26]: cores per package - 1
    smt_share = ((1 << smt) - 1) << 14                    # EAX[25:14]: IDs sharing L1/L2
    pkg_share = ((1 << pkg) - 1) << 14                    # IDs sharing L3: the whole package
    t: dict[tuple[int, int], Regs] = dict(_FIXED)
    t[(0x1, 0)] = (FAMILY_MODEL_STEPPING, 0x00000800 | ((1 << pkg) << 16) | (apic << 24),
                   0x7FFEFBFF, 0xBFEBFBFF)
    t[(0x4, 0)] = (0x121 | smt_share | cores_field, 0x02C0003F, 63, 0)     # L1d 48 KiB
    t[(0x4, 1)] = (0x122 | smt_share | cores_field, 0x01C0003F, 63, 0)     # L1i 32 KiB
    t[(0x4, 2)] = (0x143 | smt_share | cores_field, 0x03C0003F, 2047, 0)   # L2 2 MiB
    t[(0x4, 3)] = (0x163 | pkg_share | cores_field, 0x0380003F, 0xFFFF, 0x4)  # L3, inclusive
    for leaf in (0xB, 0x1F):
        t[(leaf, 0)] = (smt, p.threads_per_core, 0 | LEVEL_SMT << 8, apic)
        t[(leaf, 1)] = (pkg, per_pkg, 1 | LEVEL_CORE << 8, apic)
        t[(leaf, 2)] = (0, 0, 2, apic)
    t[(0x80000008, 0)] = (0, 0x00000200, 0, 0)   # WBNOINVD; the address widths are fields
    for f, value in cpuid_values(p).items():
        _write_field(t, f, value)
    for entry in p.cpuid:          # the platform file's [[cpuid]] entries, later ones win
        if entry.applies(lp):
            leaf, sub = entry.key & 0xFFFFFFFF, entry.key >> 32
            key = (leaf, 0 if sub == NO_SUBLEAF or leaf not in SUBLEAF_LEAVES else sub)
            regs = list(t.get(key, (0, 0, 0, 0)))
            regs[entry.reg] = entry.value
            t[key] = (regs[0], regs[1], regs[2], regs[3])
    return t


_REGISTER_INDEX = {"eax": 0, "ebx": 1, "ecx": 2, "edx": 3}


def _write_field(t: dict[tuple[int, int], Regs], f: CpuidField, value: int) -> None:
    key = (f.leaf, f.subleaf or 0)
    regs = list(t.get(key, (0, 0, 0, 0)))
    i = _REGISTER_INDEX[f.register]
    regs[i] = (regs[i] & ~f.mask) | ((value << f.lo) & f.mask)
    t[key] = (regs[0], regs[1], regs[2], regs[3])


@cache
def default_cpuid_table(lp: int) -> Mapping[tuple[int, int], Regs]:
    """The table of a machine described by no platform file (the Platform defaults)."""
    return MappingProxyType(cpuid_table(Platform(name="defaults", memory=(), cmrs=()), lp))


def cpuid(table: Mapping[tuple[int, int], Regs], leaf: int, subleaf: int) -> Regs:
    """CPUID(leaf, subleaf) from a table; absent leaves read zero, topology levels past the
    last still name their subleaf and the x2APIC ID (SDM: ECX[7:0] echoes the input), and a
    leaf above the highest basic or extended one answers as the highest basic leaf."""
    leaf &= 0xFFFFFFFF
    top = table.get((0, 0), (0, 0, 0, 0))[0]
    if leaf > top and not 0x80000000 <= leaf <= table.get((0x80000000, 0), (0, 0, 0, 0))[0]:
        leaf = top
    subleaf = subleaf & 0xFFFFFFFF if leaf in SUBLEAF_LEAVES else 0
    regs = table.get((leaf, subleaf))
    if regs is not None:
        return regs
    if leaf in (0xB, 0x1F):
        return (0, 0, subleaf & 0xFF, table[(leaf, 0)][3])
    return (0, 0, 0, 0)


__all__ = [
    "MAX_BASIC_LEAF",
    "Regs",
    "SUBLEAF_LEAVES",
    "addressable_lps_per_package",
    "cpuid",
    "cpuid_table",
    "default_cpuid_table",
    "topology_shifts",
    "x2apic_id",
]
