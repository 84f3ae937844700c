# SPDX-License-Identifier: MIT
"""The TDX module's mutable state: lifecycle, per-LP and per-package flags, TDMRs, the global
try-lock, and the P-SEAMLDR's update session.

Spec: intel/tdx-module tdx_1.5 src/common/data_structures/tdx_global_data.h (sys_state values,
num_of_init_lps, pkg_config_bitmap, tdmr_table) and src/common/helpers/tdx_locks.h (the global
lock is a non-blocking shared/exclusive try-lock); M10 has the same states.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seamemu.arch.sys_state import SysState
from seamemu.model.page_state import PageTypes, initialized_blocks
from seamemu.model.platform_checks import Sample
from seamemu.model.reported_values import Handoff


@dataclass
class TdmrState:
    """One configured TDMR (tdmr_table entry) and its PAMT initialisation progress."""

    base: int
    size: int
    pamt_4k_base: int
    pamt_2m_base: int
    pamt_1g_base: int
    reserved: tuple[tuple[int, int], ...] = ()
    next_to_init: int = 0           # "last_initialized": next address whose PAMT is not set
    pages: PageTypes = field(init=False)   # PAMT page types (made from `reserved`)

    def __post_init__(self) -> None:
        if not self.next_to_init:
            self.next_to_init = self.base
        self.pages = PageTypes(self.base, self.reserved)

    @property
    def end(self) -> int:
        return self.base + self.size

    @property
    def initialized(self) -> bool:
        return self.next_to_init >= self.end

    @property
    def initialized_blocks(self) -> int:
        """1 GiB blocks whose PAMT is fully initialised (usable by the VMM)."""
        return initialized_blocks(self.base, self.next_to_init)


@dataclass(frozen=True)
class HandoffData:
    """What prepare_handoff_data (helpers.c) hands to the next module for handoff version 0:
    the KOT (here: the global private HKID), the TDMR table and PKG_CONFIG_BITMAP."""

    tdmrs: tuple[TdmrState, ...]
    global_private_hkid: int | None
    pkg_configured: frozenset[int]


@dataclass(frozen=True)
class LockHold:
    """Who holds the global lock (a test / fault-injection hook: calls are atomic here)."""

    lp: int
    exclusive: bool = True


@dataclass
class ModuleState:
    """Everything the module keeps between SEAMCALLs."""

    sys_state: SysState = SysState.SYSINIT_PENDING
    lp_init: set[int] = field(default_factory=set)
    pkg_configured: set[int] = field(default_factory=set)
    tdmrs: list[TdmrState] = field(default_factory=list)
    global_private_hkid: int | None = None   # reserved in the KOT by TDH.SYS.CONFIG
    dynamic_pamt: bool = False               # 2.0: TDH.SYS.CONFIG R8 bit 16
    sys_attributes: int = 0
    lp_shutdown: set[int] = field(default_factory=set)  # 1.0 TDH.SYS.LP.SHUTDOWN
    handoff_version: int | None = None       # TDH.SYS.SHUTDOWN's handoff version
    handoff: Handoff = Handoff()  # header found/written (frozen)  # noqa: RUF009
    handoff_data: HandoffData | None = None  # what TDH.SYS.SHUTDOWN handed off
    sample: Sample | None = None             # the platform as TDH.SYS.INIT's LP read it
    lock: LockHold | None = None
    tdmr_locks: set[int] = field(default_factory=set)   # TDMR bases whose mutex is held

    def lock_free_for(self, lp: int, *, exclusive: bool) -> bool:
        """Whether `lp` can take the global try-lock (exclusive or shared) right now."""
        hold = self.lock
        if hold is None or hold.lp == lp:
            return True
        return not exclusive and not hold.exclusive

    def tdmr_at(self, base: int) -> TdmrState | None:
        return next((t for t in self.tdmrs if t.base == base), None)

    def pamt_block(self, pa: int) -> TdmrState | None:
        """pamt_get_block (pamt_manager.c): the TDMR covering `pa` when the 1 GiB block holding
        it has its PAMT initialised; None for an address outside every TDMR or in a block
        TDH.SYS.TDMR.INIT has not finished."""
        covering = None
        for t in self.tdmrs:                # sorted by base (TDH.SYS.CONFIG checks it)
            if t.base > pa:
                break
            covering = t
        if covering is None or pa >= covering.end:
            return None
        if pa >= covering.next_to_init & ~((1 << 30) - 1):
            return None
        return covering

    def summary(self) -> str:
        return self.sys_state.name


@dataclass
class SeamldrSession:
    """P-SEAMLDR update session: SEAMLDR.INSTALL runs on every LP; the last one installs.

    Spec: intel/tdx-loader (81bf312) p-seam-loader/src/pseamldr_dispatcher/api_calls/
    seamldr_install.c (update_bitmap, lps_in_update, SEAMEXTEND.SEAM_READY cleared while the
    session runs).
    """

    lps: set[int] = field(default_factory=set)
    seam_ready_snapshot: bool = False
    busy_lp: int | None = None               # hook: an LP "inside" a loader call
    num_remaining_updates: int = 16

    @property
    def active(self) -> bool:
        return bool(self.lps)


__all__ = ["HandoffData", "LockHold", "ModuleState", "SeamldrSession", "SysState", "TdmrState"]
