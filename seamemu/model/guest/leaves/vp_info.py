# SPDX-License-Identifier: MIT
"""TDG.VP.INFO (TDCALL 1): the TD's GPA width, attributes, vCPU counts and this vCPU's index.

Spec: intel/tdx-module tdx_1.5 src/td_dispatcher/vm_exits/tdg_vp_info.c (TDX_1.5.01, 72d8cff):
no checks; RCX = 52 (MAX_PA) when the TD's GPAW flag is set, else 48; RDX = ATTRIBUTES;
R8 = NUM_VCPUS (31:0) | MAX_VCPUS (63:32) (td_num_of_vcpus_t); R9 = VCPU_INDEX; R10 bit 0 =
TDG.SYS.RD available (tdg_commands_available_t); R11 = 0.  The kernel's tdx_setup() reads the
GPA width from RCX[5:0] and makes bit GPAW-1 its shared-memory bit.
"""

from __future__ import annotations

from seamemu.model.context import Call
from seamemu.model.leaf_spec import tdg_leaf

TDG_SYS_RD_AVAILABLE = 1 << 0


@tdg_leaf(
    "TDG.VP.INFO",
    summary="Tell the TD its GPA width, attributes, vCPU counts and this vCPU's index.",
    outputs=(("rcx", "GPAW: 48, or 52 when the TD's GPAW config flag is set"),
             ("rdx", "the TD's ATTRIBUTES"),
             ("r8", "NUM_VCPUS in bits 31:0, MAX_VCPUS in bits 63:32"),
             ("r9", "this vCPU's VCPU_INDEX"),
             ("r10", "bit 0: TDG.SYS.RD is available"),
             ("r11", "0 (reserved)")),
    success="always TDX_SUCCESS",
)
def tdg_vp_info(c: Call) -> None:
    td = c.module.state
    cfg = td.config
    c.write(rcx=cfg.gpaw, rdx=cfg.attributes, r8=td.num_vcpus | cfg.max_vcpus << 32,
            r9=c.lp, r10=TDG_SYS_RD_AVAILABLE, r11=0)


__all__ = ["TDG_SYS_RD_AVAILABLE", "tdg_vp_info"]
