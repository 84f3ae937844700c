# SPDX-License-Identifier: MIT
"""Register ids and a preallocated register file: one C call reads or writes every GPR.

The SEAMCALL hook runs once per emulated SEAMCALL, so it must not pay for the binding's
generic batch helpers (which build ctypes arrays on every call): the arrays are built once
per logical processor here and the batch entry points are called directly.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping

from unicorn import x86_const as X
from unicorn.unicorn_py3.unicorn import uclib

from seamemu.arch.registers import ABI_ORDER
from seamemu.errors import EngineError

# Every register a CallResult reports: the GPRs in ABI order, then RBP, RSP, RFLAGS, RIP.
NAMES: tuple[str, ...] = ABI_ORDER + ("rbp", "rsp", "rflags", "rip")
INDEX: dict[str, int] = {name: i for i, name in enumerate(NAMES)}
RFLAGS = INDEX["rflags"]
RIP = INDEX["rip"]
RSP = INDEX["rsp"]
RAX = INDEX["rax"]
NUM_ABI = len(ABI_ORDER)

UC_IDS: dict[str, int] = {
    "rax": X.UC_X86_REG_RAX, "rcx": X.UC_X86_REG_RCX, "rdx": X.UC_X86_REG_RDX,
    "rbx": X.UC_X86_REG_RBX, "rsp": X.UC_X86_REG_RSP, "rbp": X.UC_X86_REG_RBP,
    "rsi": X.UC_X86_REG_RSI, "rdi": X.UC_X86_REG_RDI,
    "r8": X.UC_X86_REG_R8, "r9": X.UC_X86_REG_R9, "r10": X.UC_X86_REG_R10,
    "r11": X.UC_X86_REG_R11, "r12": X.UC_X86_REG_R12, "r13": X.UC_X86_REG_R13,
    "r14": X.UC_X86_REG_R14, "r15": X.UC_X86_REG_R15,
    "rflags": X.UC_X86_REG_RFLAGS, "rip": X.UC_X86_REG_RIP,
}

# x86 register numbers (ModRM/SIB encoding, with REX.B/X as bit 3) -> index in NAMES.
GPR_BY_NUMBER: tuple[int, ...] = tuple(INDEX[n] for n in (
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
))

# The batch entry points without the binding's argtypes: ctypes' per-argument conversion costs
# more than the C call itself (measured 1.45 us vs 0.63 us for 18 registers).  Loading the
# library by its path again returns the same process-wide handle.
_LIB = ctypes.CDLL(uclib._name)
_READ_BATCH = _LIB.uc_reg_read_batch
_WRITE_BATCH = _LIB.uc_reg_write_batch
for _fn in (_READ_BATCH, _WRITE_BATCH):
    _fn.restype = ctypes.c_int

# RFLAGS bit 1 is reserved and always reads 1.  Spec: SDM Vol. 1 §3.4.3.
RFLAGS_FIXED = 0x2


class RegView(Mapping):
    """A read-only name -> value view over one register list (cheaper than building a dict)."""

    __slots__ = ("_vals",)

    def __init__(self, vals: list[int]) -> None:
        self._vals = vals

    def __getitem__(self, name: str) -> int:
        try:
            return self._vals[INDEX[name]]
        except KeyError:
            raise KeyError(f"no register {name!r}; registers are {', '.join(NAMES)}") from None

    def __iter__(self):
        return iter(NAMES)

    def __len__(self) -> int:
        return len(NAMES)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{n}: 0x{v:016x}" for n, v in zip(NAMES, self._vals)) + "}"


class RegFile:
    """All of NAMES for one Unicorn instance, read and written as Python int lists."""

    __slots__ = ("_ids", "_n", "_ptrs", "_uch", "_vals")

    def __init__(self, uc) -> None:
        n = len(NAMES)
        self._n = n
        self._ids = (ctypes.c_int * n)(*(UC_IDS[name] for name in NAMES))
        self._vals = (ctypes.c_uint64 * n)()
        base = ctypes.addressof(self._vals)
        self._ptrs = (ctypes.c_void_p * n)(*(base + 8 * i for i in range(n)))
        self._uch = uc._uch  # the engine handle the binding keeps alive with the Uc

    def read(self) -> list[int]:
        status = _READ_BATCH(self._uch, self._ids, self._ptrs, self._n)
        if status:
            raise EngineError(f"unicorn uc_reg_read_batch failed with status {status}")
        return self._vals[:]

    def write(self, values: list[int]) -> None:
        self._vals[:] = values  # type: ignore[assignment]  # ctypes converts the ints
        status = _WRITE_BATCH(self._uch, self._ids, self._ptrs, self._n)
        if status:
            raise EngineError(f"unicorn uc_reg_write_batch failed with status {status}")


__all__ = [
    "GPR_BY_NUMBER",
    "INDEX",
    "NAMES",
    "NUM_ABI",
    "RAX",
    "RFLAGS",
    "RFLAGS_FIXED",
    "RIP",
    "RSP",
    "RegFile",
    "RegView",
    "UC_IDS",
]
