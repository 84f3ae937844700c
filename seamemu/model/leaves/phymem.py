# SPDX-License-Identifier: MIT
"""TDH.PHYMEM.PAGE.RDMD (24), TDH.PHYMEM.PAGE.RECLAIM (28), TDH.PHYMEM.CACHE.WB (40) and
TDH.PHYMEM.PAGE.WBINVD (41): the host's view of, and housekeeping on, TDX-managed memory.

Spec: intel/tdx-module TDX_1.5.01 src/vmm_dispatcher/api_calls/tdh_phymem_page_rdmd.c,
tdh_phymem_page_reclaim.c, tdh_phymem_cache_wb.c, tdh_phymem_page_wbinvd.c (M15) and the same
files of qizhangz/tdx-module (M10: the same checks in the same order); pamt_manager.c
pamt_get_block / pamt_walk; helpers.c check_and_lock_explicit_private_hpa /
non_shared_hpa_metadata_check_and_lock.  The model creates no TD, so every PAMT entry is PT_NDA
or PT_RSVD: RECLAIM always stops at its page-type check, and no HKID is ever in the
KOT_STATE_HKID_FLUSHED state CACHE.WB looks for.  PAMT entry locks are never held by another LP
here; their TDX_OPERAND_BUSY is reached through fault injection only.
"""

from __future__ import annotations

from seamemu.arch.pamt import PAGE_4K, PageSize, PageType
from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_operand
from seamemu.model.context import Call
from seamemu.model.leaf_spec import Check, leaf, operand_check
from seamemu.model.module_state import TdmrState

SRC = "intel/tdx-module TDX_1.5.01 src/vmm_dispatcher/api_calls/"
OUT_REGS = ("rcx", "rdx", "r8", "r9", "r10", "r11")
ZERO_OUTS = tuple((r, 0) for r in OUT_REGS)

RCX_ADDR = operand_check("rcx_addr", "RCX", "RCX is not 4 KiB aligned, not below 2^52, or has HKID bits")
RCX_PAMT = Check("rcx_pamt", "RCX is in no TDMR, or in a 1 GiB block whose PAMT "
                 "TDH.SYS.TDMR.INIT has not finished (pamt_get_block)",
                 with_operand(S.TDX_OPERAND_ADDR_RANGE_ERROR, "RCX"))
PAMT_LOCK = Check("pamt_lock", "another LP holds the page's PAMT entry lock (pamt_walk)",
                  with_operand(S.TDX_OPERAND_BUSY, "RCX"), inject=True)


def _checked_page(c: Call, pa: int) -> TdmrState:
    """The page checks RDMD, RECLAIM and WBINVD share: address, PAMT coverage, PAMT entry
    lock (WBINVD takes the address with its HKID bits removed)."""
    rules = c.rules
    c.require(pa % PAGE_4K == 0 and rules.pa_ok(pa), "rcx_addr")
    tdmr = c.state.pamt_block(pa)
    c.require(tdmr is not None, "rcx_pamt")
    c.require(True, "pamt_lock")
    assert tdmr is not None
    return tdmr


@leaf(
    "TDH.PHYMEM.PAGE.RDMD",
    summary="Read a page's PAMT metadata: its type, owner and leaf level.  Linux's #MC "
            "handler uses it to tell a TDX private page from a normal one.",
    inputs=(("rcx", "PA of the page (4 KiB aligned, HKID 0)"),),
    outputs=(("rcx", "page type (PT_NDA 0, PT_RSVD 1, PT_REG 3, PT_TDR 4, ...)"),
             ("rdx", "owner: the TDR's PA (0 for a page no TD owns)"),
             ("r8", "PAMT leaf level (0 = 4K, 1 = 2M, 2 = 1G)"),
             ("r9", "BEPOCH for PT_REG/PT_EPT pages, else 0"), ("r10", "0"), ("r11", "0")),
    on_entry=ZERO_OUTS,
    checks=(RCX_ADDR, RCX_PAMT, PAMT_LOCK),
    success="nothing changes",
    source=SRC + "tdh_phymem_page_rdmd.c",
)
def tdh_phymem_page_rdmd(c: Call) -> None:
    c.write(**dict(ZERO_OUTS))
    pa = c.reg("rcx")
    tdmr = _checked_page(c, pa)
    pt = tdmr.pages.page_type(pa)
    c.write(rcx=pt, rdx=0, r8=PageSize.PT_4KB)
    c.notes.append(f"page type {pt.name}" + (" (free: no TD owns it)" if pt == PageType.PT_NDA
                                             else ""))


