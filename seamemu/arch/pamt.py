# SPDX-License-Identifier: MIT
"""PAMT facts: page types a PAMT entry records and the page sizes of its levels.

Spec: intel/tdx-module TDX_1.5.01 src/common/memory_handlers/pamt_manager.h (page_type_t,
page_size_t; the same values in qizhangz/tdx-module, TDX 1.0).  TDH.PHYMEM.PAGE.RDMD returns the
page type in RCX and the leaf level (page_size_t) in R8.
"""

from __future__ import annotations

from enum import IntEnum


class PageType(IntEnum):
    """pamt_manager.h page_type_t (PT_*)."""

    PT_NDA = 0          # not assigned to a TD: free for the host
    PT_RSVD = 1         # a reserved area of its TDMR (holes, the PAMT itself)
    PT_REG = 3          # a TD's private page
    PT_TDR = 4
    PT_TDCX = 5
    PT_TDVPR = 6
    PT_EPT = 8


class PageSize(IntEnum):
    """pamt_manager.h page_size_t: the PAMT level of a leaf entry."""

    PT_4KB = 0
    PT_2MB = 1
    PT_1GB = 2


PAGE_4K, PAGE_2M, PAGE_1G = 1 << 12, 1 << 21, 1 << 30
TDMR_4K_PAMT_INIT_COUNT = 1024      # tdh_sys_tdmr_init.c: PAMT_4K entries one call initialises

__all__ = ["PAGE_1G", "PAGE_2M", "PAGE_4K", "PageSize", "PageType", "TDMR_4K_PAMT_INIT_COUNT"]
