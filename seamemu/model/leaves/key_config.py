# SPDX-License-Identifier: MIT
"""TDH.SYS.KEY.CONFIG (31) and TDH.SYS.TDMR.INIT (36): per-package keys, then PAMT init.

Spec: intel/tdx-module tdx_1.5 src/vmm_dispatcher/api_calls/tdh_sys_key_config.c,
tdh_sys_tdmr_init.c and src/common/helpers/helpers.c program_mktme_keys (M15); M10 the same.
PCONFIG failures are reached only through fault injection: the model's PCONFIG never fails.
The PAMT entries TDMR.INIT initialises are private memory; the model does not write them.
"""

from __future__ import annotations

from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_operand
from seamemu.model.context import Call
from seamemu.model.leaf_spec import Check, global_lock_check, leaf, operand_check
from seamemu.model.module_state import SysState

GiB = 1 << 30
TDMR_4K_PAMT_INIT_COUNT = 1024      # PAMT_4K entries per call: 4 MiB of TDMR


@leaf(
    "TDH.SYS.KEY.CONFIG",
    summary="Program the global private KeyID's key on this LP's package; once per package. "
            "The last package makes the module READY.",
    checks=(
        global_lock_check(),
        Check("state", "the module is not in SYSCONFIG_DONE (also after the last package, "
              "since the module is then READY)", S.TDX_SYS_KEY_CONFIG_NOT_PENDING),
        Check("pkg_done", "this LP's package is already configured (not an error)",
              S.TDX_KEY_CONFIGURED),
        Check("pconfig_busy", "PCONFIG reports the key table busy; the package bit is cleared",
              with_operand(S.TDX_OPERAND_BUSY, "KET"), inject=True),
        Check("pconfig_entropy", "PCONFIG finds no entropy for the key; the package bit is "
              "cleared so a retry works", S.TDX_KEY_GENERATION_FAILED, inject=True),
    ),
    success="package configured; when every package is, state SYS_READY",
)
def tdh_sys_key_config(c: Call) -> None:
    st = c.state
    c.require(st.lock_free_for(c.lp, exclusive=True), "global_lock")
    c.require(st.sys_state == SysState.SYSCONFIG_DONE, "state")
    pkg = c.module.platform.lp_package(c.lp)
    c.require(pkg not in st.pkg_configured, "pkg_done")
    c.require(True, "pconfig_busy")
    c.require(True, "pconfig_entropy")
    st.pkg_configured.add(pkg)
    if len(st.pkg_configured) >= c.module.platform.tot_num_sockets:
        st.sys_state = SysState.SYS_READY


@leaf(
    "TDH.SYS.TDMR.INIT",
    summary="Initialise the next 1024 PAMT_4K entries (4 MiB) of one TDMR; call until RDX "
            "reaches the TDMR's end.  Admitted only once the module is READY.",
    inputs=(("rcx", "base of a configured TDMR"),),
    outputs=(("rdx", "next address to initialise, rounded down to 1 GiB (0 on error)"),),
    on_entry=(("rdx", 0),),
    checks=(
        operand_check("rcx_addr", "RCX", "RCX is not 1 GiB aligned, not below 2^52, or has HKID bits"),
        operand_check("rcx_tdmr", "RCX", "RCX is not the base of a TDMR given to TDH.SYS.CONFIG"),
        Check("tdmr_lock", "another LP holds this TDMR's mutex",
              with_operand(S.TDX_OPERAND_BUSY, "RCX"), inject=True),
        Check("tdmr_done", "the TDMR is already fully initialised (not an error)",
              S.TDX_TDMR_ALREADY_INITIALIZED),
    ),
    success="4 MiB more of the TDMR has its PAMT initialised",
)
def tdh_sys_tdmr_init(c: Call) -> None:
    c.write(rdx=0)
    rcx = c.reg("rcx")
    c.require(rcx % GiB == 0 and c.rules.pa_ok(rcx), "rcx_addr")
    tdmr = c.state.tdmr_at(rcx)
    c.require(tdmr is not None, "rcx_tdmr")
    c.require(rcx not in c.state.tdmr_locks, "tdmr_lock")
    c.require(not tdmr.initialized, "tdmr_done")
    tdmr.next_to_init += TDMR_4K_PAMT_INIT_COUNT * 4096
    c.write(rdx=tdmr.next_to_init & ~(GiB - 1))


__all__ = ["TDMR_4K_PAMT_INIT_COUNT", "tdh_sys_key_config", "tdh_sys_tdmr_init"]
