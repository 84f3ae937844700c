# SPDX-License-Identifier: MIT
"""TDH.SYS.LP.SHUTDOWN (44), and the module-update pair TDH.SYS.SHUTDOWN (52) and
TDH.SYS.UPDATE (53), 1.5 only.

Spec: qizhangz/tdx-module src/vmm_dispatcher/api_calls/tdh_sys_lp_shutdown.c (M10: takes the
global lock shared and moves the module to SYS_SHUTDOWN); intel/tdx-module tdx_1.5
tdh_sys_lp_shutdown.c (M15: deprecated, returns TDX_SUCCESS and does nothing) and
tdh_sys_shutdown.c (handoff-version check, exclusive lock, SYS_SHUTDOWN).  The dispatcher
admits TDH.SYS.SHUTDOWN only when READY and, once shut down, only TDH.SYS.LP.SHUTDOWN.

The update flow (intel/tdx-module TDX_1.5.01 tdh_sys_shutdown.c, tdh_sys_update.c, helpers.c
prepare_handoff_data / retrieve_handoff_data): TDH.SYS.SHUTDOWN writes the handoff data and
its header (valid, HV, size) at the start of the data region; SEAMLDR.INSTALL with scenario
"update" keeps them; the new module runs TDH.SYS.INIT and TDH.SYS.LP.INIT on every LP, then
TDH.SYS.UPDATE takes the TDMR table, the KOT and the package bitmap over and is READY without
TDH.SYS.CONFIG, KEY.CONFIG or TDMR.INIT.
"""

from __future__ import annotations

from seamemu.arch.status import TdxStatus as S
from seamemu.model.context import Call
from seamemu.model.leaf_spec import Check, global_lock_check, leaf, operand_check
from seamemu.model.module_state import HandoffData, SysState
from seamemu.model.reported_values import Handoff

# Handoff version 0's data (prepare_handoff_data): KOT entries 2048 x 8, WBT entries 8 x 2064,
# TDMR table 64 x 320, num_of_tdmr_entries 4, hkid 2, pkg_config_bitmap 4 bytes (sizes from
# tdx_global_data.h's static asserts: kot_t 16388 with its 4-byte lock, wbt_entry_t 2064,
# tdmr_entry_t 320).
HANDOFF_SIZE_HV0 = 2048 * 8 + 8 * 2064 + 64 * 320 + 4 + 2 + 4


@leaf(
    "TDH.SYS.LP.SHUTDOWN",
    summary="1.0: shut the module down from this LP.  1.5: deprecated, does nothing.",
    checks=(
        global_lock_check(exclusive=False, abi=("1.0",)),
    ),
    success="1.0: state SYS_SHUTDOWN (further SEAMCALLs get TDX_SYS_SHUTDOWN); 1.5: nothing",
    source="qizhangz/tdx-module and intel/tdx-module tdx_1.5 "
           "src/vmm_dispatcher/api_calls/tdh_sys_lp_shutdown.c",
)
def tdh_sys_lp_shutdown(c: Call) -> None:
    if c.abi != "1.0":
        return
    c.require(c.state.lock_free_for(c.lp, exclusive=False), "global_lock")
    c.state.sys_state = SysState.SYS_SHUTDOWN
    c.state.lp_shutdown.add(c.lp)


@leaf(
    "TDH.SYS.SHUTDOWN",
    summary="Shut the module down ahead of an update, preparing handoff data of the given "
            "version.",
    inputs=(("rcx", "handoff version: MIN_UPDATE_HV <= RCX <= MODULE_HV"),),
    checks=(
        operand_check("rcx_hv", "RCX", "RCX is below MIN_UPDATE_HV or above MODULE_HV, or "
                      "NO_DOWNGRADE is set and RCX is not MODULE_HV"),
        Check("global_lock", "another LP holds the global lock, or is inside the module",
              S.TDX_SYS_BUSY, inject=True),
    ),
    success="state SYS_SHUTDOWN; handoff data of version RCX prepared",
)
def tdh_sys_shutdown(c: Call) -> None:
    hv, k = c.reg("rcx"), c.module.profile.constants
    module_hv, no_downgrade = k["MODULE_HV"], k["NO_DOWNGRADE"]
    ok = k["MIN_UPDATE_HV"] <= hv <= module_hv and not (no_downgrade and hv != module_hv)
    c.require(ok, "rcx_hv")
    c.require(c.state.lock_free_for(c.lp, exclusive=True), "global_lock")
    st = c.state
    st.sys_state = SysState.SYS_SHUTDOWN
    st.handoff_version = hv
    st.handoff = Handoff(valid=1, hv=hv, size=HANDOFF_SIZE_HV0)
    st.handoff_data = HandoffData(tdmrs=tuple(st.tdmrs), global_private_hkid=st.global_private_hkid,
                                  pkg_configured=frozenset(st.pkg_configured))


@leaf(
    "TDH.SYS.UPDATE",
    summary="Finish a module update: take over the TDMRs, PAMTs and keys the old module handed "
            "off, after TDH.SYS.INIT and TDH.SYS.LP.INIT on every LP.",
    checks=(
        global_lock_check(),
        Check("state", "the module is not in SYSINIT_DONE, or some LP has not run "
              "TDH.SYS.LP.INIT (so on a freshly loaded module too)", S.TDX_SYS_STATE_INCORRECT),
        Check("handoff", "the handoff data is not valid (no TDH.SYS.SHUTDOWN before this "
              "update, or a plain load), or its version is outside MIN_UPDATE_HV..MODULE_HV",
              S.TDX_SYS_INVALID_HANDOFF),
    ),
    success="TDMRs, PAMT state, global KeyID and package keys taken over; handoff data "
            "cleared (valid 0, size 0); state SYS_READY",
)
def tdh_sys_update(c: Call) -> None:
    st, k = c.state, c.module.profile.constants
    c.require(st.lock_free_for(c.lp, exclusive=True), "global_lock")
    c.require(st.sys_state == SysState.SYSINIT_DONE and
              len(st.lp_init) >= c.module.platform.tot_num_lps, "state")
    h, data = st.handoff, st.handoff_data
    c.require(bool(h.valid) and k["MIN_UPDATE_HV"] <= h.hv <= k["MODULE_HV"] and
              data is not None, "handoff")
    assert data is not None
    st.tdmrs = list(data.tdmrs)
    st.global_private_hkid = data.global_private_hkid
    st.pkg_configured = set(data.pkg_configured)
    st.handoff = Handoff(valid=0, hv=h.hv, size=0)
    st.handoff_data = None
    st.sys_state = SysState.SYS_READY


__all__ = ["HANDOFF_SIZE_HV0", "tdh_sys_lp_shutdown", "tdh_sys_shutdown", "tdh_sys_update"]
