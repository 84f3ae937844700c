# SPDX-License-Identifier: MIT
"""Where a trapped instruction's decision comes from: its rule table row, and the leaf spec.

The rows are looked up in the tables the traps run on (seamemu.traps), at call time, so a
trace always quotes the row that decided.
"""

from __future__ import annotations

from seamemu.errors import InputError
from seamemu.model.leaf_spec import LeafSpec, leaf_spec
from seamemu.traps import msr, seamcall, tdcall, vmx
from seamemu.traps.rule_table import Check


def rule_table(insn: str) -> tuple[Check, ...]:
    """The rule table of a trapped instruction ("seamcall", "tdcall", "vmxon", "rdmsr", ...)."""
    name = insn.lower()
    if name == "seamcall":
        return seamcall.SEAMCALL_CHECKS
    if name == "tdcall":
        return tdcall.TDCALL_CHECKS
    if name == "vmxon":
        return vmx.VMXON_CHECKS
    if name == "vmxoff":
        return vmx.VMXOFF_CHECKS
    if name == "rdmsr":
        return msr.RDMSR_CHECKS
    if name == "wrmsr":
        return msr.WRMSR_CHECKS
    return ()


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
