# SPDX-License-Identifier: MIT
"""The kernel's SEAMCALL wrappers over the assembly stub: sc_retry, sc_retry_prerr, records.

Every call goes through the shipped asm/seamcall.S on an emulated LP (Session.call with
struct tdx_module_args), so RAX comes back exactly as the kernel's C code would see it:
the module's status, or TDX_SEAMCALL_{GP,UD,VMFAILINVALID} made by the stub's fixups.

Spec: Linux arch/x86/virt/vmx/tdx/tdx.c (01fb93a) seamcall_err(), seamcall_err_ret(),
sc_retry_prerr(), seamcall_prerr[_ret]() (__seamcall for leaves without outputs,
__seamcall_ret for TDH.SYS.RD / TDH.SYS.INFO / TDH.SYS.TDMR.INIT);
arch/x86/virt/vmx/tdx/seamcall_internal.h (older: asm/tdx.h) sc_retry(): repeat while the
result is TDX_RND_NO_ENTROPY, RDRAND_RETRY_LOOPS (10) attempts in all; the args struct the
failed attempt wrote back is what the next attempt sends.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field

from seamemu.arch.kernel import (
    RDRAND_RETRY_LOOPS,
    TDX_SEAMCALL_GP,
    TDX_SEAMCALL_UD,
    TDX_SEAMCALL_VMFAILINVALID,
)
from seamemu.arch.leaves import leaf_info
from seamemu.arch.status import TdxStatus
from seamemu.errors import BoundExceeded, EngineError
from seamemu.host.klog import KernelLog, ModuleHalted
from seamemu.session import Session
from seamemu.session.result import rax_name
from seamemu.traps.target import CallRecord

SEAMCALL = "__seamcall"              # inputs only
SEAMCALL_RET = "__seamcall_ret"      # RCX, RDX, R8..R11 written back into the args
TDX_RND_NO_ENTROPY = int(TdxStatus.TDX_RND_NO_ENTROPY)
_OUTCOMES = ("returned", "#GP", "#UD", "VMfailInvalid")
_ARGS_OUT = ("rcx", "rdx", "r8", "r9", "r10", "r11")


@dataclass(frozen=True)
class HostCall:
    """One SEAMCALL the host driver made (one attempt of sc_retry), as a test or log reads it."""

    seq: int
    lp: int
    entry: str                       # "__seamcall" or "__seamcall_ret"
    leaf: int
    leaf_name: str
    attempt: int                     # 1..RDRAND_RETRY_LOOPS
    inputs: Mapping[str, int]        # the args struct fields the caller set
    outputs: Mapping[str, int]       # registers the module wrote ({} if it never answered)
    rax: int                         # what the stub returned
    status_name: str                 # the module's status, or the kernel's software code
    outcome: str                     # "returned" | "#GP" | "#UD" | "VMfailInvalid"
    state_before: str
    state_after: str
    record: CallRecord | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict:
        return {
            "seq": self.seq, "lp": self.lp, "entry": self.entry, "leaf": self.leaf,
            "leaf_name": self.leaf_name, "attempt": self.attempt,
            "inputs": {k: f"0x{v:016x}" for k, v in self.inputs.items()},
            "outputs": {k: f"0x{v:016x}" for k, v in self.outputs.items()},
            "rax": f"0x{self.rax:016x}", "status_name": self.status_name,
            "outcome": self.outcome, "state_before": self.state_before,
            "state_after": self.state_after,
            "module_seq": self.record.seq if self.record is not None else None,
            "injected": self.record.injected if self.record is not None else None,
        }


def module_state(session: Session) -> str:
    """The module's lifecycle state, or NO_MODULE when SEAMCALL finds none."""
    return session.module.state_name() if session.target.module_loaded() else "NO_MODULE"


class HostSeamcall:
    """SEAMCALLs the way tdx.c makes them, each attempt recorded in `calls`."""

    def __init__(self, session: Session, log: KernelLog):
        self.session = session
        self.log = log
        self.calls: list[HostCall] = []

    def leaf_name(self, leaf: int) -> str:
        info = leaf_info(leaf, self.session.module.abi)
        return info.name if info else f"leaf {leaf}"

    def _once(self, entry: str, fn: int, args: Mapping[str, int], lp: int,
              attempt: int) -> tuple[int, dict[str, int]]:
        s = self.session
        before = module_state(s)
        res = s.call(entry, convention="args", leaf=fn, inputs=args, lp=lp)
        if res.outcome == "bound":
            raise BoundExceeded(f"{entry}({self.leaf_name(fn)}) on LP {lp} did not return: "
                                f"{res.bound}")
        if res.outcome == "halted":
            note = res.calls[-1].note if res.calls else "the SEAMCALL target halted"
            raise ModuleHalted(f"{self.leaf_name(fn)} on LP {lp} never returned: {note}")
        if res.outcome not in _OUTCOMES:
            raise EngineError(f"{entry}({self.leaf_name(fn)}) on LP {lp}: unhandled "
                              f"{res.outcome} in the stub\n{res.oops}")
        record = res.calls[-1] if res.calls else None
        self.calls.append(HostCall(
            seq=len(self.calls) + 1, lp=lp, entry=entry, leaf=fn,
            leaf_name=self.leaf_name(fn), attempt=attempt,
            inputs=dict(args), rax=res.rax,
            outputs=dict(record.outputs) if record is not None and res.outcome == "returned"
            else {},
            status_name=rax_name(res.rax), outcome=res.outcome, state_before=before,
            state_after=module_state(s), record=record))
        out = dict(args)
        if entry == SEAMCALL_RET and res.out is not None:
            out.update({k: res.out[k] for k in _ARGS_OUT})
        return res.rax, out

    def sc_retry(self, fn: int, args: Mapping[str, int] | None = None, *, lp: int = 0,
                 ret: bool = False) -> tuple[int, dict[str, int]]:
        """The last attempt's RAX and args struct; retried while TDX_RND_NO_ENTROPY."""
        entry = SEAMCALL_RET if ret else SEAMCALL
        args = dict(args or {})
        for attempt in range(1, RDRAND_RETRY_LOOPS + 1):
            sret, args = self._once(entry, fn, args, lp, attempt)
            if sret != TDX_RND_NO_ENTROPY:
                break
        return sret, args

    def prerr(self, fn: int, args: Mapping[str, int] | None = None, *, lp: int = 0,
              ret: bool = False) -> tuple[int, dict[str, int]]:
        """sc_retry_prerr(): (0 or -errno, args after the call); -EIO is logged first."""
        sret, out = self.sc_retry(fn, args, lp=lp, ret=ret)
        if sret == 0:
            return 0, out
        if sret == TDX_SEAMCALL_VMFAILINVALID:
            return -errno.ENODEV, out
        if sret == TDX_SEAMCALL_GP:
            return -errno.EOPNOTSUPP, out
        if sret == TDX_SEAMCALL_UD:
            return -errno.EACCES, out
        self.log.tdx(f"SEAMCALL (0x{fn:016x}) failed: 0x{sret:016x}", "err")
        if ret:                                   # seamcall_err_ret(): the args written back
            self.log.tdx(f"RCX 0x{out.get('rcx', 0):016x} RDX 0x{out.get('rdx', 0):016x} "
                         f"R08 0x{out.get('r8', 0):016x}", "err")
            self.log.tdx(f"R09 0x{out.get('r9', 0):016x} R10 0x{out.get('r10', 0):016x} "
                         f"R11 0x{out.get('r11', 0):016x}", "err")
        return -errno.EIO, out


__all__ = ["HostCall", "HostSeamcall", "SEAMCALL", "SEAMCALL_RET", "module_state"]
