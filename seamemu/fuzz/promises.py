# SPDX-License-Identifier: MIT
"""What a calling convention promises, as data the invariants compare against.

A `Spec` names, for one entry point: which registers the caller's inputs must reach the module
in, which registers the module may answer in, the argument struct and which of its fields are
written back, and whether instruction faults are left to the caller.

- args (Linux since v6.6, `u64 fn(u64 leaf, struct tdx_module_args *args)`), three variants:
    plain  `__seamcall`:           RCX, RDX, R8-R11 in; nothing written back
    ret    `__seamcall_ret`:       the same in; RCX, RDX, R8-R11 written back
    saved  `__seamcall_saved_ret`: all 13 struct registers in and written back
  #GP/#UD come back as TDX_SW_ERROR | trap number (exception table), VMfailInvalid as
  TDX_SEAMCALL_VMFAILINVALID; nothing is written back on any of the three.
- legacy (the 2022 series, `__seamcall(fn, rcx, rdx, r8, r9, out)`): RDI->RAX, RSI->RCX,
  RDX->RDX, RCX->R8, R8->R9; RCX-R11 copied to *out (when not NULL) whatever the status,
  nothing on VMfailInvalid; no exception table, so #GP/#UD reach the caller.
- raw: registers exactly as given; only the SysV rules (the caller's frame included) and "no
  fault except the SEAMCALL's"; stores elsewhere are not checked, since any register may be a
  pointer the caller meant.
Spec: Linux arch/x86/virt/vmx/tdx/tdxcall.S (both generations) and seamcall.S;
arch/x86/include/asm/shared/tdx.h (struct tdx_module_args).
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.structs import TDX_MODULE_ARGS_FIELDS, TDX_MODULE_OUTPUT_FIELDS
from seamemu.errors import InputError

CONVENTIONS = ("args", "legacy", "raw")
VARIANTS = ("plain", "ret", "saved")

_BASIC = ("rcx", "rdx", "r8", "r9", "r10", "r11")
# Registers a caller may hold anything in at entry (besides the arguments): every GPR but RSP.
ENTRY_REGS = ABI_ORDER + ("rbp",)


@dataclass(frozen=True)
class Spec:
    """One convention (and variant) as the fuzzer checks it."""

    convention: str
    variant: str
    inputs: tuple[str, ...]          # names of the case's input values
    module_inputs: tuple[str, ...]   # module registers that must equal the matching inputs
    module_writes: tuple[str, ...]   # registers the module may answer in (besides RAX)
    arg_regs: tuple[str, ...]        # SysV argument registers the convention uses
    struct_fields: tuple[str, ...]   # the struct the caller passes (empty: none)
    writeback: tuple[str, ...]       # struct fields written with the module's outputs
    faults_to_caller: bool           # #GP/#UD at the SEAMCALL are the caller's to handle
    checks_rax: bool                 # RAX on return is promised
    out_pointer: bool = False        # legacy: the struct pointer may be NULL
    stray_stores: bool = True        # check stores outside the stack and struct (not raw:
                                     # there any register may be a pointer the caller gave)

    @property
    def free_regs(self) -> tuple[str, ...]:
        """Entry registers not carrying an argument: their values are the caller's own."""
        return tuple(r for r in ENTRY_REGS if r not in self.arg_regs)

    @property
    def label(self) -> str:
        return self.convention if self.convention != "args" else f"args/{self.variant}"


def make_spec(convention: str, variant: str | None = None, entry: str = "") -> Spec:
    """The Spec for a convention; args picks its variant from `variant` or the entry's name."""
    if convention == "args":
        v = variant or variant_of(entry)
        if v not in VARIANTS:
            raise InputError(f"--variant {v!r}: expected one of {', '.join(VARIANTS)}")
        regs = TDX_MODULE_ARGS_FIELDS if v == "saved" else _BASIC
        return Spec("args", v, TDX_MODULE_ARGS_FIELDS, regs,
                    TDX_MODULE_ARGS_FIELDS if v == "saved" else _BASIC,
                    ("rdi", "rsi"), TDX_MODULE_ARGS_FIELDS,
                    () if v == "plain" else regs, faults_to_caller=False, checks_rax=True)
    if variant not in (None, "", convention):
        raise InputError(f"--variant {variant}: only the args convention has variants")
    if convention == "legacy":
        return Spec("legacy", "legacy", ("rcx", "rdx", "r8", "r9"), ("rcx", "rdx", "r8", "r9"),
                    _BASIC, ("rdi", "rsi", "rdx", "rcx", "r8", "r9"), TDX_MODULE_OUTPUT_FIELDS,
                    TDX_MODULE_OUTPUT_FIELDS, faults_to_caller=True, checks_rax=True,
                    out_pointer=True)
    if convention == "raw":
        regs = tuple(r for r in ENTRY_REGS if r != "rax")
        return Spec("raw", "raw", regs, (), _BASIC, ENTRY_REGS, (), (),
                    faults_to_caller=True, checks_rax=False, stray_stores=False)
    raise InputError(f"--convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")


def variant_of(entry: str) -> str:
    """The args variant an entry name implies, the way the kernel names its wrappers."""
    name = entry.lower()
    if "saved" in name:
        return "saved"
    if name.endswith("ret"):
        return "ret"
    return "plain"


# Where legacy puts each module input: RSI->RCX, RDX->RDX, RCX->R8, R8->R9 (RDI is the leaf,
# R9 the output pointer).  Spec: Linux tdxcall.S @03a423d.
LEGACY_ARG_OF = {"rcx": "rsi", "rdx": "rdx", "r8": "rcx", "r9": "r8"}

__all__ = [
    "CONVENTIONS",
    "ENTRY_REGS",
    "LEGACY_ARG_OF",
    "Spec",
    "VARIANTS",
    "make_spec",
    "variant_of",
]
