# SPDX-License-Identifier: MIT
"""Optional observers of one LP for the fuzzer: block coverage, an instruction trace, a write watch.

None of them is attached by the machine itself, so the ordinary run path pays nothing; the
fuzzer attaches the ones a mode needs to a machine built for that mode, before its first run:
hooks added after code was translated may not fire on unicorn 2.1
(unicorn-engine/unicorn#2200), so each observer also drops the translations of the range it watches.

- `BlockCoverage`: UC_HOOK_BLOCK over the code range; AFL-style edges (previous block, block).
- `WriteWatch`: UC_HOOK_MEM_WRITE on the complement of the allowed ranges: the callback runs
  only for a store outside them, so a correct stub costs one range test per store.
- `PageGuard`: puts back the pages a snapshot does not restore (code, the machine's own
  pages) after a run that wrote them.

Callbacks never let an exception escape (the LP's rule): an error is kept and re-raised by
`check()` after the run.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

from unicorn import (
    UC_HOOK_BLOCK,
    UC_HOOK_MEM_WRITE,
)
from unicorn import x86_const as X

from seamemu.errors import EngineError, InputError
from seamemu.machine.lp import LogicalProcessor
from seamemu.machine.machine import Machine
from seamemu.machine.memory import CHUNK, PAGE

_MASK64 = (1 << 64) - 1
_RIP = X.UC_X86_REG_RIP


class _Observer:
    """Hook bookkeeping shared by the observers: attach, flush, detach, deferred errors."""

    def __init__(self, lp: LogicalProcessor, ranges: Sequence[tuple[int, int]]) -> None:
        self.lp = lp
        self.ranges = tuple((int(b), int(e)) for b, e in ranges)
        for b, e in self.ranges:
            if not 0 <= b < e <= 1 << 64:
                raise InputError(f"observer range 0x{b:x}..0x{e:x} is empty or not 64-bit")
        self._handles: list[int] = []
        self.error: BaseException | None = None

    def _add(self, kind: int, callback, begin: int, end: int) -> None:
        self._handles.append(self.lp.uc.hook_add(kind, callback, None, begin, end - 1))

    def _flush(self) -> None:
        for b, e in self.ranges:
            self.lp.drop_translations(b, e)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self.lp.uc.emu_stop()

    def check(self) -> None:
        """Re-raise an error a callback kept (as EngineError) and clear it."""
        if self.error is not None:
            exc, self.error = self.error, None
            raise EngineError(f"{type(self).__name__} callback failed: {exc}") from exc

    def detach(self) -> None:
        for h in self._handles:
            self.lp.uc.hook_del(h)
        self._handles = []
        self._flush()


class BlockCoverage(_Observer):
    """The basic blocks and edges run inside `ranges` (usually the image's code sections)."""

    def __init__(self, lp: LogicalProcessor, ranges: Sequence[tuple[int, int]]) -> None:
        super().__init__(lp, ranges)
        self.edges: set[tuple[int, int]] = set()
        self._prev = 0
        for b, e in self.ranges:
            self._add(UC_HOOK_BLOCK, self._on_block, b, e)
        self._flush()

    def _on_block(self, _uc, address: int, _size: int, _user) -> None:
        try:
            self.edges.add((self._prev, address))
            self._prev = address
        except BaseException as exc:
            self._fail(exc)

    def take(self) -> frozenset[tuple[int, int]]:
        """The edges of the run since the last take, and start afresh."""
        self.check()
        edges = frozenset(self.edges)
        self.edges.clear()
        self._prev = 0
        return edges


class WriteWatch(_Observer):
    """Stores outside `allowed` (a list of [begin, end) ranges): (rip, address, size) each."""

    def __init__(self, lp: LogicalProcessor, allowed: Sequence[tuple[int, int]]) -> None:
        watched = _complement(allowed)
        super().__init__(lp, watched)
        self.allowed = tuple(sorted(allowed))
        self.hits: list[tuple[int, int, int]] = []
        self.pages: set[int] = set()   # every page written outside the allowed ranges
        for b, e in watched:
            self._add(UC_HOOK_MEM_WRITE, self._on_write, b, e)

    def _on_write(self, uc, _access, address: int, size: int, _value, _user) -> None:
        try:
            if self.lp.batch is not None:   # a batch leaves such a call to a run of its own
                self.lp.request_stop(("batch",))
            self.pages.add(address & ~(PAGE - 1))
            self.pages.add((address + max(size, 1) - 1) & ~(PAGE - 1))
            if len(self.hits) < 64:  # a runaway loop of stores needs only its first few
                self.hits.append((uc.reg_read(_RIP), address, size))
        except BaseException as exc:
            self._fail(exc)

    def clear(self) -> None:
        self.hits.clear()
        self.pages.clear()

    def _flush(self) -> None:
        pass  # memory hooks are checked at run time: nothing translated needs dropping


class PageGuard:
    """The pages `Machine.restore` does not roll back, kept as they were before any run.

    A snapshot restores the stacks, the scratch in use and everything outside [image, scratch)
    (machine.py); code, the machine's own pages (sentinel, GDT) and the memory above the
    stacks it leaves alone, since a correct program never writes there.  A fuzzed stub may:
    `repair(pages)` copies the original bytes back into the pages a WriteWatch saw written and
    drops their translations, so one wild store cannot change every later run.
    """

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        image = machine.image
        lo = min((s.address for s in image.sections), default=machine.sentinel) & ~(CHUNK - 1)
        top = machine.stack_top(len(machine.lps) - 1)
        self.ranges = ((lo, machine.stacks_base), (top, machine.memory.scratch_base))
        mem = machine.memory
        self._saved: dict[int, bytes] = {}
        for b, e in self.ranges:
            for page in range(b, e, PAGE):
                data = mem.read(page, PAGE)
                if data.count(0) != PAGE:
                    self._saved[page] = data
        self._zero = bytes(PAGE)

    def covers(self, page: int) -> bool:
        return any(b <= page < e for b, e in self.ranges)

    def repair(self, pages) -> int:
        """Put back the guarded pages among `pages`; how many were repaired."""
        mem = self.machine.memory
        n = 0
        for page in pages:
            if not self.covers(page):
                continue
            ctypes.memmove(mem.host_address(page), self._saved.get(page, self._zero), PAGE)
            self.machine.drop_translations(page, page + PAGE)
            n += 1
        return n


def _complement(allowed: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    pos = 0
    for b, e in sorted(allowed):
        if not 0 <= b < e <= 1 << 64:
            raise InputError(f"WriteWatch: allowed range 0x{b:x}..0x{e:x} is empty or not 64-bit")
        if b > pos:
            out.append((pos, b))
        pos = max(pos, e)
    if pos < 1 << 64:
        out.append((pos, 1 << 64))
    return out


__all__ = [
    "BlockCoverage",
    "PageGuard",
    "WriteWatch",
]
