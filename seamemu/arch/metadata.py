# SPDX-License-Identifier: MIT
"""TDX 1.5 global-metadata field IDs (TDH.SYS.RD/RDALL): MD_FIELD_ID encoding and the field table.

Spec: intel/tdx-module tdx_1.5 include/tdx_api_defs.h (md_field_id_t),
include/auto_gen/global_sys_fields_lookup.c (field IDs, field/element counts; read at e98d963),
src/common/metadata_handlers/metadata_generic.{c,h} (null field ID, element ordering, list
header) and metadata_sys.c (what each field returns).  Kernel cross-check: Linux
arch/x86/virt/vmx/tdx/tdx_global_metadata.c.
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.arch.datafile import read_sections
from seamemu.jsonout import hex64

MASK64 = (1 << 64) - 1

# MD_FIELD_ID bit fields: (low bit, width).
FIELD_CODE = (0, 24)
ELEMENT_SIZE_CODE = (32, 2)         # 0 = 8-bit, 1 = 16, 2 = 32, 3 = 64
LAST_ELEMENT_IN_FIELD = (34, 4)
LAST_FIELD_IN_SEQUENCE = (38, 9)
INC_SIZE = (50, 1)
WRITE_MASK_VALID = (51, 1)
CONTEXT_CODE = (52, 3)              # 0 = SYS, 1 = TD, 2 = VP
CLASS_CODE = (56, 6)
NON_ARCH = (63, 1)
# reserved_0 31:24, reserved_1 49:47, reserved_2 55, reserved_3 62
RESERVED_MASK = (0xFF << 24) | (0x7 << 47) | (1 << 55) | (1 << 62)
CONTEXT_CODE_MASK = 0x7 << 52
NULL_FIELD_ID = MASK64              # MD_FIELD_ID_NA: "none" / "first field please"
MD_CTX_SYS, MD_CTX_TD, MD_CTX_VP = 0, 1, 2
MAX_ELEMENTS_IN_FIELD = 16
MAX_FIELDS_IN_SEQUENCE = 512
MD_LIST_HEADER_SIZE = 8             # u16 list_buff_size, u16 num_sequences, u32 reserved


def get_bits(value: int, field: tuple[int, int]) -> int:
    low, width = field
    return (value >> low) & ((1 << width) - 1)


def set_bits(value: int, field: tuple[int, int], bits: int) -> int:
    low, width = field
    mask = ((1 << width) - 1) << low
    return (value & ~mask & MASK64) | ((bits << low) & mask)


def make_field_id(class_code: int, field_code: int, size_code: int, *, non_arch: bool = False,
                  context: int = MD_CTX_SYS) -> int:
    """Compose an MD_FIELD_ID from its parts."""
    value = set_bits(0, FIELD_CODE, field_code)
    value = set_bits(value, ELEMENT_SIZE_CODE, size_code)
    value = set_bits(value, CONTEXT_CODE, context)
    value = set_bits(value, CLASS_CODE, class_code)
    return set_bits(value, NON_ARCH, int(non_arch))


def element_bytes(field_id: int) -> int:
    """Element size in bytes from the size code (1, 2, 4 or 8)."""
    return 1 << get_bits(field_id, ELEMENT_SIZE_CODE)


def is_null_field_id(field_id: int) -> bool:
    """All bits set apart from the context code (metadata_generic.h is_null_field_id)."""
    return ((field_id | CONTEXT_CODE_MASK) & MASK64) == MASK64


@dataclass(frozen=True)
class GlobalField:
    """One entry of the global (SYS-context) metadata lookup table."""

    name: str
    field_id: int            # ID of element 0 of field 0
    num_fields: int = 1
    num_elements: int = 1    # elements per field

    @property
    def class_code(self) -> int:
        return get_bits(self.field_id, CLASS_CODE)

    @property
    def field_code(self) -> int:
        return get_bits(self.field_id, FIELD_CODE)

    @property
    def element_size(self) -> int:
        return element_bytes(self.field_id)

    def element_id(self, field: int = 0, element: int = 0) -> int:
        """ID of element `element` of field `field` (inc_size is 0 for every SYS field)."""
        code = self.field_code + field * self.num_elements + element
        return set_bits(self.field_id, FIELD_CODE, code)

    def contains(self, field_code: int) -> bool:
        return self.field_code <= field_code < self.field_code + self.num_fields * self.num_elements


def _global_field(name: str, field_id: str, num_fields: str = "1", num_elements: str = "1"
                  ) -> GlobalField:
    return GlobalField(name, int(field_id, 0), int(num_fields), int(num_elements))


# Every global (SYS-context) field of the modelled module versions, in the module's lookup-table
# order (global_sys_lookup[]): seamemu/data/tdx_module/global_fields.txt, which names its source
# and the versions' differences.  A module's table is this one filtered (arch.module_versions).
GLOBAL_FIELDS: tuple[GlobalField, ...] = tuple(
    _global_field(*words) for words in read_sections("global_fields.txt")["fields"])

_BY_NAME: dict[str, GlobalField] = {f.name: f for f in GLOBAL_FIELDS}


def global_field(name: str) -> GlobalField:
    """The table entry named `name` (KeyError if absent)."""
    return _BY_NAME[name]


def find_global_field(field_id: int) -> GlobalField | None:
    """The entry holding `field_id`, matched on class and field code as md_find_entry_idx does
    (size code, context, non-arch and write-mask bits are not compared)."""
    cls, code = get_bits(field_id, CLASS_CODE), get_bits(field_id, FIELD_CODE)
    for entry in GLOBAL_FIELDS:
        if entry.class_code == cls and entry.contains(code):
            return entry
    return None


def field_id_name(field_id: int) -> str:
    """"CMR_BASE[3]", "CPUID_CONFIG_VALUES[1][0]", or the hex value when unknown."""
    entry = find_global_field(field_id)
    if entry is None:
        return hex64(field_id & MASK64)
    index = get_bits(field_id, FIELD_CODE) - entry.field_code
    field, element = divmod(index, entry.num_elements)
    name = entry.name if entry.num_fields == 1 else f"{entry.name}[{field}]"
    return name if entry.num_elements == 1 else f"{name}[{element}]"


__all__ = [
    "CLASS_CODE",
    "CONTEXT_CODE",
    "CONTEXT_CODE_MASK",
    "ELEMENT_SIZE_CODE",
    "FIELD_CODE",
    "GLOBAL_FIELDS",
    "GlobalField",
    "INC_SIZE",
    "LAST_ELEMENT_IN_FIELD",
    "LAST_FIELD_IN_SEQUENCE",
    "MAX_ELEMENTS_IN_FIELD",
    "MAX_FIELDS_IN_SEQUENCE",
    "MD_CTX_SYS",
    "MD_CTX_TD",
    "MD_CTX_VP",
    "MD_LIST_HEADER_SIZE",
    "NON_ARCH",
    "NULL_FIELD_ID",
    "RESERVED_MASK",
    "WRITE_MASK_VALID",
    "element_bytes",
    "field_id_name",
    "find_global_field",
    "get_bits",
    "global_field",
    "is_null_field_id",
    "make_field_id",
    "set_bits",
]
