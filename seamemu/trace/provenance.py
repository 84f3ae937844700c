# SPDX-License-Identifier: MIT
"""Where a trapped instruction's decision comes from: its rule table row, and the leaf spec.

The rows are looked up in the tables the traps run on (seamemu.traps), at call time, so a
trace always quotes the row that decided.
"""

from __future__ import annotations

from types import ModuleType

from seamemu.errors import InputError
from seamemu.model.leaf_spec import LeafSpec, leaf_spec
from seamemu.traps import msr, seamcall, tdcall, vmx
from seamemu.traps.rule_table import Check

# Instruction -> (module, name of its table), read at call time.
_TABLES: dict[str, tuple[ModuleType, str]] = {
    "rdmsr": (msr, "RDMSR_CHECKS"),
    "seamcall": (seamcall, "SEAMCALL_CHECKS"),
    "tdcall": (tdcall, "TDCALL_CHECKS"),
    "vmxoff": (vmx, "VMXOFF_CHECKS"),
    "vmxon": (vmx, "VMXON_CHECKS"),
    "wrmsr": (msr, "WRMSR_CHECKS"),
}


def rule_table(insn: str) -> tuple[Check, ...]:
    """The rule table of a trapped instruction ("seamcall", "tdcall", "vmxon", "rdmsr", ...)."""
    where = _TABLES.get(insn.lower())
    return () if where is None else getattr(*where)


def rule_row(insn: str, check_id: str) -> Check | None:
    for row in rule_table(insn):
        if row.id == check_id:
            return row
    if insn.lower() == "seamcall":  # a row only the stricter table has active
        for row in seamcall.seamcall_checks(require_seamrr_lock=True):
            if row.id == check_id:
                return row
    return None


def leaf_spec_or_none(name: str) -> LeafSpec | None:
    """The modelled leaf's spec, or None ("unknown", "not modelled", a P-SEAMLDR miss)."""
    try:
        return leaf_spec(name)
    except (InputError, AttributeError):
        return None


__all__ = ["leaf_spec_or_none", "rule_row", "rule_table"]
