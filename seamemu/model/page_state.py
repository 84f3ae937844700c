# SPDX-License-Identifier: MIT
"""What the module's PAMT says about each 4 KiB page of its TDMRs, kept compactly.

A TDMR's PAMT is a table in host memory with an entry per page; the model keeps, per TDMR, only
its reserved areas, how far TDH.SYS.TDMR.INIT got, and the few pages whose type changed since
(an interval map), so a terabyte of TDMRs costs a few small tuples and no per-page objects.

Spec: intel/tdx-module TDX_1.5.01 src/common/memory_handlers/pamt_manager.c: pamt_4kb_init (a
page inside a reserved area gets PT_RSVD, every other page PT_NDA; 2M and 1G entries start
PT_NDA, so a walk always ends at the 4K leaf), pamt_get_block (the covering TDMR is the last
one whose base is at or below the address; an address at or above last_initialized rounded down
to 1 GiB is refused: the VMM may use a 1 GiB block only once all of its PAMT is initialised).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from seamemu.arch.pamt import PAGE_1G, PageType


@dataclass
class PageTypes:
    """Page types of one TDMR: the reserved areas (PT_RSVD) plus explicit changes."""

    base: int
    reserved: tuple[tuple[int, int], ...] = ()          # (offset, size) as TDH.SYS.CONFIG took
    # Pages whose type differs from the TDMR.INIT default: sorted starts and (end, type).
    _starts: list[int] = field(default_factory=list)
    _spans: list[tuple[int, int, PageType]] = field(default_factory=list)

    def initial_type(self, pa: int) -> PageType:
        off = pa - self.base
        for r_off, r_size in self.reserved:
            if r_off <= off < r_off + r_size:
                return PageType.PT_RSVD
        return PageType.PT_NDA

    def page_type(self, pa: int) -> PageType:
        i = bisect.bisect_right(self._starts, pa) - 1
        if i >= 0:
            start, end, pt = self._spans[i]
            if start <= pa < end:
                return pt
        return self.initial_type(pa)

    def set_type(self, start: int, end: int, pt: PageType) -> None:
        """Record that [start, end) now has type `pt` (whole pages)."""
        keep = [(s, e, t) for s, e, t in self._spans if e <= start or s >= end]
        cut = [(s, e, t) for s, e, t in self._spans if not (e <= start or s >= end)]
        for s, e, t in cut:
            if s < start:
                keep.append((s, start, t))
            if e > end:
                keep.append((end, e, t))
        keep.append((start, end, pt))
        keep.sort()
        self._spans = keep
        self._starts = [s for s, _e, _t in keep]


def initialized_blocks(base: int, next_to_init: int) -> int:
    """1 GiB blocks of a TDMR whose PAMT TDH.SYS.TDMR.INIT has fully initialised."""
    return max(0, (next_to_init & ~(PAGE_1G - 1)) - base) // PAGE_1G


__all__ = ["PageTypes", "initialized_blocks"]
