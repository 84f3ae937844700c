# SPDX-License-Identifier: MIT
"""What a Linux kernel generation makes of a SEAMCALL result: the code, its errno, its messages.

The wrapper semantics (retry, errno, message formats) are seamemu.kernel.wrappers'; this
module words them for a reader.  For 6.8 and mainline --
Spec: Linux arch/x86/virt/vmx/tdx/tdx.c (v6.8+; seamcall_internal.h in later trees):
sc_retry() repeats a call while it returns TDX_RND_NO_ENTROPY, RDRAND_RETRY_LOOPS times;
sc_retry_prerr() returns 0 on TDX_SUCCESS, -ENODEV on TDX_SEAMCALL_VMFAILINVALID,
-EOPNOTSUPP on TDX_SEAMCALL_GP and -EACCES on TDX_SEAMCALL_UD without printing anything, and
for any other value calls its error printer and returns -EIO.  seamcall_err() prints
"SEAMCALL (0x<fn>) failed: 0x<err>"; seamcall_err_ret() (the seamcall_prerr_ret() callers,
which use __seamcall_ret) adds RCX..R11 from the argument struct in two lines.
try_init_module_global() prints "module not loaded" when TDH.SYS.INIT, the first SEAMCALL,
gets -ENODEV.  pr_fmt is "virt/tdx: ".  A SEAMCALL that faults with no exception-table entry
(the 2022 series' stub) never returns: the trap handler's fixup_exception() finds nothing and
the kernel oopses (arch/x86/kernel/traps.c).  v5-2022's seamcall() never retries, prints
"SEAMCALL failed: leaf: 0x<fn>, error: 0x<err>" (and the six outputs when the caller passed a
struct) for a failed status, and its callers return -EFAULT (-ENODEV for VMfailInvalid on
TDH.SYS.INIT).  The words are ours; the format strings are the kernels' facts (what a user
will grep the log for).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from seamemu.arch.kernel import (
    SW_ERROR_NAMES,
    TDX_SEAMCALL_GP,
    TDX_SEAMCALL_UD,
    TDX_SEAMCALL_VMFAILINVALID,
    errno_name,
)
from seamemu.arch.leaves import TDH_SYS_INIT
from seamemu.arch.status import status_name, status_value
from seamemu.kernel import Generation, generation
from seamemu.kernel.wrappers import RDRAND_RETRY_LOOPS, error_messages, status_errno
from seamemu.machine.results import FaultEvent

PR_FMT = "virt/tdx: "
# Entry points whose kernel callers print the output registers too (seamcall_prerr_ret).
RET_ENTRIES = ("__seamcall_ret", "__seamcall_saved_ret")
TDX_RND_NO_ENTROPY = status_value("TDX_RND_NO_ENTROPY")

NO_RETURN = "no return (oops)"    # errno_name of a call that faulted with no fixup


@dataclass(frozen=True)
class KernelView:
    """The kernel's reading of one SEAMCALL result."""

    code: int
    code_name: str
    errno: int
    errno_name: str
    how: str                         # how the stub produced the code
    meaning: str                     # what sc_retry_prerr() does with it
    messages: tuple[str, ...]        # what ends up in the kernel log
    printer: str = ""                # the function that prints them
    wrapper: str = "sc_retry_prerr()"  # the generation's wrapper the code goes through
    generation: str = ""             # the kernel generation read (kernel.generations)

    @property
    def returned(self) -> bool:
        """False when the call never came back (an exception with no fixup: an oops)."""
        return self.errno_name != NO_RETURN

    def lines(self) -> list[str]:
        if not self.returned:
            return [f"no return value: {self.how}", f"  {self.meaning}"]
        out = [f"RAX = 0x{self.code:016x} ({self.code_name})", f"  {self.how}",
               f"  {self.wrapper}: {self.meaning} -> {self.errno_name} ({self.errno})"]
        if self.messages:
            out.append(f"  kernel log{' (' + self.printer + ')' if self.printer else ''}:")
            out += [f"    {m}" for m in self.messages]
        else:
            out.append(f"  kernel log: nothing from {self.wrapper}")
        return out


def kernel_view(rax: int, *, leaf: int, entry: str = "",
                out: Mapping[str, int] | None = None,
                unhandled: FaultEvent | None = None,
                kernel: Generation | str | None = None) -> KernelView:
    """How generation `kernel` reads RAX after `entry` returned, for a call of `leaf`;
    `unhandled` is the fault report of a call that did not return (no exception-table entry)."""
    gen = generation(kernel)
    view = _reading(gen, rax, leaf, entry, out, unhandled)
    return dataclasses.replace(view, generation=gen.name)


