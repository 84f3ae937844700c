# SPDX-License-Identifier: MIT
"""What TDH.SYS.INIT and TDH.SYS.LP.INIT check of each CPUID leaf (the module's cpuid_lookup[]).

TDH.SYS.INIT samples every leaf on its LP and refuses a platform whose value, ANDed with
VERIFY_MASK, differs from VERIFY_VALUE (TDX_INCORRECT_CPUID_VALUE); TDH.SYS.LP.INIT samples
them again on each LP and refuses one whose VERIFY_SAME bits differ from TDH.SYS.INIT's LP
(TDX_INCONSISTENT_CPUID_FIELD).  Registers are (EAX, EBX, ECX, EDX); NA = no sub-leaf.  Entries
are in array-index order, the order the checks walk them, as seamemu/data/tdx_module/
cpuid_lookup.txt lists them.

Spec: intel/tdx-module TDX_1.5.01 (72d8cff) include/auto_gen/cpuid_configurations.c cpuid_lookup[]
(tdh_sys_init.c check_cpuid_configurations, tdh_sys_lp_init.c compare_cpuid_configuration);
qizhangz/tdx-module (TDX 1.0, 9359de5) the same file.  Later 1.5 releases have more entries
(68 at e98d963); the model uses the TDX_1.5.01 table for every 1.5 release.
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.arch.datafile import read_sections

NA = 0xFFFFFFFF
Regs = tuple[int, int, int, int]
_ZERO: Regs = (0, 0, 0, 0)


@dataclass(frozen=True)
class CpuidCheck:
    leaf: int
    sub_leaf: int
    verify_mask: Regs = _ZERO
    verify_value: Regs = _ZERO
    verify_same: Regs = _ZERO

    @property
    def leaf_subleaf(self) -> int:
        return self.leaf | self.sub_leaf << 32


_ALL: Regs = (0xFFFFFFFF,) * 4


def _regs(words: list[str]) -> Regs:
    if words == ["-"]:
        return _ZERO
    if words == ["all"]:
        return _ALL
    a, b, c, d = (int(w, 0) for w in words)
    return a, b, c, d


def _check(words: list[str]) -> CpuidCheck:
    # "leaf sub | mask | value | same" (seamemu/data/tdx_module/cpuid_lookup.txt)
    head, mask, value, same = " ".join(words).split("|")
    leaf, sub = head.split()
    return CpuidCheck(int(leaf, 0), NA if sub == "NA" else int(sub, 0), _regs(mask.split()),
                      _regs(value.split()), _regs(same.split()))


_TABLES = read_sections("cpuid_lookup.txt")
CPUID_LOOKUP_1_5: tuple[CpuidCheck, ...] = tuple(_check(w) for w in _TABLES["1.5"])
CPUID_LOOKUP_1_0: tuple[CpuidCheck, ...] = tuple(_check(w) for w in _TABLES["1.0"])

__all__ = ["CPUID_LOOKUP_1_0", "CPUID_LOOKUP_1_5", "CpuidCheck", "NA"]
