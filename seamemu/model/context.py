# SPDX-License-Identifier: MIT
"""What a leaf handler sees during one SEAMCALL: registers, memory, state, and the check helper.

A handler fails only through `Call.require(ok, check_id)`, so every status it can return is a
named check of its `LeafSpec`; the checks it evaluated are kept in order for the call record.
Memory the module would map but the platform does not back reads as all-ones and swallows
writes (noted in the record), the way a master-aborted access behaves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Protocol, TypeVar

from seamemu.arch.status import MASK64, STATUS_BASE_MASK, STATUS_DETAILS_MASK, with_info
from seamemu.model.leaf_spec import LeafSpec
from seamemu.traps.target import GuestMemory


class ModuleSide(Protocol):
    """What a call needs of the module side it runs in: the host side (TdxModule) or the
    guest side (model/guest TdGuest)."""

    abi: str
    state: Any
    rules: Any


M = TypeVar("M", bound=ModuleSide)


def injection_matches(injected: int, status: int, *, loader: bool) -> bool:
    """Whether an injected status belongs at a check answering `status`: P-SEAMLDR codes
    match whole, module codes by class and details L1 (bits 63:32), and by their operand /
    index bytes too when both have them (TDX_OPERAND_BUSY(KOT) is not TDX_OPERAND_BUSY(WBCACHE))."""
    if loader:
        return injected == status
    if (injected & STATUS_BASE_MASK) != (status & STATUS_BASE_MASK):
        return False
    mine, theirs = injected & STATUS_DETAILS_MASK, status & STATUS_DETAILS_MASK
    return not mine or not theirs or mine == theirs


class LeafExit(Exception):
    """Internal control flow: a check decided the status.  Never leaves the dispatcher."""

    def __init__(self, status: int, check_id: str):
        super().__init__(check_id)
        self.status = status
        self.check_id = check_id


class MemAccess:
    """GuestMemory seen through the module: bounds-safe, every write recorded."""

    def __init__(self, mem: GuestMemory):
        self._mem = mem
        self.written: list[tuple[int, int]] = []
        self.notes: list[str] = []

    def _present(self, pa: int, size: int) -> bool:
        return pa >= 0 and pa + size <= (1 << 64) and self._mem.present(pa, size)

    def present(self, pa: int, size: int = 4096) -> bool:
        """Whether the platform backs [pa, pa + size) (a 4 KiB page by default)."""
        return self._present(pa, size)

    def read(self, pa: int, size: int) -> bytes:
        if size <= 0:
            return b""
        if not self._present(pa, size):
            self.notes.append(f"read of 0x{pa:x}+{size} not backed: all-ones")
            return b"\xff" * size
        return bytes(self._mem.read(pa, size))

    def read_u64(self, pa: int) -> int:
        return int.from_bytes(self.read(pa, 8), "little")

    def write(self, pa: int, data: bytes) -> None:
        if not data:
            return
        if not self._present(pa, len(data)):
            self.notes.append(f"write of 0x{pa:x}+{len(data)} not backed: dropped")
            return
        self._mem.write(pa, bytes(data))
        self.written.append((pa, len(data)))


class Call(Generic[M]):
    """One SEAMCALL (or a TD's TDCALL) in progress.

    A plain class with slots, its memory accessor made on first use: one is built per
    emulated SEAMCALL, most leaves touch no memory, and a dataclass with five
    default-factory fields cost more than the leaf itself."""

    __slots__ = ("_mem", "_raw_mem", "injected_at", "injected_status", "injection_applied",
                 "lp", "module", "notes", "out", "regs", "spec", "trace", "version")

    def __init__(self, module: M, spec: LeafSpec, lp: int, regs: Mapping[str, int],
                 mem: GuestMemory, version: int = 0,
                 injected_status: int | None = None, injected_at: str | None = None) -> None:
        self.module = module
        self.spec = spec
        self.lp = lp
        self.regs = regs
        self._mem: MemAccess | None = None
        self._raw_mem = mem
        self.version = version
        self.injected_status = injected_status    # pending status injection, consumed at a check
        self.injected_at = injected_at            # ... at this check only (the rule's ',at=')
        self.out: dict[str, int] = {}
        self.trace: list[str] = []
        self.notes: list[str] = []
        self.injection_applied = ""

    @property
    def mem(self) -> MemAccess:
        """Guest memory as the module sees it (bounds-safe, every write recorded)."""
        if self._mem is None:
            self._mem = MemAccess(self._raw_mem)
        return self._mem

    @property
    def touched_memory(self) -> bool:
        """Whether the leaf used `mem` (else it has no notes or writes to report)."""
        return self._mem is not None

    @property
    def mem_notes(self) -> list[str]:
        return self._mem.notes if self._mem is not None else []

    @property
    def mem_written(self) -> list[tuple[int, int]]:
        return self._mem.written if self._mem is not None else []

    @property
    def abi(self) -> str:
        return self.module.abi

    @property
    def state(self):
        return self.module.state

    @property
    def rules(self):
        return self.module.rules

    def reg(self, name: str) -> int:
        return self.regs.get(name, 0) & MASK64

    def write(self, **regs: int) -> None:
        out = self.out
        for name, value in regs.items():
            out[name] = value & MASK64

    def _status(self, check_id: str, info: tuple[int, ...], detail: int | None) -> int:
        base = self.spec.check(check_id).status
        if detail is not None:          # a whole operand, e.g. an MSR address
            return base | (detail & STATUS_DETAILS_MASK)
        return with_info(base, *info) if info else base

    def require(self, ok: bool, check_id: str, *info: int, detail: int | None = None) -> None:
        """Record `check_id` as evaluated; unless `ok`, end the call with its status.

        An injected status whose base matches an injectable check fails the call here.
        """
        self.trace.append(check_id)
        inj = self.injected_status
        if ok and inj is None:
            if check_id not in self.spec.check_ids:
                self.spec.check(check_id)  # raises: the handler names a check its spec lacks
            return
        check = self.spec.check(check_id)
        if ok and check.inject and inj is not None and self._matches(inj, check.status) and \
                (self.injected_at is None or self.injected_at == check_id):
            self.injected_status = None
            self.injection_applied = check_id
            status = inj if inj & STATUS_DETAILS_MASK else check.status
            raise LeafExit(status, check_id)
        if not ok:
            raise LeafExit(self._status(check_id, info, detail), check_id)

    def _matches(self, injected: int, status: int) -> bool:
        return injection_matches(injected, status, loader=self.spec.loader)

    def fail(self, check_id: str, *info: int, detail: int | None = None) -> None:
        self.require(False, check_id, *info, detail=detail)


__all__ = ["Call", "LeafExit", "MemAccess", "ModuleSide", "injection_matches"]
