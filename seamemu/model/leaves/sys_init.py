# SPDX-License-Identifier: MIT
"""TDH.SYS.INIT (33) and TDH.SYS.LP.INIT (35): global and per-LP initialisation.

Spec: intel/tdx-module tdx_1.5 src/vmm_dispatcher/api_calls/tdh_sys_init.c and
tdh_sys_lp_init.c (M15); qizhangz/tdx-module same paths (M10).  The platform, CPUID and MSR
sampling of the real leaves is not modelled; of the platform checks only the CMR list
sanity check (check_cmrs) is, since CMRs are the platform fact the model has.
"""

from __future__ import annotations

from seamemu.arch.leaves import V15
from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_operand
from seamemu.model.context import Call
from seamemu.model.leaf_spec import Check, leaf
from seamemu.model.module_state import SysState

SRC_INIT = "intel/tdx-module tdx_1.5 src/vmm_dispatcher/api_calls/tdh_sys_init.c"
SRC_LP_INIT = "intel/tdx-module tdx_1.5 src/vmm_dispatcher/api_calls/tdh_sys_lp_init.c"


@leaf(
    "TDH.SYS.INIT",
    summary="Global initialisation of the module; runs once, on any LP.",
    inputs=(("rcx", "SYS_ATTRIBUTES: all bits reserved, must be 0"),),
    outputs=(("rcx", "0"), ("rdx", "0"), ("r8", "0"), ("r9", "0"), ("r10", "0")),
    on_entry=(("rcx", 0), ("rdx", 0), ("r8", 0), ("r9", 0), ("r10", 0)),
    checks=(
        Check("global_lock", "another LP holds the global lock (taken exclusively)",
              S.TDX_SYS_BUSY, inject=True),
        Check("rcx_reserved", "RCX (attributes) is not 0",
              with_operand(S.TDX_OPERAND_INVALID, "RCX")),
        Check("state", "the module is not in SYSINIT_PENDING", S.TDX_SYS_INIT_NOT_PENDING),
        Check("cmr_list", "the CMR list from MCHECK fails the sanity check (overflow, HKID bits, "
              "end above 2^52, not 4 KiB aligned, unsorted or overlapping)",
              S.TDX_CMR_LIST_INVALID),
        Check("canary_entropy", "RDRAND for the stack canary fails", S.TDX_RND_NO_ENTROPY,
              abi=V15, inject=True),
        Check("canary_rdrand", "RDRAND for the stack canary fails: TDX 1.0 answers TDX_SYS_BUSY "
              "(qizhangz/tdx-module tdh_sys_init.c tdx_init_stack_canary)", S.TDX_SYS_BUSY,
              abi=("1.0",), inject=True),
    ),
    success="state SYSINIT_DONE; no LP initialised, no package key configured",
    source=SRC_INIT,
)
def tdh_sys_init(c: Call) -> None:
    c.write(rcx=0, rdx=0, r8=0, r9=0, r10=0)
    c.require(c.state.lock_free_for(c.lp, exclusive=True), "global_lock")
    c.require(c.reg("rcx") == 0, "rcx_reserved")
    c.require(c.state.sys_state == SysState.SYSINIT_PENDING, "state")
    c.require(c.rules.cmr_list_ok(), "cmr_list")
    c.require(True, "canary_entropy" if c.abi in V15 else "canary_rdrand")
    st = c.state
    st.sys_state = SysState.SYSINIT_DONE
    st.sys_attributes = 0
    st.lp_init.clear()
    st.pkg_configured.clear()


@leaf(
    "TDH.SYS.LP.INIT",
    summary="Per-LP initialisation; every LP must run it after TDH.SYS.INIT and before "
            "TDH.SYS.CONFIG.",
    outputs=(("rcx", "0"), ("rdx", "0"), ("r8", "0")),
    on_entry=(("rcx", 0), ("rdx", 0), ("r8", 0)),
    checks=(
        Check("global_lock", "another LP holds the global lock exclusively (taken shared)",
              S.TDX_SYS_BUSY, inject=True),
        Check("state", "the module is not in SYSINIT_DONE (so never after TDH.SYS.CONFIG)",
              S.TDX_SYS_LP_INIT_NOT_PENDING),
        Check("lp_done", "this LP already ran TDH.SYS.LP.INIT", S.TDX_SYS_LP_INIT_DONE),
        Check("lfsr_entropy", "RDRAND for the LP's LFSR seed fails", S.TDX_RND_NO_ENTROPY,
              abi=V15, inject=True),
        Check("lfsr_rdrand", "RDRAND for the LP's LFSR seed fails: TDX 1.0 answers TDX_SYS_BUSY "
              "(qizhangz/tdx-module tdh_sys_lp_init.c lfsr_init_seed)", S.TDX_SYS_BUSY,
              abi=("1.0",), inject=True),
    ),
    success="this LP counts as initialised",
    source=SRC_LP_INIT,
)
def tdh_sys_lp_init(c: Call) -> None:
    c.write(rcx=0, rdx=0, r8=0)
    c.require(c.state.lock_free_for(c.lp, exclusive=False), "global_lock")
    c.require(c.state.sys_state == SysState.SYSINIT_DONE, "state")
    c.require(c.lp not in c.state.lp_init, "lp_done")
    c.require(True, "lfsr_entropy" if c.abi in V15 else "lfsr_rdrand")
    c.state.lp_init.add(c.lp)


__all__ = ["tdh_sys_init", "tdh_sys_lp_init"]
