# SPDX-License-Identifier: MIT
"""The CPU's SEAM mode on Unicorn: Intel's TDX module loaded as the P-SEAMLDR would, and run."""

from seamemu.machine.seam.cpu import SeamCpu, SeamExit
from seamemu.machine.seam.image import ModuleImage, load_module_image, parse_module_image
from seamemu.machine.seam.layout import SeamLayout, SigstructSizes
from seamemu.machine.seam.module import ModuleStateView, RealModule

__all__ = [
    "ModuleImage",
    "ModuleStateView",
    "RealModule",
    "SeamCpu",
    "SeamExit",
    "SeamLayout",
    "SigstructSizes",
    "load_module_image",
    "parse_module_image",
]
