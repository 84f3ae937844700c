# SPDX-License-Identifier: MIT
"""The TDX module's lifecycle states (PL.SYS_STATE) and their numbers.

Spec: intel/tdx-module TDX_1.5.01 src/common/data_structures/tdx_global_data.h
sysinit_state_e (the same values in TDX 1.0, qizhangz/tdx-module); the module keeps the value
in its global data and the dispatcher admits leaves by it (tdx_vmm_dispatcher.c).
"""

from __future__ import annotations

from enum import IntEnum


class SysState(IntEnum):
    """PL.SYS_STATE."""

    SYSINIT_PENDING = 0
    SYSINIT_DONE = 1
    SYSCONFIG_DONE = 2
    SYS_READY = 3
    SYS_SHUTDOWN = 4


__all__ = ["SysState"]
