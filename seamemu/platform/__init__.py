# SPDX-License-Identifier: MIT
"""The world outside the module: memory map, CMRs, SEAMRR, KeyIDs, topology, hotplug engine."""

from seamemu.platform.events import EVENTS, PLACES, SEVERITIES, Decision, Event, Situation, place_of
from seamemu.platform.facts import Cmr, MemoryRegion, ModuleInfo, NumaNode, Platform, Seamrr
from seamemu.platform.hotplug_policy import (
    absence_reason,
    apply_hotplug,
    convertible,
    decide,
    present,
    tdx_memory_blocks,
)
from seamemu.platform.hotplug_rules import Policy, Rule
from seamemu.platform.load import as_platform, load_platform, load_platform_text, preset_names
from seamemu.platform.msr_values import msr_values, rdmsr_fault, wrmsr_fault
from seamemu.platform.validate import validate_platform

__all__ = [
    "Cmr",
    "Decision",
    "EVENTS",
    "Event",
    "MemoryRegion",
    "ModuleInfo",
    "NumaNode",
    "PLACES",
    "Platform",
    "Policy",
    "Rule",
    "SEVERITIES",
    "Seamrr",
    "Situation",
    "absence_reason",
    "apply_hotplug",
    "as_platform",
    "convertible",
    "decide",
    "load_platform",
    "load_platform_text",
    "msr_values",
    "place_of",
    "present",
    "preset_names",
    "rdmsr_fault",
    "tdx_memory_blocks",
    "validate_platform",
    "wrmsr_fault",
]
