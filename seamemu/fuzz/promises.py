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
- The TD guest's side (Linux v6.6+ arch/x86/coco/tdx/tdcall.S, tdx.c), whose instruction is
  TDCALL and whose normal state a TD's vCPU:
    tdcall (`__tdcall`, `__tdcall_ret`, `__tdcall_saved_ret`): as args, but nothing catches a
    fault at the TDCALL (TDX_MODULE_CALL host=0 has no exception-table entry), so #GP/#UD there
    are the caller's;
    hypercall (`__tdx_hypercall(struct tdx_module_args *args)`): the module receives RAX =
    TDG.VP.VMCALL and RCX = TDVMCALL_EXPOSE_REGS_MASK (the wrapper writes it into args->rcx
    first) and the twelve exposed registers from the struct; all 13 fields come back; the
    value returned is R10 as the VMM left it; a TDCALL that itself fails (RAX not 0) is fatal
    (the kernel panics: __tdx_hypercall_failed()), so such a call must not return.
- saved+ret variants (and the hypercall) zero the registers the module or VMM could answer in
  before returning, so that no value the other side chose survives for the caller to use
  speculatively: tdxcall.S since v6.6 ("Zero ... registers exposed to the VMM"); the check is
  that none of RCX, RDX, R8-R11, RDI, RSI still holds a value the module answered there.
Spec: Linux arch/x86/virt/vmx/tdx/tdxcall.S (both generations) and seamcall.S;
arch/x86/include/asm/shared/tdx.h (struct tdx_module_args).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seamemu.arch.ghci import TDVMCALL_EXPOSE_REGS, TDVMCALL_EXPOSE_REGS_MASK
from seamemu.arch.leaves import TDG_VP_VMCALL
from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.structs import TDX_MODULE_ARGS_FIELDS, TDX_MODULE_OUTPUT_FIELDS
from seamemu.errors import InputError
from seamemu.kernel.calling import (
    ARG_REGS,
    ARGS_VARIANTS,
    BASIC_REGS,
    CONVENTIONS,
    GUEST_CONVENTIONS,
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
# What the saved+ret variants zero after the call (R12-R15 and RBX are restored instead).
CLEARED = ("rcx", "rdx", "r8", "r9", "r10", "r11", "rdi", "rsi")
# Conventions with variants (their entries' names say which).
VARIANT_CONVENTIONS = ("args", "tdcall")


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
    instruction: str = "seamcall"    # the call's instruction: "tdcall" for the guest's
    fixed_inputs: tuple[tuple[str, int], ...] = ()  # module registers the wrapper sets itself
    fixed_struct: tuple[tuple[str, int], ...] = ()  # struct fields it writes before the call
    status_reg: str = "rax"          # the module register whose value is returned (hypercall:
                                     # R10, the VMM's status)
    panics_on_failure: bool = False  # a failed call (status not 0) must not return
    cleared: tuple[str, ...] = ()    # registers that must not keep a value the module answered

    @property
    def free_regs(self) -> tuple[str, ...]:
        """Entry registers not carrying an argument: their values are the caller's own."""
        return tuple(r for r in ENTRY_REGS if r not in self.arg_regs)

    @property
    def label(self) -> str:
        if self.convention in VARIANT_CONVENTIONS:
            return f"{self.convention}/{self.variant}"
        return self.convention


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
    if convention in GUEST_CONVENTIONS:
        if kernel:
            raise InputError(f"--kernel {kernel}: the {convention} convention is the TD guest's "
                             "(Linux v6.6+); --kernel names the host's kernel generation")
        return _guest_spec(convention, variant, entry)
    gen = generation(kernel) if kernel else generation_with(convention)
    if gen.convention != convention:
        raise InputError(f"--convention {convention}: kernel {gen.name} calls SEAMCALL with the "
                         f"{gen.convention} convention")
    faults = not gen.extable
    if convention == "args":
        return _struct_spec("args", variant, entry, faults_to_caller=faults,
                            vmfail_writeback=gen.vmfail_writes_outputs, kernel=gen.name)
    if variant not in (None, "", convention):
        raise InputError(f"--variant {variant}: only the args convention has variants")
    legacy_in = INPUT_REGS["legacy"]
    return Spec("legacy", "legacy", legacy_in, legacy_in, BASIC_REGS, ARG_REGS["legacy"],
                TDX_MODULE_OUTPUT_FIELDS, TDX_MODULE_OUTPUT_FIELDS, faults_to_caller=faults,
                checks_rax=True, out_pointer=True, vmfail_writeback=gen.vmfail_writes_outputs,
                kernel=gen.name)


def _struct_spec(convention: str, variant: str | None, entry: str, **promises: Any) -> Spec:
    """args (SEAMCALL) and tdcall (TDCALL): struct tdx_module_args in and out, its registers
    as the variant (from the entry's name when not given) moves them."""
    v = variant or variant_of(entry)
    if v not in VARIANTS:
        raise InputError(f"--variant {v!r}: expected one of {', '.join(VARIANTS)}")
    regs = args_registers(v)
    return Spec(convention, v, TDX_MODULE_ARGS_FIELDS, regs, regs, ARG_REGS[convention],
                TDX_MODULE_ARGS_FIELDS, args_writeback(v), checks_rax=True,
                cleared=CLEARED if v == "saved" else (), **promises)


def _guest_spec(convention: str, variant: str | None, entry: str) -> Spec:
    if convention == "tdcall":
        return _struct_spec("tdcall", variant, entry, faults_to_caller=True, instruction="tdcall")
    if variant not in (None, "", convention):
        raise InputError(f"--variant {variant}: only the args and tdcall conventions have "
                         "variants")
    exposed = tuple(f for f in TDX_MODULE_ARGS_FIELDS if f in TDVMCALL_EXPOSE_REGS)
    return Spec("hypercall", "hypercall", TDX_MODULE_ARGS_FIELDS, exposed, exposed,
                ARG_REGS["hypercall"], TDX_MODULE_ARGS_FIELDS, TDX_MODULE_ARGS_FIELDS,
                faults_to_caller=True, checks_rax=True, instruction="tdcall",
                fixed_inputs=(("rax", TDG_VP_VMCALL), ("rcx", TDVMCALL_EXPOSE_REGS_MASK)),
                fixed_struct=(("rcx", TDVMCALL_EXPOSE_REGS_MASK),), status_reg="r10",
                panics_on_failure=True, cleared=CLEARED)


__all__ = [
    "CLEARED",
    "CONVENTIONS",
    "ENTRY_REGS",
    "LEGACY_ARG_OF",
    "Spec",
    "VARIANTS",
    "VARIANT_CONVENTIONS",
    "make_spec",
    "variant_of",
]
