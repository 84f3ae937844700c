# SPDX-License-Identifier: MIT
"""TDH.SYS.CONFIG (45): hand the module its TDMRs, their PAMTs and the global private KeyID.

Spec: intel/tdx-module tdx_1.5 src/vmm_dispatcher/api_calls/tdh_sys_config.c (M15); M10 has
the same structure.  2.0 (intel/tdx-module 1666adc, the same file and tdx_api_defs.h
sys_config_options_t): R8 bit 16 asks for Dynamic PAMT (bits 63:17 reserved); with it the
KeyID bits must start at bit 48 or below (MAX_DYNAMIC_PAMT_HKID_START_BIT, pamt_manager.h) and
each PAMT_4K area need only hold a bitmap.  What Dynamic PAMT changes after TDH.SYS.CONFIG
(TDH.PHYMEM.PAMT.ADD/REMOVE, PAMT pages per 2 MiB range) is not modelled, and the call says so.
Linux arch/x86/virt/vmx/tdx/tdx.c config_tdx_module() is the caller.
"""

from __future__ import annotations

from seamemu.arch.leaves import V20
from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_operand
from seamemu.arch.sysinfo import MAX_TDMRS, TDMR_INFO_ALIGNMENT, TDMR_INFO_PA_ARRAY_ALIGNMENT, TDMR_INFO_SIZE
from seamemu.model.context import Call
from seamemu.model.leaf_spec import Check, global_lock_check, leaf, operand_check
from seamemu.model.leaves.tdmr_rules import CHECKS as TDMR_CHECKS
from seamemu.model.leaves.tdmr_rules import TdmrInfo, check_tdmr
from seamemu.model.module_state import SysState, TdmrState

OP_RCX = with_operand(S.TDX_OPERAND_INVALID, "RCX")
OP_R8 = with_operand(S.TDX_OPERAND_INVALID, "R8")
DYNAMIC_PAMT = 1 << 16                     # 2.0 sys_config_options_t.dynamic_pamt
MAX_DYNAMIC_PAMT_HKID_START_BIT = 48


@leaf(
    "TDH.SYS.CONFIG",
    summary="Configure the TDMRs (with PAMTs and reserved areas) and the global private "
            "KeyID; runs once, after every LP ran TDH.SYS.LP.INIT.",
    inputs=(("rcx", "PA of an array of u64 TDMR_INFO entry PAs (512-byte aligned)"),
            ("rdx", "number of entries, 1..64"),
            ("r8", "global private HKID in bits 15:0; bits 63:16 must be 0 (2.0: bit 16 asks "
                   "for Dynamic PAMT, bits 63:17 must be 0)")),
    checks=(
        global_lock_check(),
        Check("state", "the module is not in SYSINIT_DONE", S.TDX_SYS_CONFIG_NOT_PENDING),
        Check("all_lps", "some LP has not run TDH.SYS.LP.INIT", S.TDX_SYS_CONFIG_NOT_PENDING),
        Check("rcx_hpa", "RCX is not a 512-byte-aligned shared HPA", OP_RCX),
        operand_check("rdx_max", "RDX", "RDX is above 64 (MAX_TDMRS)"),
        operand_check("rdx_min", "RDX", "RDX is 0"),
        operand_check("r8_hkid", "R8", "R8 bits 63:16 are not 0, or the HKID is not a private "
                      "(TDX) KeyID",
                      note="once this passes the HKID is reserved, even if a TDMR check fails"),
        Check("dynamic_pamt_hkid", "2.0, Dynamic PAMT asked for (R8 bit 16) and the KeyID bits "
              "start above bit 48", OP_R8, abi=V20),
    ) + TDMR_CHECKS,
    success="TDMRs recorded (none initialised), state SYSCONFIG_DONE, no package key "
            "configured yet",
)
def tdh_sys_config(c: Call) -> None:
    st, rules = c.state, c.rules
    rcx, rdx, r8 = c.reg("rcx"), c.reg("rdx"), c.reg("r8")
    c.require(st.lock_free_for(c.lp, exclusive=True), "global_lock")
    c.require(st.sys_state == SysState.SYSINIT_DONE, "state")
    c.require(len(st.lp_init) >= c.module.platform.tot_num_lps, "all_lps")
    c.require(rules.shared_hpa_ok(rcx, TDMR_INFO_PA_ARRAY_ALIGNMENT), "rcx_hpa")
    c.require(rdx <= MAX_TDMRS, "rdx_max")
    c.require(rdx >= 1, "rdx_min")
    hkid = r8 & 0xFFFF
    options = r8 & ~DYNAMIC_PAMT if c.abi in V20 else r8
    c.require((options >> 16) == 0 and rules.is_private_hkid(hkid), "r8_hkid")
    st.global_private_hkid = hkid           # KOT entry marked HKID_RESERVED before the TDMRs
    st.dynamic_pamt = bool(r8 & DYNAMIC_PAMT) and c.abi in V20
    if st.dynamic_pamt:
        c.require(rules.hkid_start_bit <= MAX_DYNAMIC_PAMT_HKID_START_BIT, "dynamic_pamt_hkid")
        c.notes.append("seamemu: Dynamic PAMT asked for; the model checks TDH.SYS.CONFIG's "
                       "Dynamic PAMT rules only, and later leaves act as without it")

    tdmrs: list[TdmrInfo] = []
    for i in range(rdx):
        entry_pa = c.mem.read_u64(rcx + 8 * i)
        c.require(rules.shared_hpa_ok(entry_pa, TDMR_INFO_ALIGNMENT), "entry_hpa")
        tdmrs.append(TdmrInfo.unpack(c.mem.read(entry_pa, TDMR_INFO_SIZE)))
        check_tdmr(c, tdmrs, i)

    st.tdmrs = [
        TdmrState(base=t.base, size=t.size, pamt_4k_base=t.pamt[0][0],
                  pamt_2m_base=t.pamt[1][0], pamt_1g_base=t.pamt[2][0],
                  reserved=tuple(r for r in t.reserved if r[1]))
        for t in tdmrs
    ]
    st.pkg_configured.clear()
    st.sys_state = SysState.SYSCONFIG_DONE


__all__ = ["tdh_sys_config"]
