# SPDX-License-Identifier: MIT
"""The complete status tables of the TDX module source generations, as Intel generated them.

The TDX 1.5 releases (TDX_1.5.01 and later) share one table; TDX 1.0 has its own, with different
values for TDX_NON_RECOVERABLE_TD, TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE and TDX_TD_FATAL
(1.5 adds the FATAL bit 61), a few names 1.5 renamed or dropped (TDX_BOOT_NT4_SET became
TDX_LIMIT_CPUID_MAXVAL_SET) and none of 1.5's metadata, migration, service-TD, update and
entropy statuses.  TDX 2.0 (2.0.08) keeps every 1.5 status at its 1.5 value and adds 101
(Dynamic PAMT, event filters, TDX Connect's class 0x0F, ...).  seamemu.arch.status names
statuses and renders their detail bytes; a module release profile says which of these tables
its module returns.

Spec: intel/tdx-module TDX_1.5.01 (72d8cff) include/auto_gen/tdx_error_codes_defs.h (M15);
qizhangz/tdx-module 9359de5 (TDX_1.0_V1.00) include/auto_gen/tdx_error_codes_defs.h (M10);
intel/tdx-module 1666adc (2.0.08) include/auto_gen_2_0/tdx_error_codes_defs.h (M20).
Numbers and names only, sorted by value, in seamemu/data/tdx_module/status_codes.txt.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from seamemu.arch.datafile import read_sections

_TABLES = read_sections("status_codes.txt")
M15_STATUSES: tuple[tuple[str, int], ...] = tuple((n, int(v, 0)) for n, v in _TABLES["M15"])
M10_STATUSES: tuple[tuple[str, int], ...] = tuple((n, int(v, 0)) for n, v in _TABLES["M10"])
M20_STATUSES: tuple[tuple[str, int], ...] = tuple((n, int(v, 0)) for n, v in _TABLES["M20"])

STATUS_TABLES: Mapping[str, Mapping[str, int]] = MappingProxyType({
    "M10": MappingProxyType(dict(M10_STATUSES)),
    "M15": MappingProxyType(dict(M15_STATUSES)),
    "M20": MappingProxyType(dict(M20_STATUSES)),
})
# The table each ABI generation's module returns from.
TABLE_FOR_ABI: Mapping[str, str] = MappingProxyType({"1.0": "M10", "1.5": "M15", "2.0": "M20"})

__all__ = ["M10_STATUSES", "M15_STATUSES", "M20_STATUSES", "STATUS_TABLES", "TABLE_FOR_ABI"]
