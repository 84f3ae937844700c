# SPDX-License-Identifier: MIT
"""Semantic checks of a platform description: one problem line per mistake, never an exception.

Spec: CMR rules from intel/tdx-module tdx_1.5 src/vmm_dispatcher/api_calls/tdh_sys_init.c
`check_cmrs` (4 KiB aligned, sorted, non-overlapping, below MAX_PA with KeyID bits clear) and
include/tdx_api_defs.h (MAX_CMR 32); CMRs are physically present at boot (MCHECK verifies
them); SEAMRR layout from src/common/x86_defs/msr_defs.h (power of two >= 32 MiB, core-scoped);
KeyID space from msr_defs.h ia32_tme_activate_t (KeyID 0 plus MKTME plus TDX KeyIDs must fit in
2^MK_TME_KEYID_BITS).  Our own choices are marked "seamemu:".
"""

from __future__ import annotations

from collections.abc import Sequence

from seamemu.jsonout import hex64
from seamemu.platform.facts import KiB, Platform, Seamrr, Span
from seamemu.platform.units import fmt_range

MAX_CMR = 32            # Spec: tdx_api_defs.h MAX_CMR
BOOT_LP = 0             # the BSP: the LP the kernel boots on (LP numbering: docs/platform.md)
MAX_LPS = 1024          # seamemu: the machine keeps one context per LP
MAX_REGIONS = 1024      # seamemu: memory-map entries (Linux keeps a few hundred E820 entries)
MAX_NODES = 1024
_ABSENT = "hotplug"     # an empty hot-pluggable slot holds no memory


