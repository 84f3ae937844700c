# SPDX-License-Identifier: MIT
"""The composition root that wires platform, model, image and machine for a run."""

from seamemu.kernel.calling import CONVENTIONS, INPUT_REGS
from seamemu.session.result import AbiCheck, RunResult
from seamemu.session.session import ModuleSwitch, Session

__all__ = [
    "AbiCheck",
    "CONVENTIONS",
    "INPUT_REGS",
    "ModuleSwitch",
    "RunResult",
    "Session",
]
