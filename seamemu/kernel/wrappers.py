# SPDX-License-Identifier: MIT
"""The kernels' SEAMCALL wrappers over the assembly stub: retry, errno, error messages.

Every call goes through the generation's shipped stub on an emulated LP, so RAX comes back
as that kernel's C code would see it: the module's status, or the software code the stub made
(TDX_SEAMCALL_VMFAILINVALID; TDX_SEAMCALL_GP/UD only where an exception table catches them).

- v5-2022 seamcall() (v5 08/22): one attempt, no retry; VMfailInvalid and success are silent,
  any other status prints "SEAMCALL failed: leaf: 0x<fn>, error: 0x<err>" and, when an output
  struct was passed, the six output registers.  Its callers turn every failure into -EFAULT,
  except TDH.SYS.INIT, which reads VMfailInvalid as "module not loaded" (-ENODEV).  A #GP or
  #UD at SEAMCALL has no fixup: the kernel oopses.
- 6.8 and mainline sc_retry_prerr() (6.8: tdx.c and asm/tdx.h; mainline: seamcall_internal.h):
  repeat while TDX_RND_NO_ENTROPY, RDRAND_RETRY_LOOPS (10) attempts in all, each sending the
  args struct the previous attempt wrote back; then 0, -ENODEV (VMfailInvalid), -EOPNOTSUPP
  (#GP), -EACCES (#UD) silently, or "SEAMCALL (0x<fn>) failed: 0x<err>" (plus RCX..R11 in two
  lines for the __seamcall_ret callers) and -EIO.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field

from seamemu.arch.kernel import (
    SW_ERROR_NAMES,
    TDX_SEAMCALL_GP,
    TDX_SEAMCALL_UD,
    TDX_SEAMCALL_VMFAILINVALID,
)
from seamemu.arch.leaves import (
    TDH_SYS_INIT,
    leaf_info,
    leaf_number,
)
from seamemu.arch.status import TdxStatus, status_name
from seamemu.errors import BoundExceeded
from seamemu.jsonout import JsonRecord, hex64, hex_map, json_as
from seamemu.kernel.calling import BASIC_REGS
from seamemu.kernel.generations import Generation
from seamemu.kernel.klog import KernelLog, ModuleHalted
from seamemu.kernel.port import KernelPort, module_state
from seamemu.traps.target import CallRecord

# arch/x86/include/asm/archrandom.h: sc_retry() makes this many attempts in all.
RDRAND_RETRY_LOOPS = 10
TDX_RND_NO_ENTROPY = int(TdxStatus.TDX_RND_NO_ENTROPY)


TDH_SYS_LP_SHUTDOWN = leaf_number("TDH.SYS.LP.SHUTDOWN")   # only the 2022 series calls it
# sc_retry_prerr(): the kernel's own codes, each with the errno it becomes (silently).
SEAMCALL_ERRNO: dict[int, int] = {
    TDX_SEAMCALL_GP: -errno.EOPNOTSUPP,
    TDX_SEAMCALL_UD: -errno.EACCES,
    TDX_SEAMCALL_VMFAILINVALID: -errno.ENODEV,
}
SEAMCALL, SEAMCALL_RET = "__seamcall", "__seamcall_ret"
_OUT_REGS = BASIC_REGS          # what the kernel reads back after a call
_RETURNED = ("returned", "VMfailInvalid", "#GP", "#UD")


def rax_name(value: int) -> str:
    """RAX after a module SEAMCALL through a stub: the kernel's software code or the status."""
    return SW_ERROR_NAMES.get(value) or status_name(value)


def sc_errno(status: int) -> int:
    """sc_retry_prerr()'s answer for a final status: 0, -ENODEV, -EOPNOTSUPP, -EACCES or -EIO."""
    return 0 if status == 0 else SEAMCALL_ERRNO.get(status, -errno.EIO)


