"""The TDX module and the P-SEAMLDR as Python models; never imports unicorn."""

from seamemu.model.api import INJECTABLE_FAULTS, CallRecord, GuestMemory, SeamReply, SeamTarget
from seamemu.model.inject import InjectRule, Injector, parse_rule
from seamemu.model.module import TdxModule, format_record
from seamemu.model.spec import Check, LeafSpec, all_leaf_specs, leaf_spec
from seamemu.model.state import ModuleState, SysState

__all__ = [
    "CallRecord",
    "Check",
    "GuestMemory",
    "INJECTABLE_FAULTS",
    "InjectRule",
    "Injector",
    "LeafSpec",
    "ModuleState",
    "SeamReply",
    "SeamTarget",
    "SysState",
    "TdxModule",
    "all_leaf_specs",
    "format_record",
    "leaf_spec",
    "parse_rule",
]
