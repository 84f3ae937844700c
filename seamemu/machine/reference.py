# SPDX-License-Identifier: MIT
"""The bare-Unicorn reference loops seamemu's own rates are measured against (`seamemu bench`).

Unicorn alone, with no seamemu machinery: what a round trip costs when the only Python on the
path is one invalid-instruction hook that answers SEAMCALL.  They live here because unicorn is
imported only in this package; seamemu.bench times them.

- `bare_seamcall_ret()`: `seamcall; ret` in a fresh Unicorn, the SEAMCALL hot path's reference.
- `BareCall`: a round trip through a real stub (`entry` of an Image), the fuzzer's reference.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence

from unicorn import UC_ARCH_X86, UC_HOOK_INSN_INVALID, UC_MODE_64, UC_PROT_ALL, Uc
from unicorn import x86_const as X

from seamemu.arch.opcodes import SEAMCALL
from seamemu.errors import EngineError, InputError
from seamemu.image import Image

_RIP = X.UC_X86_REG_RIP
_BASE = 0x40_0000
_SIZE = 0x20_0000


def _step_over_seamcall(uc: Uc, _user) -> bool:
    """The whole 'module': RAX = 0 (TDX_SUCCESS) and RIP past the 4-byte SEAMCALL."""
    uc.reg_write(X.UC_X86_REG_RAX, 0)
    uc.reg_write(_RIP, uc.reg_read(_RIP) + len(SEAMCALL))
    return True


def bare_seamcall_ret() -> Callable[[], None]:
    """One round trip (a call) of emu_start over `seamcall; ret` with that hook."""
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    buf = ctypes.create_string_buffer(_SIZE)
    uc.mem_map_ptr(_BASE, _SIZE, UC_PROT_ALL, ctypes.addressof(buf))
    code, sentinel, stack = _BASE, _BASE + 0x1000, _BASE + _SIZE - 0x100
    uc.mem_write(code, SEAMCALL + b"\xc3")
    uc.mem_write(stack, sentinel.to_bytes(8, "little"))
    uc.hook_add(UC_HOOK_INSN_INVALID, _step_over_seamcall)

    def once() -> None:
        uc.reg_write(X.UC_X86_REG_RSP, stack)
        uc.emu_start(code, sentinel)

    once.keep_alive = buf  # type: ignore[attr-defined]  # the mapping's host memory
    once()
    if uc.reg_read(_RIP) != sentinel:
        raise EngineError("bare_seamcall_ret: the reference snippet did not return")
    return once


class BareCall:
    """A bare `emu_start` round trip through `entry` of `image`.

    One Unicorn instance with the image's sections mapped and a stack.  `args` go to RDI, RSI,
    RDX, RCX, R8, R9; an argument given as the string "scratch" becomes the address of a
    zeroed scratch area (for a struct pointer).  The only hook answers SEAMCALL with RAX = 0
    and steps over it: what Unicorn alone costs for the same code path.
    """

    def __init__(self, image: Image, entry: str, args: Sequence[int | str] = (),
                 *, scratch: int = 0x1000) -> None:
        if not 0 < scratch <= 0x10000:
            raise InputError(f"BareCall: scratch {scratch} must be 1..65536 bytes")
        lo = min(s.address for s in image.sections) & ~0xFFF
        hi = (image.end + 0xFFFF) & ~0xFFFF
        size = hi - lo + 0x40000
        self._buf = ctypes.create_string_buffer(size)  # kept alive for the mapping's lifetime
        self.uc = uc = Uc(UC_ARCH_X86, UC_MODE_64)
        uc.mem_map_ptr(lo, size, UC_PROT_ALL, ctypes.addressof(self._buf))
        for s in image.sections:
            uc.mem_write(s.address, s.data)
        self.sentinel = hi
        uc.mem_write(self.sentinel, b"\xcc" * 16)
        struct_pa = hi + 0x1000
        self._stack_top = lo + size - 0x100
        ids = (X.UC_X86_REG_RDI, X.UC_X86_REG_RSI, X.UC_X86_REG_RDX, X.UC_X86_REG_RCX,
               X.UC_X86_REG_R8, X.UC_X86_REG_R9)
        self._regs = [(reg, struct_pa if a == "scratch" else int(a)) for reg, a in zip(ids, args)]
        self._start = image.address_of(entry)
        self._ret = self.sentinel.to_bytes(8, "little")
        uc.hook_add(UC_HOOK_INSN_INVALID, _step_over_seamcall)
        self.once()
        if uc.reg_read(_RIP) != self.sentinel:
            raise EngineError(f"BareCall: {entry} did not return to its caller")

    def once(self) -> None:
        uc = self.uc
        uc.mem_write(self._stack_top - 8, self._ret)
        uc.reg_write(X.UC_X86_REG_RSP, self._stack_top - 8)
        for reg, value in self._regs:
            uc.reg_write(reg, value)
        uc.emu_start(self._start, self.sentinel, 0, 100_000)


__all__ = ["BareCall", "bare_seamcall_ret"]
