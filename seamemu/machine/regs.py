# SPDX-License-Identifier: MIT
"""Register ids and a preallocated register file: one C call reads or writes every GPR.

The SEAMCALL hook runs once per emulated SEAMCALL, so it must not pay for the binding's
generic batch helpers (which build ctypes arrays on every call): on the binding versions this
was measured on, the arrays are built once per logical processor and the library's batch
entry points are called directly.  That reaches into the binding's private parts (`uclib`,
`Uc._uch`), so it is one adapter (`_FastBatch`) taken only when the binding is a version in
FAST_BINDINGS and has those parts; otherwise every RegFile uses the public
`Uc.reg_read_batch` / `reg_write_batch`, slower but the same values.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from functools import partial

import unicorn
from unicorn import x86_const as X

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

_UC_ID_LIST = [UC_IDS[name] for name in NAMES]

# x86 register numbers (ModRM/SIB encoding, with REX.B/X as bit 3) -> index in NAMES.
GPR_BY_NUMBER: tuple[int, ...] = tuple(INDEX[n] for n in (
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
))

# Binding versions whose private layout (unicorn.unicorn_py3.unicorn.uclib, Uc._uch) the fast
# path was written and tested against.
FAST_BINDINGS = ("2.1.",)


class _FastBatch:
    """The library's uc_reg_read_batch/uc_reg_write_batch without the binding's argtypes:
    ctypes' per-argument conversion costs more than the C call itself (measured 1.45 us vs
    0.63 us for 18 registers).  Loading the library by its path again returns the same
    process-wide handle."""

    def __init__(self) -> None:
        from unicorn.unicorn_py3.unicorn import uclib

        lib = ctypes.CDLL(uclib._name)
        self.read, self.write = lib.uc_reg_read_batch, lib.uc_reg_write_batch
        for fn in (self.read, self.write):
            fn.restype = ctypes.c_int


    @staticmethod
    def hook_invalid_insn(uc, callback) -> int | None:
        """Register `callback(engine handle, user data) -> bool` as `uc`'s invalid-instruction
        hook as a plain ctypes callback, without the binding's wrapper around it (three Python
        frames per SEAMCALL); None when the binding has no such entry point."""
        from unicorn import UC_HOOK_INSN_INVALID
        from unicorn.unicorn_py3.unicorn import HOOK_INSN_INVALID_CFUNC

        add = getattr(uc, "_Uc__do_hook_add", None)
        if add is None:
            return None
        return add(UC_HOOK_INSN_INVALID, HOOK_INSN_INVALID_CFUNC(callback), 1, 0)

    @staticmethod
    def hook_code(uc, callback, begin: int, end: int) -> int | None:
        """The same for a code hook on [begin, end]: `callback(engine handle, address, size,
        user data)`, called on every run of an instruction there (the watched branches)."""
        from unicorn import UC_HOOK_CODE
        from unicorn.unicorn_py3.unicorn import HOOK_CODE_CFUNC

        add = getattr(uc, "_Uc__do_hook_add", None)
        if add is None:
            return None
        return add(UC_HOOK_CODE, HOOK_CODE_CFUNC(callback), begin, end)


def _fast_batch() -> _FastBatch | None:
    """The fast path, when the installed binding is one it is known to fit; else None."""
    if not str(getattr(unicorn, "__version__", "")).startswith(FAST_BINDINGS):
        return None
    try:
        return _FastBatch()
    except (ImportError, AttributeError, OSError):
        return None


FAST = _fast_batch()

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
    """All of NAMES for one Unicorn instance, read and written as Python int lists.

    Through the fast path when `fast` (default: the binding fits, FAST is set) and the Uc
    exposes its engine handle; through the binding's public batch calls otherwise."""

    __slots__ = ("_ids", "_n", "_ptrs", "_uc", "_uch", "_vals", "fast", "read", "write")

    def __init__(self, uc, fast: bool | None = None) -> None:
        n = len(NAMES)
        self._n = n
        self._uc = uc
        self._ids = (ctypes.c_int * n)(*(UC_IDS[name] for name in NAMES))
        self._vals = (ctypes.c_uint64 * n)()
        base = ctypes.addressof(self._vals)
        self._ptrs = (ctypes.c_void_p * n)(*(base + 8 * i for i in range(n)))
        self._uch = getattr(uc, "_uch", None)  # the engine handle the binding keeps alive
        self.fast = FAST is not None and self._uch is not None and fast is not False
        if fast and not self.fast:
            raise EngineError(f"the fast register path does not fit unicorn "
                              f"{getattr(unicorn, '__version__', '?')}")
        self.read = self._read_fast if self.fast else self._read_public
        self.write = self._write_fast if self.fast else self._write_public

    def _read_fast(self) -> list[int]:
        assert FAST is not None
        status = FAST.read(self._uch, self._ids, self._ptrs, self._n)
        if status:
            raise EngineError(f"unicorn uc_reg_read_batch failed with status {status}")
        return self._vals[:]

    def _write_fast(self, values: list[int]) -> None:
        assert FAST is not None
        self._vals[:] = values  # type: ignore[assignment]  # ctypes converts the ints
        status = FAST.write(self._uch, self._ids, self._ptrs, self._n)
        if status:
            raise EngineError(f"unicorn uc_reg_write_batch failed with status {status}")

    def _read_public(self) -> list[int]:
        return list(self._uc.reg_read_batch(_UC_ID_LIST))

    def _write_public(self, values: list[int]) -> None:
        self._uc.reg_write_batch(list(zip(_UC_ID_LIST, values)))