def _overlap(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


def first_gap(p: Platform, base: int, size: int) -> tuple[int, int] | None:
    """The first part of [base, base+size) not covered by present memory, as (start, end)."""
    regions = sorted((m.base, m.end) for m in p.memory if m.kind != _ABSENT)
    pos, end = base, base + size
    for r0, r1 in regions:
        if r1 <= pos:
            continue
        if r0 > pos:
            return pos, min(r0, end)
        pos = r1
        if pos >= end:
            return None
    return (pos, end) if pos < end else None


def _check_topology(p: Platform, out: list[str]) -> None:
    if p.num_lps > MAX_LPS:
        out.append(f"cpu: {p.num_lps} LPs is more than seamemu emulates (at most {MAX_LPS})")
    for lp in sorted(p.absent_lps):
        if lp >= p.num_lps:
            out.append(f"cpu.absent_lps: LP {lp} does not exist (LPs are 0..{p.num_lps - 1})")
        elif lp == BOOT_LP:
            # The kernel boots on the BSP; its slot cannot be empty at boot (an empty slot is
            # what a CPU hot-add fills later), and the BSP is never hot-removed on x86.
            out.append(f"cpu.absent_lps: LP {lp} is the boot CPU; it is present at boot")
    seen: dict[int, int] = {}
    for i, node in enumerate(p.numa):
        if node.id in {n.id for n in p.numa[:i]}:
            out.append(f"numa[{i}]: node id {node.id} is declared twice")
        for pkg in node.packages:
            if pkg >= p.packages:
                out.append(f"numa[{i}]: package {pkg} does not exist (packages are "
                           f"0..{p.packages - 1})")
            elif pkg in seen:
                out.append(f"numa[{i}]: package {pkg} is already in numa[{seen[pkg]}]")
            else:
                seen[pkg] = i
    if p.numa:
        for pkg in range(p.packages):
            if pkg not in seen:
                out.append(f"numa: package {pkg} belongs to no node")


def _range_ok(p: Platform, where: str, base: int, size: int, empty: str, out: list[str]) -> bool:
    """What any range a platform file gives must be: not empty, whole 4 KiB pages, and below
    the KeyID bits at the top of MAXPHYADDR.  False for an empty range (nothing more to say)."""
    if size == 0:
        out.append(f"{where}: size is 0{empty}")
        return False
    for what, v in (("base", base), ("size", size)):
        if v % (4 * KiB):
            out.append(f"{where}: {what} {hex64(v)} is not 4 KiB aligned")
    limit = 1 << (p.max_pa - p.keyid_bits)
    if base + size > limit:
        out.append(f"{where}: {fmt_range(base, size)} reaches above {hex64(limit)}: the "
                   f"top {p.keyid_bits} of {p.max_pa} physical address bits carry the KeyID")
    return True


def _overlaps(where: str, base: int, size: int, earlier: Sequence[Span],
              what: str, out: list[str]) -> None:
    for j, n in enumerate(earlier):
        if n.size and _overlap(base, base + size, n.base, n.end):
            out.append(f"{where}: {fmt_range(base, size)} overlaps {what}[{j}] "
                       f"{fmt_range(n.base, n.size)}")


def _check_memory(p: Platform, out: list[str]) -> None:
    nodes = {n.id for n in p.numa} or {0}
    for i, m in enumerate(p.memory):
        where = f"memory[{i}]"
        if not _range_ok(p, where, m.base, m.size, "", out):
            continue
        if m.node not in nodes:
            out.append(f"{where}: node {m.node} is not a declared NUMA node "
                       f"({', '.join(map(str, sorted(nodes)))})")
        _overlaps(where, m.base, m.size, p.memory[:i], "memory", out)
    if not any(m.kind == "usable" for m in p.memory):
        out.append("memory: no usable region (the emulator needs RAM to run code in)")


def _check_cmrs(p: Platform, out: list[str]) -> None:
    for i, c in enumerate(p.cmrs):
        where = f"cmr[{i}]"
        if not _range_ok(p, where, c.base, c.size, " (a CMR_INFO entry of size 0 means 'no CMR')",
                         out):
            continue
        if i and c.base < p.cmrs[i - 1].base:
            out.append(f"{where}: base {hex64(c.base)} is below cmr[{i - 1}]'s: MCHECK lists "
                       "CMRs sorted by base")
        _overlaps(where, c.base, c.size, p.cmrs[:i], "cmr", out)
        gap = first_gap(p, c.base, c.size)
        if gap:
            out.append(f"{where}: {fmt_range(c.base, c.size)} is not backed by memory (nothing "
                       f"present at {fmt_range(gap[0], gap[1] - gap[0])}; MCHECK requires CMR "
                       "memory to be present at boot)")


def _lp_list(lps: list[int]) -> str:
    return ", ".join(map(str, lps))


def _check_seamrr_value(p: Platform, s: Seamrr, where: str, out: list[str]) -> None:
    if not (s.configured or s.valid):
        return  # BIOS left SEAMRR off; nothing describes a range
    rng = s.range(p.max_pa)
    if rng is None:
        out.append(f"{where}: IA32_SEAMRR_PHYS_MASK {hex64(s.mask_msr)} is not a contiguous "
                   "mask (the SEAM range is one power-of-two block)")
        return
    base, size = rng
    if base % size:
        out.append(f"{where}: base {hex64(base)} is not aligned to the range size {hex64(size)}")
    if first_gap(p, base, size):
        out.append(f"{where}: range {fmt_range(base, size)} outside memory")
    for i, m in enumerate(p.memory):
        if m.kind == "usable" and _overlap(base, base + size, m.base, m.end):
            out.append(f"{where}: range {fmt_range(base, size)} overlaps usable memory[{i}]; the "
                       "BIOS must reserve the SEAM range (only SEAM software may access it)")


def _check_seamrr(p: Platform, out: list[str]) -> None:
    if len(p.seamrr) != p.num_lps:
        out.append(f"seamrr: {len(p.seamrr)} values for {p.num_lps} LPs (one per LP)")
        return
    groups: dict[Seamrr, list[int]] = {}
    for lp, s in enumerate(p.seamrr):
        groups.setdefault(s, []).append(lp)
    for s, lps in groups.items():
        where = "seamrr" if len(groups) == 1 else f"seamrr (lp {_lp_list(lps)})"
        _check_seamrr_value(p, s, where, out)
    for lp in range(p.num_lps - 1):
        if p.lp_core(lp) == p.lp_core(lp + 1) and p.seamrr[lp] != p.seamrr[lp + 1]:
            out.append(f"seamrr: lp {lp} and lp {lp + 1} are threads of core {p.lp_core(lp)} but "
                       "differ (the SEAMRR MSRs are core-scoped)")


def _check_tdx(p: Platform, out: list[str]) -> None:
    need = 1 + p.mktme_keyids + p.tdx_keyids
    if need > 1 << p.keyid_bits:
        out.append(f"keyids: mktme {p.mktme_keyids} + tdx {p.tdx_keyids} needs {need} KeyIDs "
                   f"but keyid_bits={p.keyid_bits} holds {1 << p.keyid_bits}")
    if p.keyid_bits >= p.max_pa:
        out.append(f"keyids: {p.keyid_bits} KeyID bits leave no address bits below "
                   f"max_pa={p.max_pa}")
    if p.tdx_enabled_by_bios:
        if not p.mtrrcap_seamrr:
            out.append("bios: TDX is enabled but IA32_MTRRCAP.SEAMRR (bit 15) is clear")
        if p.seamrr and not (p.seamrr[0].configured and p.seamrr[0].valid):
            out.append("bios: TDX is enabled but LP 0's SEAMRR is not configured and valid")
    else:
        if p.module is not None:
            out.append("module: a TDX module is installed but TDX is disabled by BIOS "
                       "(the module lives in SEAMRR)")
        if p.pseamldr:
            out.append("pseamldr: present but TDX is disabled by BIOS (P-SEAMLDR lives in SEAMRR)")
        if p.tdx_keyids:
            out.append(f"keyids: tdx {p.tdx_keyids} but TDX is disabled by BIOS (the BIOS "
                       "partitions no TDX KeyIDs then)")
    m = p.module
    if m is not None and f"{m.major}.{m.minor}" != m.abi:
        out.append(f"module: version {m.major}.{m.minor}.{m.update} does not match abi {m.abi}")


def validate_platform(p: Platform) -> list[str]:
    """Every problem with `p`, one line each, naming the field (empty when `p` is sound)."""
    out: list[str] = []
    if not p.name:
        out.append("name: empty")
    # Pairwise checks below are quadratic: refuse absurd sizes before running them.
    for what, n, cap in (("memory", len(p.memory), MAX_REGIONS), ("cmr", len(p.cmrs), MAX_CMR),
                         ("numa", len(p.numa), MAX_NODES)):
        if n > cap:
            out.append(f"{what}: {n} entries, more than the {cap} "
                       f"{'MCHECK reports' if what == 'cmr' else 'seamemu accepts'}")
    if out:
        return out
    _check_topology(p, out)
    _check_memory(p, out)
    _check_cmrs(p, out)
    _check_seamrr(p, out)
    _check_tdx(p, out)
    return out


__all__ = ["MAX_CMR", "first_gap", "validate_platform"]