@leaf(
    "TDH.PHYMEM.PAGE.RECLAIM",
    summary="Take back a page of a TD being torn down (its PAMT entry becomes PT_NDA).",
    inputs=(("rcx", "PA of the page (4 KiB aligned, HKID 0)"),),
    outputs=(("rcx", "the page's type before reclaim"), ("rdx", "its owner (TDR PA)"),
             ("r8", "its PAMT level"), ("r9", "0"), ("r10", "0"), ("r11", "0")),
    on_entry=ZERO_OUTS,
    checks=(
        RCX_ADDR, RCX_PAMT,
        Check("pamt_lock", "another LP holds the page's PAMT entry lock (taken exclusively)",
              with_operand(S.TDX_OPERAND_BUSY, "RCX"), inject=True),
        Check("page_type", "the page is PT_NDA or PT_RSVD: nothing to reclaim",
              with_operand(S.TDX_PAGE_METADATA_INCORRECT, "RCX"),
              note="every page is NDA or RSVD in the model (it creates no TD), so RECLAIM "
                   "always ends here; the TD teardown checks that follow are not modelled"),
    ),
    success="the page's PAMT entry becomes PT_NDA",
    source=SRC + "tdh_phymem_page_reclaim.c",
    # The TD teardown checks after the page type (lock_and_map_implicit_tdr, lifecycle state,
    # child count) and the alignment re-check of a 2M/1G leaf: TD pages only.
    other_statuses=(with_operand(S.TDX_OPERAND_INVALID, "RCX"),
                    with_operand(S.TDX_OPERAND_BUSY, "TDR"), S.TDX_LIFECYCLE_STATE_INCORRECT,
                    S.TDX_TD_ASSOCIATED_PAGES_EXIST),
)
def tdh_phymem_page_reclaim(c: Call) -> None:
    c.write(**dict(ZERO_OUTS))
    pa = c.reg("rcx")
    tdmr = _checked_page(c, pa)
    pt = tdmr.pages.page_type(pa)
    c.require(pt not in (PageType.PT_NDA, PageType.PT_RSVD), "page_type")
    c.notes.append("a TD page: the model has no TDs, so this cannot happen")


@leaf(
    "TDH.PHYMEM.CACHE.WB",
    summary="Write back the package's caches for the HKIDs of torn-down TDs (interruptible: "
            "RCX = 1 resumes).  Run once per package before reusing those HKIDs.",
    inputs=(("rcx", "0 = start, 1 = resume an interrupted write-back"),),
    checks=(
        operand_check("rcx_cmd", "RCX", "RCX is above 1 (TDH_PHYMEM_CACHEWB_RESUME_CMD)"),
        Check("wbt_lock", "another LP of this package is inside TDH.PHYMEM.CACHE.WB",
              with_operand(S.TDX_OPERAND_BUSY, "WBCACHE"), inject=True),
        Check("kot_lock", "the KOT is locked exclusively by another LP",
              with_operand(S.TDX_OPERAND_BUSY, "KOT"), inject=True),
        Check("hkid_ready", "start: no private HKID is in the FLUSHED state (not an error)",
              S.TDX_NO_HKID_READY_TO_WBCACHE),
        Check("resume_point", "resume: no interrupted write-back was saved for this package",
              S.TDX_WBCACHE_RESUME_ERROR),
    ),
    success="the flushed HKIDs' write-back bit of this package is cleared",
    source=SRC + "tdh_phymem_cache_wb.c",
    # An interrupt pending before the last cache sub-block saves the interruption point; the
    # model never reaches the write-back loop (no HKID is ever FLUSHED here).
    other_statuses=(S.TDX_INTERRUPTED_RESUMABLE,),
)
def tdh_phymem_cache_wb(c: Call) -> None:
    cmd = c.reg("rcx")
    c.require(cmd <= 1, "rcx_cmd")
    c.require(True, "wbt_lock")
    c.require(True, "kot_lock")
    if cmd == 0:
        c.require(False, "hkid_ready")      # no TD ever released an HKID in the model
    c.require(False, "resume_point")        # so no write-back was ever interrupted


@leaf(
    "TDH.PHYMEM.PAGE.WBINVD",
    summary="Write back and invalidate the cache lines of one page under the KeyID in its "
            "address (a reclaimed page, before the host reuses it).",
    inputs=(("rcx", "PA of the page with the KeyID it was used with in the HKID bits"),),
    checks=(
        operand_check("rcx_addr", "RCX", "RCX without its HKID bits is not 4 KiB aligned or not below 2^52"),
        RCX_PAMT,
        Check("pamt_lock", "another LP holds the page's PAMT entry lock exclusively",
              with_operand(S.TDX_OPERAND_BUSY, "RCX"), inject=True),
        Check("page_type", "the page is not PT_NDA (still owned by a TD, or reserved)",
              with_operand(S.TDX_PAGE_METADATA_INCORRECT, "RCX")),
    ),
    success="the page's cache lines are written back and invalidated",
    source=SRC + "tdh_phymem_page_wbinvd.c",
)
def tdh_phymem_page_wbinvd(c: Call) -> None:
    pa = c.reg("rcx") & ~c.rules.hkid_mask          # the HKID selects the key, then goes
    tdmr = _checked_page(c, pa)
    c.require(tdmr.pages.page_type(pa) == PageType.PT_NDA, "page_type")


__all__ = ["tdh_phymem_cache_wb", "tdh_phymem_page_rdmd", "tdh_phymem_page_reclaim",
           "tdh_phymem_page_wbinvd"]
