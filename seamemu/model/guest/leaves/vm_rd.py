# SPDX-License-Identifier: MIT
"""TDG.VM.RD (TDCALL 7): read one TD-scope metadata field.

Spec: intel/tdx-module tdx_1.5 src/td_dispatcher/vm_exits/tdg_vm_rd_wr.c (TDX_1.5.01, 72d8cff),
tdg_vm_rd_wr(): R8 = 0 on entry; version above 1 -> TDX_OPERAND_INVALID(RAX); RCX (the VM)
not 0 -> TDX_OPERAND_INVALID(RCX); the context code is ignored; md_check_as_single_element_id()
(reserved bits, LAST_ELEMENT_IN_FIELD, LAST_FIELD_IN_SEQUENCE) and an unknown class/field code
-> TDX_METADATA_FIELD_ID_INCORRECT; a field the guest may not read (its guest read mask is 0,
include/auto_gen/tdr_tdcs_fields_lookup.c) -> TDX_METADATA_FIELD_NOT_READABLE; else R8 = the
value under the guest's read mask.  Version 1 (RDX = the next field ID) walks the whole TD
table, which the model does not hold: such a call answers TDX_OPERAND_INVALID(RAX) and says
"not modelled".  The model knows the fields of seamemu.arch.td.TD_FIELDS; any other ID answers
TDX_METADATA_FIELD_ID_INCORRECT with a note that the real table may hold it.
"""

from __future__ import annotations

from seamemu.arch import metadata as md
from seamemu.arch.status import TdxStatus as S
from seamemu.arch.td import CONFIG_FLAGS_GPAW, TD_FIELDS, TdField
from seamemu.model.context import Call
from seamemu.model.leaf_spec import Check, operand_check, tdg_leaf

# md_check_as_single_element_id: reserved bits, LAST_ELEMENT_IN_FIELD, LAST_FIELD_IN_SEQUENCE.
SINGLE_ELEMENT_MASK = md.RESERVED_MASK | (0xF << 34) | (0x1FF << 38)
_BY_CODE: dict[tuple[int, int], TdField] = {(f.class_code, f.field_code): f for f in TD_FIELDS}
# What the guest's read mask lets through (the lookup table's guest_rd_mask).
_READ_MASK: dict[str, int] = {"NOTIFY_ENABLES": 1}


def _value(c: Call, name: str) -> int:
    td = c.module.state
    cfg = td.config
    return {
        "ATTRIBUTES": cfg.attributes, "CONFIG_FLAGS": cfg.config_flags, "EPTP": 0,
        "GPAW": int(bool(cfg.config_flags & CONFIG_FLAGS_GPAW)), "MAX_VCPUS": cfg.max_vcpus,
        "NOTIFY_ENABLES": cfg.notify_enables, "NUM_VCPUS": td.num_vcpus,
        "TD_CTLS": cfg.td_ctls, "XFAM": cfg.xfam,
    }[name]


@tdg_leaf(
    "TDG.VM.RD",
    summary="Read one TD-scope metadata field (TDCS) the guest may read.",
    inputs=(("rcx", "the VM: 0 (the TD itself)"),
            ("rdx", "MD_FIELD_ID of the field (context code ignored)")),
    outputs=(("r8", "the field's value under the guest's read mask (0 on error)"),),
    on_entry=(("r8", 0),),
    checks=(
        operand_check("version", "RAX", "RAX[23:16] is above 1"),
        operand_check("vm_id", "RCX", "RCX is not 0"),
        Check("single_element", "reserved bits, LAST_ELEMENT_IN_FIELD or "
              "LAST_FIELD_IN_SEQUENCE are not 0", S.TDX_METADATA_FIELD_ID_INCORRECT),
        Check("known_field", "no TD-scope field has this class and field code",
              S.TDX_METADATA_FIELD_ID_INCORRECT),
        Check("guest_readable", "the guest may not read the field (its guest read mask is 0)",
              S.TDX_METADATA_FIELD_NOT_READABLE),
    ),
    success="R8 = the value",
    source="intel/tdx-module tdx_1.5 src/td_dispatcher/vm_exits/tdg_vm_rd_wr.c",
)
def tdg_vm_rd(c: Call) -> None:
    if c.version:
        c.write(rdx=md.NULL_FIELD_ID)
    c.write(r8=0)
    c.require(c.version <= 1, "version")
    if c.version == 1:
        c.notes.append("version 1 (RDX out = the next field ID) not modelled")
        c.fail("version")
    c.require(c.reg("rcx") == 0, "vm_id")
    fid = c.reg("rdx")
    c.require(fid & SINGLE_ELEMENT_MASK == 0, "single_element")
    field = _BY_CODE.get((md.get_bits(fid, md.CLASS_CODE), md.get_bits(fid, md.FIELD_CODE)))
    if field is None:
        c.notes.append("not one of the TD fields the model holds ("
                       + ", ".join(f.name for f in TD_FIELDS) + "); Intel's table has more")
    c.require(field is not None, "known_field")
    assert field is not None  # require() ended the call otherwise
    c.require(field.guest_readable, "guest_readable")
    c.write(r8=_value(c, field.name) & _READ_MASK.get(field.name, (1 << 64) - 1))


__all__ = ["SINGLE_ELEMENT_MASK", "tdg_vm_rd"]
