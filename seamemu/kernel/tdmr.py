# SPDX-License-Identifier: MIT
"""The kernels' TDX memory list and TDMRs: memblock walk, 1 GiB TDMRs, PAMTs, reserved areas.

Every generation builds them the same way; they differ in what they say.
Spec: Linux tdx.c at v6.8 and mainline: build_tdx_memlist() (memblock above the
first 1 MiB, nothing checked against the CMRs: TDH.SYS.CONFIG does that), fill_out_tdmrs()
(TDMR_ALIGNMENT = 1 GiB; "TDMRs exhausted." -ENOSPC; TDMR_NR_WARN), tdmr_get_pamt_sz(),
tdmr_get_nid(), tdmr_set_up_pamt() (one contiguous block per TDMR, 4K part first, then 2M,
then 1G), tdmr_populate_rsvd_holes(), tdmr_populate_rsvd_pamts(), rsvd_area_cmp_func(),
tdmr_add_rsvd_area() ("reserved areas exhausted." -ENOSPC), tdmrs_count_pamt_kb().
v5-2022 ([PATCH v5 14-16/22] create_tdmrs(), tdmr_set_up_pamt(), tdmr_set_up_rsvd_areas()):
the same construction from memblock, one PAMT entry size for all page sizes, and silent:
-E2BIG when TDMRs or reserved areas run out, no early warning, WARN_ON_ONCE (no message)
for a TDMR without a node.  Pure: no session, no engine.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import dataclass, field

from seamemu.arch.sysinfo import TDMR_INFO_ALIGNMENT, pack_tdmr_info
from seamemu.jsonout import JsonRecord, hex64, json_as
from seamemu.kernel.klog import KernelFailure, KernelLog
from seamemu.platform.facts import Platform
from seamemu.platform.units import cut_out

PAGE = 4096
SZ_1M = 1 << 20
TDMR_ALIGNMENT = 1 << 30                  # tdx.c TDMR_ALIGNMENT (SZ_1G)
TDMR_NR_WARN = 4                          # tdx.h: warn with fewer spare TDMRs than this
TDX_PS_4K, TDX_PS_2M, TDX_PS_1G = 0, 1, 2
PAGE_SHIFTS = {TDX_PS_4K: 12, TDX_PS_2M: 21, TDX_PS_1G: 30}   # PAGE/PMD/PUD_SHIFT
PS_NAMES = {TDX_PS_4K: "4K", TDX_PS_2M: "2M", TDX_PS_1G: "1G"}


def align_up(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def align_down(value: int, to: int) -> int:
    return value // to * to


@dataclass(frozen=True)
class TdxMemblock(JsonRecord):
    """One entry of the kernel's tdx_memlist: [start, end) on NUMA node `nid`."""

    start: int = field(metadata=json_as(hex64))
    end: int = field(metadata=json_as(hex64))
    nid: int


@dataclass(frozen=True)
class Tdmr:
    """One TDMR as handed to TDH.SYS.CONFIG; PAMTs and reserved areas as (base|offset, size)."""

    base: int
    size: int
    nid: int                                           # node its PAMT was allocated for
    pamt: tuple[tuple[int, int], ...]                  # indexed by TDX_PS_*
    reserved: tuple[tuple[int, int], ...] = ()         # (offset, size), sorted

    @property
    def end(self) -> int:
        return self.base + self.size

    @property
    def pamt_base(self) -> int:       # tdmr_get_pamt(): the 4K part starts the block
        return self.pamt[TDX_PS_4K][0]

    @property
    def pamt_size(self) -> int:
        return sum(size for _base, size in self.pamt)

    def pack(self) -> bytes:
        """The TDMR_INFO entry bytes (320 of the kernel's 512-byte slot)."""
        return pack_tdmr_info(self.base, self.size, self.pamt[TDX_PS_4K], self.pamt[TDX_PS_2M],
                              self.pamt[TDX_PS_1G], self.reserved)

    def to_json(self) -> dict:
        return {
            "base": hex64(self.base), "size": hex64(self.size), "nid": self.nid,
            **{f"pamt_{PS_NAMES[ps].lower()}": {"base": hex64(b), "size": hex64(s)}
               for ps, (b, s) in enumerate(self.pamt)},
            "reserved": [{"offset": hex64(o), "size": hex64(s)}
                         for o, s in self.reserved],
        }


# ----------------------------------------------------------------------------- memory list
def memblock_regions(platform: Platform) -> list[TdxMemblock]:
    """memblock.memory as x86 builds it from the E820 map: usable RAM, page-rounded inward,
    with adjacent ranges of the same node merged (memblock merges them)."""
    out: list[TdxMemblock] = []
    for m in sorted(platform.memory, key=lambda r: r.base):
        if m.kind != "usable":
            continue
        start, end = align_up(m.base, PAGE), align_down(m.end, PAGE)
        if start >= end:
            continue
        if out and out[-1].end == start and out[-1].nid == m.node:
            out[-1] = TdxMemblock(out[-1].start, end, m.node)
        else:
            out.append(TdxMemblock(start, end, m.node))
    return out