def _reading(gen: Generation, rax: int, leaf: int, entry: str,
             out: Mapping[str, int] | None, unhandled: FaultEvent | None) -> KernelView:
    if unhandled is not None:
        name, where = unhandled.name, unhandled.symbol
        return KernelView(
            rax, "", 0, NO_RETURN,
            f"{name} at {where or 'the SEAMCALL'} has no exception-table entry, so "
            f"{entry or 'the function'} never returns",
            "the wrapper is never reached: the kernel's exception handler finds no fixup "
            "for the faulting address and the kernel oopses (arch/x86/kernel/traps.c: "
            "fixup_exception() fails, die())", ())
    if not gen.retries_entropy:
        return _v5_view(gen, rax, leaf, entry, out)
    errno = status_errno(gen, rax, leaf)
    name = SW_ERROR_NAMES.get(rax) or status_name(rax)
    messages: tuple[str, ...] = ()
    printer = ""
    if rax == TDX_SEAMCALL_VMFAILINVALID:
        how = ("SEAMCALL failed with VMfailInvalid (CF=1, RAX unchanged); the stub's `jc` "
               "after it loads TDX_SEAMCALL_VMFAILINVALID into RAX")
        meaning = "no TDX module answered"
        if leaf == TDH_SYS_INIT:
            messages = (gen.pr_fmt + "module not loaded",)
            printer = "try_init_module_global()"
    elif rax in (TDX_SEAMCALL_GP, TDX_SEAMCALL_UD):
        trap = "#GP" if rax == TDX_SEAMCALL_GP else "#UD"
        how = (f"{trap} at SEAMCALL went through the exception table (EX_TYPE_FAULT: RAX = trap "
               f"number {rax & 0xFF}); the fixup ORs in TDX_SW_ERROR")
        meaning = ("SEAMCALL faulted with #GP: TDX not enabled by BIOS (SEAMRR) or CPL > 0"
                   if trap == "#GP" else "SEAMCALL faulted with #UD: the CPU is not in VMX operation")
    elif rax == 0:
        how = "the module completed the call (VMsucceed) and its status TDX_SUCCESS is in RAX"
        meaning = "success"
    else:
        how = "the module completed the call and returned this status in RAX"
        meaning = "any other value is a module error, printed"
        if rax == TDX_RND_NO_ENTROPY:
            meaning = ("TDX_RND_NO_ENTROPY is first retried by sc_retry() "
                       f"({RDRAND_RETRY_LOOPS} attempts in all); if it persists it is printed")
        with_out = entry in RET_ENTRIES and out is not None
        messages = tuple(gen.pr_fmt + m for m in error_messages(
            gen, leaf, rax, out if with_out else None))
        printer = (f"seamcall_err_ret(), for a caller of {entry}" if with_out
                   else "seamcall_err(), for a caller of __seamcall")
    return KernelView(rax, name, errno, errno_name(errno), how, meaning,
                      messages, printer)


def _v5_view(gen: Generation, rax: int, leaf: int, entry: str,
             out: Mapping[str, int] | None) -> KernelView:
    """v5-2022: seamcall() hands the raw status to its caller; no exception table, no retry."""
    errno = status_errno(gen, rax, leaf)
    name = SW_ERROR_NAMES.get(rax) or status_name(rax)
    messages = tuple(gen.pr_fmt + m for m in error_messages(gen, leaf, rax, out))
    if rax == TDX_SEAMCALL_VMFAILINVALID:
        how = ("SEAMCALL failed with VMfailInvalid (CF=1, RAX unchanged); the stub's `jnc` "
               "falls through to loading TDX_SEAMCALL_VMFAILINVALID, then copies the unchanged "
               "registers into *out anyway")
        meaning = ("no TDX module answered; seamcall() prints nothing, and "
                   + ("tdx_module_init_global() makes it -ENODEV ('TDX module is not loaded.')"
                      if leaf == TDH_SYS_INIT else "its caller returns -EFAULT"))
    elif rax == 0:
        how = "the module completed the call (VMsucceed) and its status TDX_SUCCESS is in RAX"
        meaning = "success"
    else:
        how = "the module completed the call and returned this status in RAX"
        meaning = ("any other value is printed by seamcall() (no retry, even for "
                   "TDX_RND_NO_ENTROPY) and its caller returns -EFAULT")
    return KernelView(rax, name, errno, errno_name(errno), how, meaning, messages,
                      "seamcall() (v5 08/22)" if messages else "", wrapper="seamcall()")


__all__ = ["KernelView", "NO_RETURN", "PR_FMT", "kernel_view"]
