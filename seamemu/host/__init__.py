# SPDX-License-Identifier: MIT
"""The host side of TDX: the kernel's tdx_enable() played through the assembly stub."""

from seamemu.host.driver import BringUp, KeyIds, bring_up, tdx_enable
from seamemu.host.klog import KernelLog, LogLine, errno_name
from seamemu.host.seamcall import HostCall, HostSeamcall
from seamemu.host.sysinfo import TdxSysInfo
from seamemu.host.tdmr import Tdmr, TdxMemblock

__all__ = [
    "BringUp",
    "HostCall",
    "HostSeamcall",
    "KernelLog",
    "KeyIds",
    "LogLine",
    "Tdmr",
    "TdxMemblock",
    "TdxSysInfo",
    "bring_up",
    "errno_name",
    "tdx_enable",
]
