# SPDX-License-Identifier: MIT
"""What the Linux kernel makes of a SEAMCALL result: the error code, its errno, what it prints.

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
the kernel oopses (arch/x86/kernel/traps.c).  The words are ours; the format strings are the
kernel's facts (what a user will grep the log for).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from seamemu.arch.kernel import (
    RDRAND_RETRY_LOOPS,
    SW_ERROR_NAMES,
    TDX_SEAMCALL_GP,
    TDX_SEAMCALL_UD,
    TDX_SEAMCALL_VMFAILINVALID,
    errno_name,
    seamcall_errno,
)
from seamemu.arch.leaves import TDH_SYS_INIT
from seamemu.arch.status import status_name, status_value

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

    @property
    def returned(self) -> bool:
        """False when the call never came back (an exception with no fixup: an oops)."""
        return self.errno_name != NO_RETURN

    def lines(self) -> list[str]:
        if not self.returned:
            return [f"no return value: {self.how}", f"  {self.meaning}"]
        out = [f"RAX = 0x{self.code:016x} ({self.code_name})", f"  {self.how}",
               f"  sc_retry_prerr(): {self.meaning} -> {self.errno_name} ({self.errno})"]
        if self.messages:
            out.append(f"  kernel log{' (' + self.printer + ')' if self.printer else ''}:")
            out += [f"    {m}" for m in self.messages]
        else:
            out.append("  kernel log: nothing from sc_retry_prerr()")
        return out


def kernel_view(rax: int, *, leaf: int, entry: str = "",
                out: Mapping[str, int] | None = None,
                unhandled: Mapping | None = None) -> KernelView:
    """How the kernel reads RAX after `entry` returned, for a call of `leaf`; `unhandled` is
    the fault report of a call that did not return (no exception-table entry)."""
    if unhandled is not None:
        name, where = unhandled.get("name", "the fault"), unhandled.get("symbol", "")
        return KernelView(
            rax, "", 0, NO_RETURN,
            f"{name} at {where or 'the SEAMCALL'} has no exception-table entry, so "
            f"{entry or 'the function'} never returns",
            "sc_retry_prerr() is never reached: the kernel's exception handler finds no fixup "
            "for the faulting address and the kernel oopses (arch/x86/kernel/traps.c: "
            "fixup_exception() fails, die())", ())
    errno = seamcall_errno(rax)
    name = SW_ERROR_NAMES.get(rax) or status_name(rax)
    messages: tuple[str, ...] = ()
    printer = ""
    if rax == TDX_SEAMCALL_VMFAILINVALID:
        how = ("SEAMCALL failed with VMfailInvalid (CF=1, RAX unchanged); the stub's `jc` "
               "after it loads TDX_SEAMCALL_VMFAILINVALID into RAX")
        meaning = "no TDX module answered"
        if leaf == TDH_SYS_INIT:
            messages = (PR_FMT + "module not loaded",)
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
            meaning = (f"TDX_RND_NO_ENTROPY is first retried by sc_retry() "
                       f"({RDRAND_RETRY_LOOPS} attempts in all); if it persists it is printed")
        messages = (f"{PR_FMT}SEAMCALL (0x{leaf:016x}) failed: 0x{rax:016x}",)
        printer = "seamcall_err(), for a caller of __seamcall"
        if entry in RET_ENTRIES and out is not None:
            printer = f"seamcall_err_ret(), for a caller of {entry}"
            g = {k: out.get(k, 0) for k in ("rcx", "rdx", "r8", "r9", "r10", "r11")}
            messages += (
                f"{PR_FMT}RCX 0x{g['rcx']:016x} RDX 0x{g['rdx']:016x} R08 0x{g['r8']:016x}",
                f"{PR_FMT}R09 0x{g['r9']:016x} R10 0x{g['r10']:016x} R11 0x{g['r11']:016x}",
            )
    return KernelView(rax, name, errno, errno_name(errno), how, meaning,
                      messages, printer)


__all__ = ["KernelView", "NO_RETURN", "PR_FMT", "kernel_view"]
