# SPDX-License-Identifier: MIT
"""TDG.VP.VMCALL (TDCALL 0): hand the registers the TD selects to the VMM, and its answer back.

Spec: intel/tdx-module tdx_1.5 src/td_dispatcher/vm_exits/tdg_vp_vmcall.c (TDX_1.5.01, 72d8cff):
RCX[15:0] selects GPRs by number, RCX[31:16] XMM registers, RCX[63:32] is reserved; selecting
RAX, RCX or RSP (or RBP when the TD's config flag NO_RBP_MOD is set), or a reserved bit ->
TDX_OPERAND_INVALID(RCX), and the TD resumes without an exit.  Otherwise the module copies the
selected GPRs to the VMM (the others read as 0 there; RCX carries the selection) and exits to
it (a trap-like TD exit).  When the VMM enters the TD again, src/td_transitions/tdh_vp_enter.c
(save_regs_after_tdvmcall) gives the TD RAX = TDX_SUCCESS, RCX as it was, and the VMM's values
of the selected GPRs; the others keep the TD's own values.  What the VMM does is the VMM's
(seamemu.vmm); its status travels in R10, not RAX.  XMM registers are not modelled.
"""

from __future__ import annotations

from seamemu.arch.ghci import (
    GPR_SELECT_MASK,
    GPR_SELECT_NEVER,
    GPR_SELECT_RBP,
    RCX_RESERVED_MASK,
    selected_registers,
)
from seamemu.arch.status import MASK64
from seamemu.arch.td import CONFIG_FLAGS_NO_RBP_MOD
from seamemu.model.context import Call
from seamemu.model.guest.td import TdStopped
from seamemu.model.leaf_spec import operand_check, tdg_leaf


@tdg_leaf(
    "TDG.VP.VMCALL",
    summary="Exit to the VMM with the GPRs RCX selects; resume with the VMM's values in them.",
    inputs=(("rcx", "bitmap: GPRs to pass (15:0, by register number), XMM registers (31:16)"),),
    outputs=(("(selected)", "the VMM's values of the GPRs RCX selected (R10: the VMM's "
                            "status in the GHCI)"),),
    checks=(operand_check("rcx_select", "RCX", "RCX selects RAX, RCX or RSP (or RBP in a TD with "
                          "NO_RBP_MOD), or sets a bit of RCX[63:32]"),),
    success="TDX_SUCCESS in RAX, RCX unchanged, the selected GPRs as the VMM left them",
)
def tdg_vp_vmcall(c: Call) -> None:
    rcx = c.reg("rcx")
    never = GPR_SELECT_NEVER
    if c.module.config.config_flags & CONFIG_FLAGS_NO_RBP_MOD:
        never |= GPR_SELECT_RBP
    c.require(not rcx & never and not rcx & RCX_RESERVED_MASK, "rcx_select")
    selected = selected_registers(rcx & GPR_SELECT_MASK)
    if rcx >> 16 & 0xFFFF:
        c.notes.append("XMM registers selected in RCX[31:16] are not modelled: not passed")
    vmm = c.module.vmm
    if vmm is None:
        raise TdStopped("TDG.VP.VMCALL exits to the VMM, and no VMM is attached: the run stops")
    reply = vmm.tdvmcall(c.lp, {"rcx": rcx & 0xFFFF_FFFF} | {r: c.reg(r) for r in selected},
                         c.mem)
    c.module.vmcall = reply.record
    if reply.halt:
        raise TdStopped(reply.halt, reply.record)
    c.write(**{r: reply.regs.get(r, c.reg(r)) & MASK64 for r in selected})


__all__ = ["tdg_vp_vmcall"]
