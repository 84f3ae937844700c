# SPDX-License-Identifier: MIT
"""What a leaf's output buffer holds, field by field, for the trace of the call that wrote it.

A buffer is recognised by the leaf that wrote it and the input register that pointed at it;
the layouts are the ones the model writes with (seamemu.arch.sysinfo), so a trace reads the
bytes exactly as the kernel would.  Buffers of other leaves are shown as bytes only.
"""

from __future__ import annotations

from collections.abc import Callable

from seamemu.arch.sysinfo import CMR_INFO_ENTRY_SIZE, TDSYSINFO_STRUCT, unpack_cmr_array


def _cmr_array(data: bytes) -> tuple[str, ...]:
    """CMR_INFO entries (base, size); a run of null entries (size 0) is one line.

    Spec: intel/tdx-module tdx_1.5 include/tdx_api_defs.h (cmr_info_entry_t); the module
    always writes MAX_CMR entries, the kernel's print_cmrs() stops at the first null one."""
    entries = unpack_cmr_array(data)
    lines = [f"read as CMR_INFO[{len(entries)}] (base, size):"]
    i = 0
    while i < len(entries):
        base, size = entries[i]
        if size == 0:
            j = i
            while j + 1 < len(entries) and entries[j + 1][1] == 0:
                j += 1
            which = f"[{i}]" if i == j else f"[{i}..{j}]"
            lines.append(f"  {which:<8} null (size 0)")
            i = j + 1
            continue
        lines.append(f"  {f'[{i}]':<8} base 0x{base:016x} size 0x{size:016x}"
                     f"  = [0x{base:x}, 0x{base + size:x})")
        i += 1
    return tuple(lines)


def _tdsysinfo(data: bytes) -> tuple[str, ...]:
    """The TDSYSINFO_STRUCT fields a reader looks at first.

    Spec: intel/tdx-module tdx_1.5 include/tdx_api_defs.h (td_sys_info_t)."""
    f = TDSYSINFO_STRUCT.unpack(data)
    return (
        "read as TDSYSINFO_STRUCT:",
        f"  vendor_id 0x{f['vendor_id']:04x}, version {f['major_version']}.{f['minor_version']} "
        f"build {f['build_num']}, build_date {f['build_date']}, attributes 0x{f['attributes']:08x}",
        f"  max_tdmrs {f['max_tdmrs']}, max_reserved_per_tdmr {f['max_reserved_per_tdmr']}, "
        f"pamt_entry_size {f['pamt_entry_size']}, num_cpuid_config {f['num_cpuid_config']}",
    )


# (leaf, input register that held the buffer's address) -> (layout size, decoder)
BUFFERS: dict[tuple[str, str], tuple[int, Callable[[bytes], tuple[str, ...]]]] = {
    ("TDH.SYS.INFO", "r8"): (CMR_INFO_ENTRY_SIZE, _cmr_array),
    ("TDH.SYS.INFO", "rcx"): (TDSYSINFO_STRUCT.size, _tdsysinfo),
}


def decode_buffer(leaf: str, reg: str, data: bytes) -> tuple[str, ...]:
    """Lines describing `data`, which `leaf` wrote where input `reg` pointed; () if unknown."""
    known = BUFFERS.get((leaf, reg.lower()))
    if known is None or len(data) < known[0]:
        return ()
    return known[1](bytes(data))


__all__ = ["BUFFERS", "decode_buffer"]
