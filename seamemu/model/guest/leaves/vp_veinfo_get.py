# SPDX-License-Identifier: MIT
"""TDG.VP.VEINFO.GET (TDCALL 3): the information of the last #VE, once.

Spec: intel/tdx-module tdx_1.5 src/td_dispatcher/vm_exits/tdg_vp_veinfo_get.c (TDX_1.5.01,
72d8cff): RCX, RDX, R8, R9, R10 zeroed first; no valid VE_INFO -> TDX_NO_VALID_VE_INFO; else
RCX = exit reason, RDX = exit qualification, R8 = guest linear address, R9 = guest physical
address, R10 = instruction length (31:0) and information (63:32), and VE_INFO is marked free.
The kernel's tdx_get_ve_info() reads them in that order (arch/x86/coco/tdx/tdx.c).  The machine
raises no #VE, so VE_INFO is valid only where a test left it (TdState.post_ve).
"""

from __future__ import annotations

from seamemu.arch.status import TdxStatus as S
from seamemu.model.context import Call
from seamemu.model.leaf_spec import Check, tdg_leaf


@tdg_leaf(
    "TDG.VP.VEINFO.GET",
    summary="Hand the TD the information of its last #VE and mark it consumed.",
    outputs=(("rcx", "exit reason"), ("rdx", "exit qualification"),
             ("r8", "guest linear address"), ("r9", "guest physical address"),
             ("r10", "instruction length (31:0) and information (63:32)")),
    on_entry=(("rcx", 0), ("rdx", 0), ("r8", 0), ("r9", 0), ("r10", 0)),
    checks=(Check("ve_info_valid", "no #VE is pending: VE_INFO holds nothing valid",
                  S.TDX_NO_VALID_VE_INFO),),
    success="VE_INFO is free again: a second call answers TDX_NO_VALID_VE_INFO",
)
def tdg_vp_veinfo_get(c: Call) -> None:
    c.write(rcx=0, rdx=0, r8=0, r9=0, r10=0)
    ve = c.module.state.ve_info.get(c.lp)
    c.require(ve is not None, "ve_info_valid")
    assert ve is not None  # require() ended the call otherwise
    c.write(rcx=ve.exit_reason, rdx=ve.exit_qualification, r8=ve.gla, r9=ve.gpa,
            r10=(ve.instr_len & 0xFFFF_FFFF) | (ve.instr_info & 0xFFFF_FFFF) << 32)
    del c.module.state.ve_info[c.lp]


__all__ = ["tdg_vp_veinfo_get"]
