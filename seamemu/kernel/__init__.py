# SPDX-License-Identifier: MIT
"""The Linux kernel side of TDX, one generation at a time: stubs, wrappers, bring-up, hotplug."""

from seamemu.kernel.bringup import BringUp, KeyIds, bring_up
from seamemu.kernel.generations import (
    DEFAULT_KERNEL,
    GENERATIONS,
    Generation,
    generation,
    generation_with,
    stub_files,
)
from seamemu.kernel.klog import KernelLog, LogLine, errno_name
from seamemu.kernel.metadata_read import TdxSysInfo
from seamemu.kernel.tdmr import Tdmr, TdxMemblock
from seamemu.kernel.wrappers import KernelCall, KernelSeamcall

__all__ = [
    "BringUp",
    "DEFAULT_KERNEL",
    "GENERATIONS",
    "Generation",
    "KernelCall",
    "KernelLog",
    "KernelSeamcall",
    "KeyIds",
    "LogLine",
    "Tdmr",
    "TdxMemblock",
    "TdxSysInfo",
    "bring_up",
    "errno_name",
    "generation",
    "generation_with",
    "stub_files",
]
