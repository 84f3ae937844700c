# SPDX-License-Identifier: MIT
"""What a kernel generation's calling convention promises, as data the invariants compare against.

A `Spec` names, for one entry point: which registers the caller's inputs must reach the module
in, which registers the module may answer in, the argument struct and which of its fields are
written back, whether instruction faults are left to the caller, and what a failed SEAMCALL
leaves in the struct.  The facts come from seamemu.kernel: the conventions (kernel.calling)
and what each generation's TDX_MODULE_CALL does (kernel.generations):

- args (6.8, mainline; `u64 fn(u64 leaf, struct tdx_module_args *args)`), three variants:
    plain  `__seamcall`:           RCX, RDX, R8-R11 in; nothing written back
    ret    `__seamcall_ret`:       the same in; RCX, RDX, R8-R11 written back
    saved  `__seamcall_saved_ret`: all 13 struct registers in and written back
  #GP/#UD come back as TDX_SW_ERROR | trap number (exception table), VMfailInvalid as
  TDX_SEAMCALL_VMFAILINVALID; nothing is written back on any of the three.
- legacy (v5-2022, `__seamcall(fn, rcx, rdx, r8, r9, out)`): RDI->RAX, RSI->RCX, RDX->RDX,
  RCX->R8, R8->R9; RCX-R11 copied to *out (when not NULL) whatever the module's status, and
  after VMfailInvalid too (v5.19's macro falls through to the copy: RCX-R9 then hold the
  inputs, R10 and R11 whatever the caller left in them); no exception table, so #GP/#UD
  reach the caller.
- raw: registers exactly as given; only the SysV rules (the caller's frame included) and "no
  fault except the SEAMCALL's"; stores elsewhere are not checked, since any register may be a
  pointer the caller meant.  Raw has no kernel behind it.
Spec: Linux arch/x86/virt/vmx/tdx/tdxcall.S (both generations) and seamcall.S;
arch/x86/include/asm/shared/tdx.h (struct tdx_module_args).
"""

from __future__ import annotations

from dataclasses import dataclass

from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.structs import TDX_MODULE_ARGS_FIELDS, TDX_MODULE_OUTPUT_FIELDS
from seamemu.errors import InputError
from seamemu.kernel.calling import (
    ARG_REGS,
    ARGS_VARIANTS,
    BASIC_REGS,
    CONVENTIONS,
    INPUT_REGS,
    LEGACY_ARG_OF,
    args_registers,
    args_writeback,
    variant_of,
)
from seamemu.kernel.generations import generation, generation_with

VARIANTS = ARGS_VARIANTS
# Registers a caller may hold anything in at entry (besides the arguments): every GPR but RSP.
ENTRY_REGS = ABI_ORDER + ("rbp",)


@dataclass(frozen=True)
class Spec:
    """One convention (and variant) of one kernel generation, as the fuzzer checks it."""

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
    vmfail_writeback: bool = False   # after VMfailInvalid the registers still go to *out
    kernel: str = ""                 # the generation whose stub semantics these are

    @property
    def free_regs(self) -> tuple[str, ...]:
        """Entry registers not carrying an argument: their values are the caller's own."""
        return tuple(r for r in ENTRY_REGS if r not in self.arg_regs)

    @property
    def label(self) -> str:
        return self.convention if self.convention != "args" else f"args/{self.variant}"


def make_spec(convention: str, variant: str | None = None, entry: str = "",
              kernel: str | None = None) -> Spec:
    """The Spec for a convention of generation `kernel` (default: the generation that uses the
    convention); args picks its variant from `variant` or the entry's name."""
    if convention not in CONVENTIONS:
        raise InputError(f"--convention {convention!r}: expected one of {', '.join(CONVENTIONS)}")
    if convention == "raw":
        if variant not in (None, "", convention):
            raise InputError(f"--variant {variant}: only the args convention has variants")
        regs = tuple(r for r in ENTRY_REGS if r != "rax")
        return Spec("raw", "raw", regs, (), BASIC_REGS, ENTRY_REGS, (), (),
                    faults_to_caller=True, checks_rax=False, stray_stores=False)
    gen = generation(kernel) if kernel else generation_with(convention)
    if gen.convention != convention:
        raise InputError(f"--convention {convention}: kernel {gen.name} calls SEAMCALL with the "
                         f"{gen.convention} convention")
    faults = not gen.extable
    if convention == "args":
        v = variant or variant_of(entry)
        if v not in VARIANTS:
            raise InputError(f"--variant {v!r}: expected one of {', '.join(VARIANTS)}")
        regs = args_registers(v)
        return Spec("args", v, TDX_MODULE_ARGS_FIELDS, regs, regs, ARG_REGS["args"],
                    TDX_MODULE_ARGS_FIELDS, args_writeback(v), faults_to_caller=faults,
                    checks_rax=True, vmfail_writeback=gen.vmfail_writes_outputs,
                    kernel=gen.name)
    if variant not in (None, "", convention):
        raise InputError(f"--variant {variant}: only the args convention has variants")
    legacy_in = INPUT_REGS["legacy"]
    return Spec("legacy", "legacy", legacy_in, legacy_in, BASIC_REGS, ARG_REGS["legacy"],
                TDX_MODULE_OUTPUT_FIELDS, TDX_MODULE_OUTPUT_FIELDS, faults_to_caller=faults,
                checks_rax=True, out_pointer=True, vmfail_writeback=gen.vmfail_writes_outputs,
                kernel=gen.name)


__all__ = [
    "CONVENTIONS",
    "ENTRY_REGS",
    "LEGACY_ARG_OF",
    "Spec",
    "VARIANTS",
    "make_spec",
    "variant_of",
]