def status_errno(gen: Generation, status: int, leaf: int) -> int:
    """What the generation's bring-up step returns for a SEAMCALL that came back with `status`."""
    if not gen.retries_entropy:            # v5-2022: seamcall() callers
        if status == 0:
            return 0
        if status == TDX_SEAMCALL_VMFAILINVALID and leaf == TDH_SYS_INIT:
            return -errno.ENODEV           # tdx_module_init_global()
        return -errno.EFAULT
    return sc_errno(status)


def error_messages(gen: Generation, fn: int, status: int,
                   out: Mapping[str, int] | None) -> tuple[str, ...]:
    """What the wrapper prints for `status` (no pr_fmt); `out` when the caller reads outputs."""
    lines: tuple[str, ...]
    if status == 0:
        return ()
    if not gen.retries_entropy:
        if status == TDX_SEAMCALL_VMFAILINVALID:
            return ()
        lines = (f"SEAMCALL failed: leaf: 0x{fn:x}, error: 0x{status:x}",)
        if out is not None:
            g = {k: out.get(k, 0) for k in _OUT_REGS}
            lines += (f"SEAMCALL additional output: rcx 0x{g['rcx']:x}, rdx 0x{g['rdx']:x}, "
                      f"r8 0x{g['r8']:x}, r9 0x{g['r9']:x}, r10 0x{g['r10']:x}, "
                      f"r11 0x{g['r11']:x}.",)
        return lines
    if status in SEAMCALL_ERRNO:
        return ()
    lines = (f"SEAMCALL (0x{fn:016x}) failed: 0x{status:016x}",)
    if out is not None:                    # seamcall_err_ret()
        g = {k: out.get(k, 0) for k in _OUT_REGS}
        lines += (f"RCX 0x{g['rcx']:016x} RDX 0x{g['rdx']:016x} R08 0x{g['r8']:016x}",
                  f"R09 0x{g['r9']:016x} R10 0x{g['r10']:016x} R11 0x{g['r11']:016x}")
    return lines


@dataclass(frozen=True)
class KernelCall(JsonRecord):
    """One SEAMCALL the kernel made (one attempt of sc_retry), as a test or log reads it."""

    JSON_KEYS = ("seq", "lp", "entry", "leaf", "leaf_name", "attempt", "inputs", "outputs",
                 "rax", "status_name", "outcome", "state_before", "state_after", "module_seq",
                 "injected")

    seq: int
    lp: int
    entry: str
    leaf: int
    leaf_name: str
    attempt: int                     # 1..RDRAND_RETRY_LOOPS
    inputs: Mapping[str, int] = field(metadata=json_as(hex_map))    # the registers the caller set
    outputs: Mapping[str, int] = field(metadata=json_as(hex_map))   # what the module wrote ({}: no answer)
    rax: int = field(metadata=json_as(hex64))     # what the stub returned
    status_name: str                 # the module's status, or the kernel's software code
    outcome: str                     # "returned" | "#GP" | "#UD" | "VMfailInvalid"
    state_before: str
    state_after: str
    record: CallRecord | None = field(default=None, compare=False, repr=False)

    @property
    def field_id(self) -> int | None:
        """TDH.SYS.RD's field ID (RDX), for sequence checks."""
        return self.inputs.get("rdx") if self.leaf_name == "TDH.SYS.RD" else None

    @property
    def module_seq(self) -> int | None:
        """The module's CallRecord.seq of this call (None: the module never answered)."""
        return None if self.record is None else self.record.seq

    @property
    def injected(self) -> str | None:
        return None if self.record is None else self.record.injected


class KernelOops(Exception):
    """A SEAMCALL faulted where the generation's stub has no fixup: the kernel dies here."""

    def __init__(self, what: str, report: str):
        super().__init__(what)
        self.report = report


