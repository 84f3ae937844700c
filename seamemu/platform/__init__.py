# SPDX-License-Identifier: MIT
"""The world outside the module: memory map, CMRs, SEAMRR, KeyIDs, topology, hotplug policy."""

from seamemu.platform.events import EVENTS, PLACES, SEVERITIES, Decision, Event, Situation, place_of
from seamemu.platform.facts import (
    Cmr,
    MemoryRegion,
    ModuleInfo,
    NumaNode,
    Platform,
    Seamrr,
)
from seamemu.platform.hotplug_policy import (
    absence_reason,
    apply_hotplug,
    decide,
    detect_tdx,
    get_policy,
    handle,
    judge,
    policy_names,
    present,
    situation_for,
)
from seamemu.platform.hotplug_table import TableRow, decision_table, format_table
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
    "SEVERITIES",
    "Seamrr",
    "Situation",
    "TableRow",
    "absence_reason",
    "apply_hotplug",
    "as_platform",
    "decide",
    "decision_table",
    "detect_tdx",
    "format_table",
    "get_policy",
    "handle",
    "judge",
    "load_platform",
    "load_platform_text",
    "msr_values",
    "place_of",
    "policy_names",
    "present",
    "preset_names",
    "rdmsr_fault",
    "situation_for",
    "validate_platform",
    "wrmsr_fault",
]
