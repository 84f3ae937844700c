# SPDX-License-Identifier: MIT
"""Layouts of the structures that cross the SEAMCALL calling convention.

Spec: Linux arch/x86/include/asm/shared/tdx.h (struct tdx_module_args, mainline since v6.6) and
the 2022 series' struct tdx_module_output (tdx.h @019b383); offsets are field index x 8 since
every field is a u64.
"""

from __future__ import annotations

# struct tdx_module_args: 13 u64 fields, in this order.
TDX_MODULE_ARGS_FIELDS: tuple[str, ...] = (
    "rcx", "rdx", "r8", "r9", "r10", "r11",
    "r12", "r13", "r14", "r15", "rbx", "rdi", "rsi",
)
TDX_MODULE_ARGS_OFFSETS: dict[str, int] = {
    name: 8 * i for i, name in enumerate(TDX_MODULE_ARGS_FIELDS)
}
TDX_MODULE_ARGS_SIZE = 8 * len(TDX_MODULE_ARGS_FIELDS)  # 104

# struct tdx_module_output of the 2022 register convention: the registers the module returns.
TDX_MODULE_OUTPUT_FIELDS: tuple[str, ...] = ("rcx", "rdx", "r8", "r9", "r10", "r11")
TDX_MODULE_OUTPUT_OFFSETS: dict[str, int] = {
    name: 8 * i for i, name in enumerate(TDX_MODULE_OUTPUT_FIELDS)
}
TDX_MODULE_OUTPUT_SIZE = 8 * len(TDX_MODULE_OUTPUT_FIELDS)  # 48

__all__ = [
    "TDX_MODULE_ARGS_FIELDS",
    "TDX_MODULE_ARGS_OFFSETS",
    "TDX_MODULE_ARGS_SIZE",
    "TDX_MODULE_OUTPUT_FIELDS",
    "TDX_MODULE_OUTPUT_OFFSETS",
    "TDX_MODULE_OUTPUT_SIZE",
]
