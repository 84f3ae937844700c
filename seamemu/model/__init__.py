# SPDX-License-Identifier: MIT
"""The TDX module and the P-SEAMLDR as Python models; never imports unicorn."""

from seamemu.model.inject import Injector, InjectRule, parse_rule
from seamemu.model.leaf_spec import Check, LeafSpec, all_leaf_specs, leaf_spec
from seamemu.model.module import TdxModule, format_record
from seamemu.model.module_state import ModuleState, SysState

__all__ = [
    "Check",
    "InjectRule",
    "Injector",
    "LeafSpec",
    "ModuleState",
    "SysState",
    "TdxModule",
    "all_leaf_specs",
    "format_record",
    "leaf_spec",
    "parse_rule",
]
