# SPDX-License-Identifier: MIT
"""TDH.SYS.LP.SHUTDOWN (44) and TDH.SYS.SHUTDOWN (52, 1.5 only).

Spec: qizhangz/tdx-module src/vmm_dispatcher/api_calls/tdh_sys_lp_shutdown.c (M10: takes the
global lock shared and moves the module to SYS_SHUTDOWN); intel/tdx-module tdx_1.5
tdh_sys_lp_shutdown.c (M15: deprecated, returns TDX_SUCCESS and does nothing) and
tdh_sys_shutdown.c (handoff-version check, exclusive lock, SYS_SHUTDOWN).  The dispatcher
admits TDH.SYS.SHUTDOWN only when READY and, once shut down, only TDH.SYS.LP.SHUTDOWN.
"""

from __future__ import annotations

from seamemu.arch.leaves import V15
from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_operand
from seamemu.model.context import Call
from seamemu.model.leaf_spec import Check, leaf
from seamemu.model.module_state import SysState


@leaf(
    "TDH.SYS.LP.SHUTDOWN",
    summary="1.0: shut the module down from this LP.  1.5: deprecated, does nothing.",
    checks=(
        Check("global_lock", "another LP holds the global lock exclusively (taken shared)",
              S.TDX_SYS_BUSY, abi=("1.0",), inject=True),
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
        Check("rcx_hv", "RCX is below MIN_UPDATE_HV or above MODULE_HV, or NO_DOWNGRADE is set "
              "and RCX is not MODULE_HV", with_operand(S.TDX_OPERAND_INVALID, "RCX")),
        Check("global_lock", "another LP holds the global lock, or is inside the module",
              S.TDX_SYS_BUSY, inject=True),
    ),
    success="state SYS_SHUTDOWN; handoff data of version RCX prepared",
    source="intel/tdx-module tdx_1.5 src/vmm_dispatcher/api_calls/tdh_sys_shutdown.c",
    generations=V15,
)
def tdh_sys_shutdown(c: Call) -> None:
    hv, k = c.reg("rcx"), c.module.profile.constants
    module_hv, no_downgrade = k["MODULE_HV"], k["NO_DOWNGRADE"]
    ok = k["MIN_UPDATE_HV"] <= hv <= module_hv and not (no_downgrade and hv != module_hv)
    c.require(ok, "rcx_hv")
    c.require(c.state.lock_free_for(c.lp, exclusive=True), "global_lock")
    c.state.sys_state = SysState.SYS_SHUTDOWN
    c.state.handoff_version = hv


__all__ = ["tdh_sys_lp_shutdown", "tdh_sys_shutdown"]
