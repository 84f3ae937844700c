# SPDX-License-Identifier: MIT
"""TDG.MEM.PAGE.ACCEPT (TDCALL 6): accept a private page the VMM added, zeroing it.

Spec: intel/tdx-module tdx_1.5 src/td_dispatcher/vm_exits/tdg_mem_page_accept.c (TDX_1.5.01,
72d8cff): RCX is page_info_api_input_t (level 2:0, GPA 51:12); reserved bits, a level other
than 4 KiB (0) or 2 MiB (1), or a GPA not aligned to its level -> TDX_OPERAND_INVALID(RCX)
(verify_page_info_input); a shared or too-wide GPA -> TDX_OPERAND_INVALID(RCX)
(check_gpa_validity); then the Secure EPT walk: a guest-accessible (MAPPED) leaf ->
TDX_PAGE_ALREADY_ACCEPTED(level); a non-leaf entry at the requested level ->
TDX_PAGE_SIZE_MISMATCH(level); a PENDING leaf is zeroed and becomes MAPPED; anything else is an
EPT violation that exits to the VMM.  The kernel asks for 1 GiB, then 2 MiB, then 4 KiB
(arch/x86/coco/tdx/tdx-shared.c try_accept_one()): 1 GiB is refused by the level check.

The VMM behind the model is KVM, which maps private memory at 4 KiB only: a 2 MiB request always
meets a page table at the 2 MiB level (after an EPT violation the VMM answers by mapping the
first 4 KiB page, if nothing was mapped there), so it answers TDX_PAGE_SIZE_MISMATCH(1); a
4 KiB request on a page with no mapping exits with an EPT violation, KVM adds the page
PENDING (TDH.MEM.PAGE.AUG) and resumes the TD at the TDCALL, which runs again and accepts it.
"""

from __future__ import annotations

from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_operand
from seamemu.arch.td import (
    ACCEPT_LEVELS,
    GPAW_NOT_WIDE,
    MAX_PA,
    PAGE_INFO_RESERVED_MASK,
    PAGE_LEVEL_MASK,
    PAGE_LEVEL_SIZES,
)
from seamemu.model.context import Call
from seamemu.model.guest.td import MAPPED, NOT_MAPPED, PAGE, PENDING, SHARED
from seamemu.model.leaf_spec import Check, operand_check, tdg_leaf


def _gpa_valid(gpa: int, gpaw: int) -> bool:
    """check_gpa_validity(gpa, gpaw, PRIVATE_ONLY)."""
    if gpa & (1 << (gpaw - 1)):
        return False
    if gpa >> MAX_PA:
        return False
    return not (gpaw == GPAW_NOT_WIDE and gpa >> GPAW_NOT_WIDE)


@tdg_leaf(
    "TDG.MEM.PAGE.ACCEPT",
    summary="Accept a pending private page (4 KiB or 2 MiB): zero it and map it for the TD.",
    inputs=(("rcx", "page_info: level in bits 2:0 (0 = 4 KiB, 1 = 2 MiB), GPA in 51:12"),),
    checks=(
        operand_check("page_info", "RCX", "RCX has reserved bits set, a level other than 0 or "
                      "1, or a GPA not aligned to its level"),
        operand_check("gpa_private", "RCX", "the GPA has the shared bit set or bits above the "
                      "TD's GPA width"),
        Check("not_accepted", "the page is already mapped for the TD (operand: the level)",
              S.TDX_PAGE_ALREADY_ACCEPTED),
        Check("size_match", "the Secure EPT holds a page table, not a leaf, at the requested "
              "level (operand: the level)", S.TDX_PAGE_SIZE_MISMATCH),
    ),
    success="the page reads as zeros and is MAPPED",
    other_statuses=(with_operand(S.TDX_OPERAND_BUSY, "RCX"),),
)
def tdg_mem_page_accept(c: Call) -> None:
    rcx = c.reg("rcx")
    level = rcx & PAGE_LEVEL_MASK
    size = PAGE_LEVEL_SIZES.get(level, 0)
    gpa = rcx & ((1 << 52) - 1) & ~(PAGE - 1)
    c.require(not rcx & PAGE_INFO_RESERVED_MASK and level in ACCEPT_LEVELS
              and not gpa % size, "page_info")
    td = c.module.state
    c.require(_gpa_valid(gpa, td.config.gpaw), "gpa_private")
    if level == 1:
        if all(td.page_state(p, c.mem.present(p)) in (NOT_MAPPED, SHARED)
               for p in range(gpa, gpa + size, PAGE)):
            c.notes.append("EPT violation: nothing mapped at 2 MiB; the VMM (KVM) maps the "
                           "first 4 KiB page PENDING and the TDCALL runs again")
            td.set_pages(gpa, PAGE, PENDING)
        c.fail("size_match", 1)
    state = td.page_state(gpa, c.mem.present(gpa))
    c.require(state != MAPPED, "not_accepted", 0)
    if state != PENDING:
        c.notes.append(f"EPT violation: the page was {state}; the VMM (KVM) adds it PENDING "
                       "(TDH.MEM.PAGE.AUG) and the TDCALL runs again")
    c.require(True, "size_match")
    c.mem.write(gpa, bytes(PAGE))
    td.set_pages(gpa, PAGE, MAPPED)


__all__ = ["tdg_mem_page_accept"]
