# SPDX-License-Identifier: MIT
"""Where the shipped assembly stubs live, and which entry points they provide."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def stub_dir() -> Path:
    """The `asm/` directory: `seamemu/asm` (a link to the checkout's asm/, copied into wheels)."""
    for candidate in (_PKG / "asm", _PKG.parent / "asm"):
        if (candidate / "seamcall.S").is_file():
            return candidate.resolve()  # the checkout's own asm/ when it is the link
    raise FileNotFoundError(
        "the shipped asm/ stubs are missing: install seamemu from a source checkout "
        "(pip install -e .) so that asm/ is beside the package"
    )


def stub(name: str) -> Path:
    """Path of a shipped stub by file name, e.g. stub('seamcall.S')."""
    return stub_dir() / name


# The kernel (2023+) convention: struct tdx_module_args.
ARGS_STUB = "seamcall.S"
ARGS_ENTRIES = ("__seamcall", "__seamcall_ret", "__seamcall_saved_ret")
# The 2022 register convention with struct tdx_module_output.
LEGACY_STUB = "seamcall_legacy.S"
LEGACY_ENTRY = "__seamcall"
DEFAULT_ENTRY = "__seamcall_ret"
# The TD guest's side: TDX_MODULE_CALL host=0 (tdcall convention) and __tdx_hypercall.
GUEST_STUB = "tdcall.S"
GUEST_ENTRIES = ("__tdcall", "__tdcall_ret", "__tdcall_saved_ret")
HYPERCALL_ENTRY = "__tdx_hypercall"
GUEST_ENTRY = "__tdcall_ret"

__all__ = [
    "ARGS_ENTRIES",
    "ARGS_STUB",
    "DEFAULT_ENTRY",
    "GUEST_ENTRIES",
    "GUEST_ENTRY",
    "GUEST_STUB",
    "HYPERCALL_ENTRY",
    "LEGACY_ENTRY",
    "LEGACY_STUB",
    "stub",
    "stub_dir",
]