class RegBlock:
    """A fixed list of registers (any Unicorn x86 register ids) in one buffer of 64-bit
    words, read and written in one call, through the same fast or public path as RegFile:
    for a hook that compares and replaces registers as bytes (the batch driver's SEAMCALL,
    machine/batch.py), without building a Python int per register."""

    __slots__ = ("_ids", "_n", "_ptrs", "_read", "_uc", "_uch", "_write", "addr", "bytes", "fast",
                 "words")

    def __init__(self, uc, uc_ids: list[int]) -> None:
        n = self._n = len(uc_ids)
        self._uc = uc
        self._ids = (ctypes.c_int * n)(*uc_ids)
        # The buffer: `words` to index (C-level item access, no Python frame), `bytes` to slice
        # and assign (no foreign call, unlike string_at/memmove).
        self.words = (ctypes.c_uint64 * n)()
        self.addr = ctypes.addressof(self.words)
        self.bytes = memoryview(self.words).cast("B")
        self._ptrs = (ctypes.c_void_p * n)(*(self.addr + 8 * i for i in range(n)))
        self._uch = getattr(uc, "_uch", None)
        self.fast = FAST is not None and self._uch is not None
        if self.fast:
            assert FAST is not None
            # Bound once: a call is then the foreign call alone, no argument list built.
            self._read = partial(FAST.read, self._uch, self._ids, self._ptrs, n)
            self._write = partial(FAST.write, self._uch, self._ids, self._ptrs)

    def read(self) -> None:
        """Every register of the block into the buffer."""
        if self.fast:
            if self._read():
                raise EngineError("unicorn uc_reg_read_batch failed")
        else:
            self.words[:] = self._uc.reg_read_batch(list(self._ids))

    def write(self, count: int) -> None:
        """The first `count` registers of the block from the buffer."""
        if self.fast:
            if self._write(count):
                raise EngineError("unicorn uc_reg_write_batch failed")
        else:
            self._uc.reg_write_batch(list(zip(self._ids[:count], self.words[:count])))


class RegWord:
    """One register (any Unicorn x86 register id) read and written through the same fast or
    public path as RegFile: for a register read on every trapped instruction (the batch
    driver's place in DR0, machine/batch.py)."""

    __slots__ = ("_id", "_ids", "_ptr", "_uc", "_uch", "_val", "read", "write")

    def __init__(self, uc, uc_id: int) -> None:
        self._uc, self._id = uc, uc_id
        self._ids = (ctypes.c_int * 1)(uc_id)
        self._val = (ctypes.c_uint64 * 1)()
        self._ptr = (ctypes.c_void_p * 1)(ctypes.addressof(self._val))
        self._uch = getattr(uc, "_uch", None)
        fast = FAST is not None and self._uch is not None
        self.read = self._read_fast if fast else self._read_public
        self.write = self._write_fast if fast else self._write_public

    def _read_fast(self) -> int:
        assert FAST is not None
        if FAST.read(self._uch, self._ids, self._ptr, 1):
            raise EngineError("unicorn uc_reg_read_batch failed")
        return self._val[0]

    def _write_fast(self, value: int) -> None:
        assert FAST is not None
        self._val[0] = value
        if FAST.write(self._uch, self._ids, self._ptr, 1):
            raise EngineError("unicorn uc_reg_write_batch failed")

    def _read_public(self) -> int:
        return int(self._uc.reg_read(self._id))

    def _write_public(self, value: int) -> None:
        self._uc.reg_write(self._id, value)


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
    "RegBlock",
    "RegFile",
    "RegView",
    "RegWord",
    "UC_IDS",
]
