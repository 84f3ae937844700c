# SPDX-License-Identifier: MIT
"""Unicorn: guest memory, logical processors, hooks, exception delivery and bounds."""

from seamemu.machine.dispatch import InsnEntry, InsnTable
from seamemu.machine.faults import vector_name
from seamemu.machine.lp import LogicalProcessor
from seamemu.machine.machine import STACK_SIZE, Machine, Snapshot
from seamemu.machine.memory import CHUNK, PAGE, PhysicalMemory, default_present
from seamemu.machine.results import BoundInfo, Bounds, CallResult, FaultEvent, SeamEvent

__all__ = [
    "BoundInfo",
    "Bounds",
    "CHUNK",
    "CallResult",
    "FaultEvent",
    "InsnEntry",
    "InsnTable",
    "LogicalProcessor",
    "Machine",
    "PAGE",
    "PhysicalMemory",
    "STACK_SIZE",
    "SeamEvent",
    "Snapshot",
    "default_present",
    "vector_name",
]
