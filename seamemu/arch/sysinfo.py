# SPDX-License-Identifier: MIT
"""Byte layouts the init leaves read and write: TDSYSINFO_STRUCT, CMR_INFO, TDMR_INFO, and the
P-SEAMLDR's seamldr_info / seamldr_params.

Spec: intel/tdx-module tdx_1.5 include/tdx_api_defs.h (td_sys_info_t, cmr_info_entry_t,
tdmr_info_entry_t and their static asserts; M15, 72d8cff), src/vmm_dispatcher/api_calls/
tdh_sys_info.c; Linux arch/x86/virt/vmx/tdx/tdx.h (TDMR_INFO_ALIGNMENT,
TDMR_INFO_PA_ARRAY_ALIGNMENT, CMR_INFO_ARRAY_ALIGNMENT, MAX_CMRS); intel/tdx-loader
p-seam-loader/include/pseamldr_api_defs.h at 81bf312 (seamldr_info_t 256 B, seamldr_params_t
4096 B) and Linux arch/x86/virt/vmx/tdx/seamldr.c (struct seamldr_params).  All integers
little-endian, all structures packed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seamemu.errors import InputError


@dataclass(frozen=True)
class Field:
    name: str
    offset: int
    size: int                 # 1, 2, 4, 8 -> integer; anything else -> raw bytes


@dataclass(frozen=True)
class StructLayout:
    """A packed structure: fields sorted by offset, non-overlapping, within `size`."""

    name: str
    size: int
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    def offset(self, name: str) -> int:
        return self.field(name).offset

    def pack(self, **values: int | bytes) -> bytes:
        """Bytes of the structure with the given fields set and everything else zero."""
        buf = bytearray(self.size)
        for name, value in values.items():
            f = self.field(name)
            if isinstance(value, (bytes, bytearray)):
                if len(value) > f.size:
                    raise InputError(f"{self.name}.{name}: {len(value)} bytes > {f.size}")
                buf[f.offset:f.offset + len(value)] = value
            else:
                buf[f.offset:f.offset + f.size] = (value % (1 << (8 * f.size))).to_bytes(
                    f.size, "little")
        return bytes(buf)

    def unpack(self, data: bytes) -> dict[str, Any]:
        """Field values from `data` (at least `size` bytes): an int for a 1/2/4/8-byte field,
        bytes for any other (reserved areas, arrays), as the layout says per field."""
        if len(data) < self.size:
            raise InputError(f"{self.name}: need {self.size} bytes, got {len(data)}")
        out: dict[str, Any] = {}
        for f in self.fields:
            raw = bytes(data[f.offset:f.offset + f.size])
            out[f.name] = int.from_bytes(raw, "little") if f.size in (1, 2, 4, 8) else raw
        return out


# ---------------------------------------------------------------- TDH.SYS.INFO (leaf 32)
TDSYSINFO_STRUCT_SIZE = 1024
TDSYSINFO_STRUCT_ALIGNMENT = 1024
CPUID_CONFIG_SIZE = 24                 # u32 leaf, sub_leaf, eax, ebx, ecx, edx
CPUID_CONFIG_OFFSET = 132
MAX_CPUID_CONFIGS = (TDSYSINFO_STRUCT_SIZE - CPUID_CONFIG_OFFSET) // CPUID_CONFIG_SIZE  # 37
CPUID_NO_SUBLEAF = 0xFFFFFFFF

TDSYSINFO_STRUCT = StructLayout("TDSYSINFO_STRUCT", TDSYSINFO_STRUCT_SIZE, (
    Field("attributes", 0, 4),         # bit 31: debug module
    Field("vendor_id", 4, 4),          # 0x8086
    Field("build_date", 8, 4),
    Field("build_num", 12, 2),
    Field("minor_version", 14, 2),
    Field("major_version", 16, 2),
    Field("sys_rd", 18, 1),            # M15: 1 = "use TDH.SYS.RD*"; reserved (0) in 1.0
    Field("reserved_0", 19, 13),
    Field("max_tdmrs", 32, 2),
    Field("max_reserved_per_tdmr", 34, 2),
    Field("pamt_entry_size", 36, 2),
    Field("reserved_1", 38, 10),
    Field("tdcs_base_size", 48, 2),
    Field("reserved_2", 50, 2),
    Field("tdvps_base_size", 52, 2),
    Field("tdvps_xfam_dependent_size", 54, 1),
    Field("reserved_3", 55, 9),
    Field("attributes_fixed0", 64, 8),
    Field("attributes_fixed1", 72, 8),
    Field("xfam_fixed0", 80, 8),
    Field("xfam_fixed1", 88, 8),
    Field("reserved_4", 96, 32),
    Field("num_cpuid_config", 128, 4),
    Field("cpuid_configs", CPUID_CONFIG_OFFSET, TDSYSINFO_STRUCT_SIZE - CPUID_CONFIG_OFFSET),
))

CPUID_CONFIG = StructLayout("CPUID_CONFIG", CPUID_CONFIG_SIZE, (
    Field("leaf", 0, 4), Field("sub_leaf", 4, 4), Field("eax", 8, 4),
    Field("ebx", 12, 4), Field("ecx", 16, 4), Field("edx", 20, 4),
))

MAX_CMRS = 32
CMR_INFO_ENTRY_SIZE = 16
CMR_INFO_ARRAY_ALIGNMENT = MAX_CMRS * CMR_INFO_ENTRY_SIZE   # 512
CMR_INFO_ENTRY = StructLayout("CMR_INFO", CMR_INFO_ENTRY_SIZE, (
    Field("base", 0, 8), Field("size", 8, 8),                # size 0 = null entry
))


def unpack_cmr_array(data: bytes, count: int | None = None) -> list[tuple[int, int]]:
    """(base, size) of the first `count` CMR_INFO entries in `data` (all whole ones if None)."""
    whole = len(data) // CMR_INFO_ENTRY_SIZE
    n = whole if count is None else min(count, whole)
    return [(int.from_bytes(data[o:o + 8], "little"), int.from_bytes(data[o + 8:o + 16], "little"))
            for o in range(0, n * CMR_INFO_ENTRY_SIZE, CMR_INFO_ENTRY_SIZE)]

# ---------------------------------------------------------------- TDH.SYS.CONFIG (leaf 45)
MAX_TDMRS = 64
MAX_RESERVED_PER_TDMR = 16
PAMT_ENTRY_SIZE = 16
TDMR_INFO_SIZE = 64 + MAX_RESERVED_PER_TDMR * 16             # 320 (module static assert)
TDMR_INFO_ALIGNMENT = 512                 # each entry PA, and the kernel's stride
TDMR_INFO_PA_ARRAY_ALIGNMENT = 512        # the array of entry PAs
TDMR_INFO = StructLayout("TDMR_INFO", TDMR_INFO_SIZE, (
    Field("base", 0, 8), Field("size", 8, 8),
    Field("pamt_1g_base", 16, 8), Field("pamt_1g_size", 24, 8),
    Field("pamt_2m_base", 32, 8), Field("pamt_2m_size", 40, 8),
    Field("pamt_4k_base", 48, 8), Field("pamt_4k_size", 56, 8),
) + tuple(
    Field(f"rsvd{j}_{part}", 64 + 16 * j + (8 if part == "size" else 0), 8)
    for j in range(MAX_RESERVED_PER_TDMR) for part in ("offset", "size")
))


def pack_tdmr_info(base: int, size: int, pamt_4k: tuple[int, int], pamt_2m: tuple[int, int],
                   pamt_1g: tuple[int, int],
                   reserved: tuple[tuple[int, int], ...] = ()) -> bytes:
    """A TDMR_INFO entry; PAMTs as (base, size), reserved areas as (offset, size)."""
    if len(reserved) > MAX_RESERVED_PER_TDMR:
        raise InputError(f"TDMR_INFO: {len(reserved)} reserved areas > {MAX_RESERVED_PER_TDMR}")
    values: dict[str, int] = {
        "base": base, "size": size,
        "pamt_4k_base": pamt_4k[0], "pamt_4k_size": pamt_4k[1],
        "pamt_2m_base": pamt_2m[0], "pamt_2m_size": pamt_2m[1],
        "pamt_1g_base": pamt_1g[0], "pamt_1g_size": pamt_1g[1],
    }
    for j, (off, sz) in enumerate(reserved):
        values[f"rsvd{j}_offset"], values[f"rsvd{j}_size"] = off, sz
    return TDMR_INFO.pack(**values)


# ---------------------------------------------------------------- P-SEAMLDR
SEAMLDR_INFO_SIZE = 256
SEAMLDR_INFO_ALIGNMENT = 256
# seamldr_info_t of the 1.5 loader (version, attributes ... seamextend, features0).  Older
# loaders have 88 reserved bytes where features0 sits; features0 is written as 0 here.
SEAMLDR_INFO = StructLayout("P_SEAMLDR_INFO", SEAMLDR_INFO_SIZE, (
    Field("version", 0, 4),
    Field("attributes", 4, 4),         # bit 31: debug loader
    Field("vendor_id", 8, 4),
    Field("build_date", 12, 4),
    Field("build_num", 16, 2),
    Field("minor", 18, 2),
    Field("major", 20, 2),
    Field("reserved_0", 22, 2),
    Field("acm_x2apic", 24, 4),
    Field("num_remaining_updates", 28, 4),
    # seamextend_t (136 bytes) at 32
    Field("seamextend_valid", 32, 8),
    Field("tee_tcb_svn", 40, 16),
    Field("mrseam", 56, 48),
    Field("mrsigner", 104, 48),
    Field("seamextend_attributes", 152, 8),
    Field("seam_ready", 160, 1),
    Field("system_under_debug", 161, 1),
    Field("p_seamldr_ready", 162, 1),
    Field("seamextend_reserved", 163, 5),
    Field("features0", 168, 8),
    Field("reserved_2", 176, 80),
))

SEAMLDR_PARAMS_SIZE = 4096
SEAMLDR_PARAMS_MAX_MODULE_PAGES = 496
# The SEAM sysinfo table's num_handoff_pages (pages minus one) a loader gives the module; TDH.SYS.
# INIT requires at least TDX_MIN_HANDOFF_PAGES - 1 = 13 for handoff version 0 (tdh_sys_init.c
# check_module_build_time_defs; 53386 bytes of KOT, WBT and TDMR table, tdx_global_data.h).
# The real value comes from the module's sigstruct; none was found, so this is a choice, used by
# the model's NUM_HANDOFF_PAGES and by the loader of the real-module backend alike.
SEAMLDR_NUM_HANDOFF_PAGES = 15
SEAMLDR_SCENARIO_LOAD = 0
SEAMLDR_SCENARIO_UPDATE = 1
SEAMLDR_PARAMS = StructLayout("SEAMLDR_PARAMS", SEAMLDR_PARAMS_SIZE, (
    Field("version", 0, 4),            # must be 0
    Field("scenario", 4, 4),           # 0 load, 1 update
    Field("sigstruct_pa", 8, 8),
    Field("reserved", 16, 104),
    Field("num_module_pages", 120, 8),
    Field("mod_pages_pa_list", 128, 8 * SEAMLDR_PARAMS_MAX_MODULE_PAGES),
))


def pack_seamldr_params(scenario: int, sigstruct_pa: int, pages: tuple[int, ...] | list[int],
                        *, version: int = 0, num_module_pages: int | None = None) -> bytes:
    """A seamldr_params page; `num_module_pages` defaults to len(pages)."""
    if len(pages) > SEAMLDR_PARAMS_MAX_MODULE_PAGES:
        raise InputError(f"SEAMLDR_PARAMS: {len(pages)} pages > {SEAMLDR_PARAMS_MAX_MODULE_PAGES}")
    plist = b"".join((p % (1 << 64)).to_bytes(8, "little") for p in pages)
    count = len(pages) if num_module_pages is None else num_module_pages
    return SEAMLDR_PARAMS.pack(version=version, scenario=scenario, sigstruct_pa=sigstruct_pa,
                               num_module_pages=count, mod_pages_pa_list=plist)


__all__ = [
    "CMR_INFO_ARRAY_ALIGNMENT",
    "CMR_INFO_ENTRY",
    "CMR_INFO_ENTRY_SIZE",
    "CPUID_CONFIG",
    "CPUID_CONFIG_OFFSET",
    "CPUID_CONFIG_SIZE",
    "CPUID_NO_SUBLEAF",
    "Field",
    "MAX_CMRS",
    "MAX_CPUID_CONFIGS",
    "MAX_RESERVED_PER_TDMR",
    "MAX_TDMRS",
    "PAMT_ENTRY_SIZE",
    "SEAMLDR_INFO",
    "SEAMLDR_INFO_ALIGNMENT",
    "SEAMLDR_INFO_SIZE",
    "SEAMLDR_NUM_HANDOFF_PAGES",
    "SEAMLDR_PARAMS",
    "SEAMLDR_PARAMS_MAX_MODULE_PAGES",
    "SEAMLDR_PARAMS_SIZE",
    "SEAMLDR_SCENARIO_LOAD",
    "SEAMLDR_SCENARIO_UPDATE",
    "StructLayout",
    "TDMR_INFO",
    "TDMR_INFO_ALIGNMENT",
    "TDMR_INFO_PA_ARRAY_ALIGNMENT",
    "TDMR_INFO_SIZE",
    "TDSYSINFO_STRUCT",
    "TDSYSINFO_STRUCT_ALIGNMENT",
    "TDSYSINFO_STRUCT_SIZE",
    "pack_seamldr_params",
    "pack_tdmr_info",
    "unpack_cmr_array",
]