def build_tdx_memlist(platform: Platform) -> list[TdxMemblock]:
    """The TDX memory list: memblock's regions with the first 1 MiB left out."""
    out: list[TdxMemblock] = []
    for blk in memblock_regions(platform):
        start = max(blk.start, SZ_1M)     # the first 1 MiB is not reported as convertible
        if start < blk.end:
            out.append(TdxMemblock(start, blk.end, blk.nid))
    return out


@dataclass(frozen=True)
class TdmrStyle:
    """How a generation reports running out of TDMRs or reserved areas."""

    verbose: bool            # 6.8+: pr_warn messages and the TDMR_NR_WARN early warning
    exhausted: int           # the errno: -ENOSPC (6.8+) or -E2BIG (v5-2022)


LINUX_STYLE = TdmrStyle(verbose=True, exhausted=-errno.ENOSPC)
V5_STYLE = TdmrStyle(verbose=False, exhausted=-errno.E2BIG)


# ----------------------------------------------------------------------------- TDMRs
def fill_out_tdmrs(memlist: Sequence[TdxMemblock], max_tdmrs: int, log: KernelLog,
                   style: TdmrStyle = LINUX_STYLE) -> list[list[int]]:
    """[base, size] per TDMR: one per memory block, 1 GiB aligned, skipping covered parts."""
    tdmrs: list[list[int]] = []
    for tmb in memlist:
        start, end = align_down(tmb.start, TDMR_ALIGNMENT), align_up(tmb.end, TDMR_ALIGNMENT)
        if tdmrs:
            prev_end = tdmrs[-1][0] + tdmrs[-1][1]
            if end <= prev_end:
                continue
            start = max(start, prev_end)
        if len(tdmrs) >= max_tdmrs:
            if style.verbose:
                log.tdx("initialization failed: TDMRs exhausted.", "warn")
            raise KernelFailure(style.exhausted)
        tdmrs.append([start, end - start])
    if style.verbose and max_tdmrs - len(tdmrs) < TDMR_NR_WARN:
        log.tdx(f"consumed TDMRs reaching limit: {len(tdmrs)} used out of {max_tdmrs}", "warn")
    return tdmrs


def tdmr_get_pamt_sz(tdmr_size: int, pgsz: int, entry_size: int) -> int:
    """(TDMR size >> page shift) x entry size, rounded up to 4 KiB."""
    return align_up((tdmr_size >> PAGE_SHIFTS[pgsz]) * entry_size, PAGE)


def tdmr_get_nid(base: int, end: int, memlist: Sequence[TdxMemblock], log: KernelLog,
                 style: TdmrStyle = LINUX_STYLE) -> int:
    """Node of the first memory block that ends after the TDMR begins."""
    for tmb in memlist:
        if tmb.end // PAGE > base // PAGE:
            return tmb.nid
    if style.verbose:
        log.tdx(f"TDMR [0x{base:x}, 0x{end:x}): unable to find local NUMA node for PAMT "
                "allocation, fallback to use node 0.", "warn")
    return 0


class PamtAllocator:
    """Stands in for alloc_contig_pages(): contiguous pages from the TDX memory of a node.

    The kernel takes what its page allocator hands out on the node (falling back to other
    nodes); here the block is taken from the top of the node's memory, below any block
    already handed out, and never from `avoid` (the emulator's image, stacks and scratch).
    """

    def __init__(self, memlist: Sequence[TdxMemblock], avoid: Sequence[tuple[int, int]] = ()):
        self._free: dict[int, list[tuple[int, int]]] = {}   # nid -> free [start, end) ranges
        for tmb in memlist:
            self._free.setdefault(tmb.nid, []).extend(_subtract((tmb.start, tmb.end), avoid))

    def alloc(self, size: int, nid: int) -> int | None:
        nodes = [nid] + sorted(n for n in self._free if n != nid)
        for n in nodes:
            ranges = self._free.get(n, [])
            for i in sorted(range(len(ranges)), key=lambda k: ranges[k][1], reverse=True):
                start, end = ranges[i]
                base = align_down(end - size, PAGE)
                if base >= start:
                    ranges[i] = (start, base)
                    return base
        return None


