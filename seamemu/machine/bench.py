# SPDX-License-Identifier: MIT
"""The reference point for the SEAMCALL hot path: a bare Unicorn `seamcall; ret` round trip.

`bare_rate()` is what Unicorn alone costs per round trip (one emu_start, one Python
invalid-instruction hook that only steps RIP over the instruction); the stub path through
`Machine.call` and the session is measured against it in the same process.  Numbers are
machine-dependent; only ratios taken in one run mean anything.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

from unicorn import UC_ARCH_X86, UC_HOOK_INSN_INVALID, UC_MODE_64, UC_PROT_ALL, Uc
from unicorn import x86_const as X

from seamemu.arch.opcodes import SEAMCALL

_BASE = 0x40_0000
_SIZE = 0x20_0000


def bare_rate(seconds: float = 1.0) -> float:
    """Round trips per second of emu_start over `seamcall; ret` with an empty hook."""
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    buf = ctypes.create_string_buffer(_SIZE)  # kept alive for the mapping's lifetime
    uc.mem_map_ptr(_BASE, _SIZE, UC_PROT_ALL, ctypes.addressof(buf))
    code = _BASE
    sentinel = _BASE + 0x1000
    stack = _BASE + _SIZE - 0x100
    uc.mem_write(code, SEAMCALL + b"\xc3")
    uc.mem_write(stack, sentinel.to_bytes(8, "little"))

    def step_over(uc: Uc, _user) -> bool:
        uc.reg_write(X.UC_X86_REG_RIP, uc.reg_read(X.UC_X86_REG_RIP) + len(SEAMCALL))
        return True

    uc.hook_add(UC_HOOK_INSN_INVALID, step_over)

    def once() -> None:
        uc.reg_write(X.UC_X86_REG_RSP, stack)
        uc.emu_start(code, sentinel)

    once()
    if uc.reg_read(X.UC_X86_REG_RIP) != sentinel:
        raise RuntimeError("bare_rate: the reference snippet did not return")
    rate = measure(once, seconds)
    del buf
    return rate


def measure(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Calls per second of `fn` over about `seconds` of wall time."""
    n = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        for _ in range(50):
            fn()
        n += 50
        now = time.perf_counter()
        if now >= end:
            return n / (now - start)


__all__ = ["bare_rate", "measure"]