class KernelSeamcall:
    """SEAMCALLs the way one generation's tdx.c makes them, each attempt recorded in `calls`."""

    def __init__(self, port: KernelPort, log: KernelLog, gen: Generation):
        self.port = port
        self.log = log
        self.gen = gen
        self.calls: list[KernelCall] = []

    def leaf_name(self, leaf: int) -> str:
        # The kernel's name for what it calls, whether or not this module has the leaf.
        info = leaf_info(leaf, self.port.module.abi) or leaf_info(leaf)
        return info.name if info else f"leaf {leaf}"

    def _once(self, entry: str, fn: int, args: Mapping[str, int], lp: int,
              attempt: int) -> tuple[int, dict[str, int]]:
        """One call through the stub: RAX and the struct as the C caller sees it afterwards."""
        port = self.port
        before = module_state(port)
        res = port.call(entry, convention=self.gen.convention, leaf=fn, inputs=args, lp=lp)
        what = f"{entry}({self.leaf_name(fn)}) on LP {lp}"
        if res.outcome == "bound":
            raise BoundExceeded(f"{what} did not return: stopped by the {res.bound.kind} bound at "
                                f"0x{res.bound.rip:016x} <{res.bound.symbol}>")
        if res.outcome == "halted":
            note = res.calls[-1].note if res.calls else "the SEAMCALL target halted"
            raise ModuleHalted(f"{self.leaf_name(fn)} on LP {lp} never returned: {note}")
        oops = res.outcome not in _RETURNED or bool(res.fault and res.fault.handled_by is None)
        record = res.calls[-1] if res.calls else None
        self.calls.append(KernelCall(
            seq=len(self.calls) + 1, lp=lp, entry=entry, leaf=fn, leaf_name=self.leaf_name(fn),
            attempt=attempt, inputs=dict(args), rax=res.rax,
            outputs=dict(record.outputs) if record is not None and res.outcome == "returned"
            else {},
            status_name=rax_name(res.rax), outcome=res.outcome, state_before=before,
            state_after=module_state(port), record=record))
        if oops:                # recorded above: the call the kernel died in
            raise KernelOops(f"{what}: {res.outcome} with no exception-table entry", res.oops)
        out = dict(args)
        if res.out is not None:
            out.update({k: res.out[k] for k in _OUT_REGS if k in res.out})
        return res.rax, out

    # -- v5-2022: seamcall() ------------------------------------------------------------------
    def seamcall(self, fn: int, rcx: int = 0, rdx: int = 0, r8: int = 0, r9: int = 0, *,
                 out: bool, lp: int = 0) -> tuple[int, dict[str, int]]:
        """The v5 wrapper: the raw status and *out (when `out`), its error printed."""
        sret, regs = self._once(self.gen.entry, fn, {"rcx": rcx, "rdx": rdx, "r8": r8,
                                                     "r9": r9}, lp, 1)
        for line in error_messages(self.gen, fn, sret, regs if out else None):
            self.log.tdx(line, "err")
        return sret, regs

    # -- 6.8 and mainline: sc_retry(), sc_retry_prerr() ---------------------------------------
    def sc_retry(self, fn: int, args: Mapping[str, int] | None = None, *, lp: int = 0,
                 ret: bool = False) -> tuple[int, dict[str, int]]:
        """The last attempt's RAX and args struct; retried while TDX_RND_NO_ENTROPY."""
        entry = SEAMCALL_RET if ret else SEAMCALL
        regs = dict(args or {})
        sret = 0
        for attempt in range(1, RDRAND_RETRY_LOOPS + 1):
            sret, regs = self._once(entry, fn, regs, lp, attempt)
            if sret != TDX_RND_NO_ENTROPY:
                break
        return sret, regs

    def prerr(self, fn: int, args: Mapping[str, int] | None = None, *, lp: int = 0,
              ret: bool = False) -> tuple[int, dict[str, int]]:
        """seamcall_prerr[_ret](): (0 or -errno, args after the call); -EIO is printed."""
        sret, regs = self.sc_retry(fn, args, lp=lp, ret=ret)
        for line in error_messages(self.gen, fn, sret, regs if ret else None):
            self.log.tdx(line, "err")
        return sc_errno(sret), regs


__all__ = [
    "KernelCall",
    "KernelOops",
    "KernelSeamcall",
    "RDRAND_RETRY_LOOPS",
    "SEAMCALL_ERRNO",
    "error_messages",
    "rax_name",
    "sc_errno",
    "status_errno",
]