def _subtract(rng: tuple[int, int], holes: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    pieces = [rng]
    for h_start, h_end in holes:
        pieces = cut_out(pieces, h_start, h_end)
    return pieces


def set_up_pamts(tdmrs: list[list[int]], memlist: Sequence[TdxMemblock],
                 entry_sizes: Sequence[int], allocator: PamtAllocator, log: KernelLog,
                 style: TdmrStyle = LINUX_STYLE) -> list[tuple[int, tuple[tuple[int, int], ...]]]:
    """(nid, PAMT (base, size) per page size) for each TDMR, from one contiguous block."""
    out = []
    for base, size in tdmrs:
        nid = tdmr_get_nid(base, base + size, memlist, log, style)
        sizes = [tdmr_get_pamt_sz(size, ps, entry_sizes[ps]) for ps in (TDX_PS_4K, TDX_PS_2M,
                                                                         TDX_PS_1G)]
        block = allocator.alloc(sum(sizes), nid)
        if block is None:
            raise KernelFailure(-errno.ENOMEM)
        parts, at = [], block
        for sz in sizes:
            parts.append((at, sz))
            at += sz
        out.append((nid, tuple(parts)))
    return out


def _add_rsvd(areas: list[tuple[int, int]], base: int, end: int, addr: int, size: int,
              max_reserved: int, log: KernelLog, style: TdmrStyle) -> None:
    if len(areas) >= max_reserved:
        if style.verbose:
            log.tdx(f"initialization failed: TDMR [0x{base:x}, 0x{end:x}): reserved areas "
                    "exhausted.", "warn")
        raise KernelFailure(style.exhausted)
    areas.append((addr - base, size))


def populate_rsvd_areas(base: int, size: int, memlist: Sequence[TdxMemblock],
                        pamt_blocks: Sequence[tuple[int, int]], max_reserved: int,
                        log: KernelLog, style: TdmrStyle = LINUX_STYLE
                        ) -> tuple[tuple[int, int], ...]:
    """Holes between memory blocks inside the TDMR, then every PAMT block overlapping it."""
    end = base + size
    areas: list[tuple[int, int]] = []
    prev_end = base
    for tmb in memlist:
        if tmb.start >= end:
            break
        if tmb.end < base:
            continue
        if tmb.start <= prev_end:
            prev_end = tmb.end
            continue
        _add_rsvd(areas, base, end, prev_end, tmb.start - prev_end, max_reserved, log, style)
        prev_end = tmb.end
    if prev_end < end:
        _add_rsvd(areas, base, end, prev_end, end - prev_end, max_reserved, log, style)
    for p_base, p_size in pamt_blocks:
        p_end = p_base + p_size
        if p_end <= base or p_base >= end:
            continue
        p_base, p_end = max(p_base, base), min(p_end, end)
        _add_rsvd(areas, base, end, p_base, p_end - p_base, max_reserved, log, style)
    return tuple(sorted(areas))


def construct_tdmrs(memlist: Sequence[TdxMemblock], *, max_tdmrs: int, max_reserved: int,
                    entry_sizes: Sequence[int], allocator: PamtAllocator, log: KernelLog,
                    style: TdmrStyle = LINUX_STYLE) -> list[Tdmr]:
    """fill_out_tdmrs, then PAMTs for all, then reserved areas for all (the kernel's order)."""
    spans = fill_out_tdmrs(memlist, max_tdmrs, log, style)
    pamts = set_up_pamts(spans, memlist, entry_sizes, allocator, log, style)
    blocks = [(p[TDX_PS_4K][0], sum(s for _b, s in p)) for _nid, p in pamts]
    return [Tdmr(base, size, nid, pamt,
                 populate_rsvd_areas(base, size, memlist, blocks, max_reserved, log, style))
            for (base, size), (nid, pamt) in zip(spans, pamts)]


def tdmr_info_slot(max_reserved: int) -> int:
    """tdmr_size_single(): the TDMR_INFO size for this many reserved areas, 512-aligned."""
    return align_up(64 + 16 * max_reserved, TDMR_INFO_ALIGNMENT)


def pamt_kb(tdmrs: Sequence[Tdmr]) -> int:
    """tdmrs_count_pamt_kb(): every TDMR's PAMT block, in KiB."""
    return sum(t.pamt_size for t in tdmrs) // 1024


__all__ = [
    "LINUX_STYLE",
    "PAGE_SHIFTS",
    "PS_NAMES",
    "PamtAllocator",
    "TDMR_ALIGNMENT",
    "TDMR_NR_WARN",
    "TDX_PS_1G",
    "TDX_PS_2M",
    "TDX_PS_4K",
    "Tdmr",
    "TdmrStyle",
    "TdxMemblock",
    "V5_STYLE",
    "build_tdx_memlist",
    "construct_tdmrs",
    "fill_out_tdmrs",
    "memblock_regions",
    "pamt_kb",
    "populate_rsvd_areas",
    "tdmr_get_nid",
    "tdmr_get_pamt_sz",
    "tdmr_info_slot",
]
