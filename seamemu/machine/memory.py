# SPDX-License-Identifier: MIT
"""Guest physical memory shared by every logical processor, backed lazily in 2 MiB chunks.

Each chunk is one host ctypes buffer mapped with `mem_map_ptr` into every LP's Unicorn
instance, so a store on one LP is seen by all (Unicorn has no shared-memory API: requested in
unicorn-engine/unicorn#926, never added; one host buffer mapped twice is the way, #1103).
Guest linear addresses map onto these physical addresses one to one where they are mapped at
all (machine/linear.py).

A chunk is created on first touch: from a guest access (the LP's unmapped-memory hook calls
`on_unmapped`) or from the model (`read`/`write`).  Only the 4 KiB pages for which `present`
holds are mapped, so holes in the platform's memory map stay holes.  Fixed regions (image,
stacks, scratch) are always present.  `unplug` makes a range disappear (hot-remove): its
chunks are unmapped and dropped, guest accesses fault and `present()` is False until `plug`.
`set_present` swaps the platform's predicate when hotplug changed the memory map.

For snapshots, `track_writes()` turns on copy-on-write logging: the first write to a page
after it saves the page's old bytes (`note_write`, also called by the LP's write hook), and
`rollback()` copies them back.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from unicorn import UC_PROT_ALL

from seamemu.errors import InputError
from seamemu.platform.units import cut_out

PAGE = 4 << 10
CHUNK = 2 << 20
DEFAULT_LIMIT = 64 << 30  # default platform: everything below 64 GiB is RAM

Present = Callable[[int, int], bool]


def default_present(pa: int, size: int) -> bool:
    """Everything below 64 GiB except the zero page, so NULL dereferences fault."""
    return pa >= PAGE and pa + size <= DEFAULT_LIMIT


class _Chunk:
    __slots__ = ("addr", "base", "buf", "runs")

    def __init__(self, base: int, runs: list[tuple[int, int]]) -> None:
        self.base = base
        self.buf = ctypes.create_string_buffer(CHUNK)  # zero-filled; kept alive while mapped
        self.addr = ctypes.addressof(self.buf)
        self.runs = runs  # mapped [start, end) ranges, page aligned, absolute addresses

    def covers(self, pa: int, end: int) -> bool:
        return any(s <= pa and end <= e for s, e in self.runs)


class PhysicalMemory:
    """The machine's guest physical memory; implements seamemu.traps.target.GuestMemory."""

    def __init__(self, present: Present | None = None) -> None:
        self._present_fn = present or default_present
        self._chunks: dict[int, _Chunk] = {}
        self._ucs: list = []
        self._fixed: list[tuple[int, int, str]] = []      # always-present [base, end, name)
        self._unplugged: list[tuple[int, int]] = []
        self._cow: dict[int, bytes] | None = None
        self.scratch_base = self.scratch_end = self._scratch_next = self._scratch_hwm = 0

    # -- wiring --------------------------------------------------------------------------------
    def attach(self, uc) -> None:
        """Map every existing chunk into a new LP's Unicorn instance."""
        self._ucs.append(uc)
        for chunk in self._chunks.values():
            for s, e in chunk.runs:
                uc.mem_map_ptr(s, e - s, UC_PROT_ALL, chunk.addr + (s - chunk.base))

    def add_fixed(self, base: int, size: int, name: str, eager: bool = False) -> None:
        """Declare an always-present region (2 MiB aligned); `eager` maps it now."""
        if base % CHUNK or size % CHUNK or size <= 0:
            raise InputError(f"fixed region {name} 0x{base:x}+0x{size:x} is not 2 MiB aligned")
        self._fixed.append((base, base + size, name))
        if eager:
            for b in range(base, base + size, CHUNK):
                self._ensure(b)

    def set_scratch(self, base: int, size: int) -> None:
        self.add_fixed(base, size, "scratch")
        self._ensure(base)  # the first chunk holds the argument buffers: mapped from the start
        self.scratch_base, self.scratch_end = base, base + size
        self._scratch_next = self._scratch_hwm = base

    # -- GuestMemory -------------------------------------------------------------------------
    def present(self, pa: int, size: int) -> bool:
        if size <= 0 or pa < 0:
            return False
        end = pa + size
        for b, e, _ in self._fixed:
            if b <= pa and end <= e:
                return True
        for b, e in self._unplugged:
            if pa < e and b < end:
                return False
        return bool(self._present_fn(pa, size))

    def read(self, pa: int, size: int) -> bytes:
        if size == 0:
            return b""
        out = []
        for chunk, off, n in self._pieces(pa, size, "read"):
            out.append(ctypes.string_at(chunk.addr + off, n))
        return b"".join(out)

    def write(self, pa: int, data: bytes) -> None:
        data = bytes(data)
        if not data:
            return
        if self._cow is not None:
            self.note_write(pa, len(data))
        pos = 0
        for chunk, off, n in self._pieces(pa, len(data), "write"):
            ctypes.memmove(chunk.addr + off, data[pos:pos + n], n)
            pos += n

    def read_u64(self, pa: int) -> int:
        return int.from_bytes(self.read(pa, 8), "little")

    def host_address(self, pa: int) -> int:
        """The host address backing `pa` (mapped now); valid while its chunk stays mapped."""
        chunk = self._chunks.get(pa & ~(CHUNK - 1))
        if chunk is None or not chunk.covers(pa, pa + 1):
            raise InputError(f"host_address: physical 0x{pa:016x} is not backed")
        return chunk.addr + (pa - chunk.base)

    def peek(self, pa: int, size: int) -> bytes:
        """Up to `size` bytes at `pa` without faulting (fewer at the end of mapped memory)."""
        chunk = self._chunks.get(pa & ~(CHUNK - 1))
        if chunk is None:
            return b""
        off = pa - chunk.base
        return ctypes.string_at(chunk.addr + off, min(size, CHUNK - off))

    # -- scratch -------------------------------------------------------------------------------
    def alloc(self, size: int, align: int = 16) -> int:
        """Bump-allocate `size` bytes of zeroed scratch memory; returns the physical address."""
        if size <= 0 or align <= 0 or align & (align - 1):
            raise InputError(f"alloc: bad size {size} or alignment {align} (power of two)")
        pa = (self._scratch_next + align - 1) & ~(align - 1)
        if pa + size > self.scratch_end:
            raise InputError(f"alloc: scratch exhausted ({size} bytes asked, "
                             f"0x{self.scratch_end - self._scratch_next:x} left)")
        self._scratch_next = pa + size
        self._scratch_hwm = max(self._scratch_hwm, self._scratch_next)
        return pa

    def reset_scratch(self) -> None:
        """Free every allocation and zero what was used, so each run starts the same."""
        used = self._scratch_hwm - self.scratch_base
        if used:
            self.write(self.scratch_base, bytes(used))
        self._scratch_next = self._scratch_hwm = self.scratch_base

    def scratch_state(self) -> tuple[int, int]:
        return self._scratch_next, self._scratch_hwm

    def set_scratch_state(self, state: tuple[int, int]) -> None:
        self._scratch_next, self._scratch_hwm = state

    # -- hotplug -------------------------------------------------------------------------------
    def unplug(self, base: int, size: int) -> None:
        """Remove [base, base+size) (2 MiB aligned): contents are lost, accesses fault."""
        end = self._check_range("unplug", base, size)
        for b, e, name in self._fixed:
            if base < e and b < end:
                raise InputError(f"unplug 0x{base:x}+0x{size:x} overlaps the {name} region")
        self._unplugged.append((base, end))
        for cb in [c for c in self._chunks if base <= c < end]:
            chunk = self._chunks.pop(cb)
            for uc in self._ucs:
                for s, e in chunk.runs:
                    uc.mem_unmap(s, e - s)
        for uc in self._ucs:
            uc.ctl_flush_tb()  # code translated from the removed range must not run again

    def plug(self, base: int, size: int) -> None:
        """Make [base, base+size) present again (zero-filled on first touch)."""
        end = self._check_range("plug", base, size)
        self._unplugged = cut_out(self._unplugged, base, end)

    def set_present(self, present: Present) -> None:
        """Replace the presence predicate (the platform's memory map changed by hotplug).

        Backed chunks are remapped page by page to what is present now: a page that goes away
        loses its contents (zeroed) and faults from then on, a page that appears starts
        zero-filled.  Fixed regions and `unplug`ged ranges keep their rules.  Chunk buffers
        are kept (not freed) so no host pointer an LP cached can dangle.
        """
        self._present_fn = present
        for base, chunk in self._chunks.items():
            runs = self._present_runs(base)
            if runs == chunk.runs:
                continue
            for uc in self._ucs:
                for s, e in chunk.runs:
                    uc.mem_unmap(s, e - s)
            for s, e in chunk.runs:
                for page in range(s, e, PAGE):
                    if not any(a <= page < b for a, b in runs):
                        ctypes.memset(chunk.addr + page - base, 0, PAGE)
            chunk.runs = runs
            for uc in self._ucs:
                for s, e in runs:
                    uc.mem_map_ptr(s, e - s, UC_PROT_ALL, chunk.addr + (s - base))
        for uc in self._ucs:
            uc.ctl_flush_tb()  # code translated from a page that went away must not run

    @property
    def unplugged(self) -> tuple[tuple[int, int], ...]:
        return tuple(self._unplugged)

    # -- lazy backing ----------------------------------------------------------------------
    def on_unmapped(self, pa: int, size: int) -> bool:
        """Guest touched unmapped memory: back it if present (True: retry the access)."""
        size = max(size, 1)
        if not self.present(pa, size):
            return False
        for b in range(pa & ~(CHUNK - 1), pa + size, CHUNK):
            chunk = self._ensure(b)
            if chunk is None:
                return False
        first, last = self._chunks.get(pa & ~(CHUNK - 1)), self._chunks.get((pa + size - 1) & ~(CHUNK - 1))
        return bool(first and last and first.covers(pa, min(pa + size, first.base + CHUNK))
                    and last.covers(max(pa, last.base), pa + size))

    def _ensure(self, base: int) -> _Chunk | None:
        chunk = self._chunks.get(base)
        if chunk is not None:
            return chunk
        runs = self._present_runs(base)
        if not runs:
            return None
        chunk = _Chunk(base, runs)
        self._chunks[base] = chunk
        for uc in self._ucs:
            for s, e in runs:
                uc.mem_map_ptr(s, e - s, UC_PROT_ALL, chunk.addr + (s - base))
        return chunk

    def _present_runs(self, base: int) -> list[tuple[int, int]]:
        if self.present(base, CHUNK):
            return [(base, base + CHUNK)]
        runs: list[tuple[int, int]] = []
        for p in range(base, base + CHUNK, PAGE):
            if self.present(p, PAGE):
                if runs and runs[-1][1] == p:
                    runs[-1] = (runs[-1][0], p + PAGE)
                else:
                    runs.append((p, p + PAGE))
        return runs

    def _pieces(self, pa: int, size: int, what: str):
        if pa < 0 or size < 0 or pa + size > 1 << 64:
            raise InputError(f"{what} 0x{pa:x}+0x{size:x}: not a physical address range")
        end = pa + size
        while pa < end:
            base = pa & ~(CHUNK - 1)
            n = min(end, base + CHUNK) - pa
            chunk = self._chunks.get(base)
            if chunk is None or not chunk.covers(pa, pa + n):
                if not self.present(pa, n):
                    raise InputError(f"{what} at physical 0x{pa:016x} (+0x{n:x}): memory not "
                                     f"present" + (" (unplugged)" if self._is_unplugged(pa) else ""))
                chunk = self._ensure(base)
                if chunk is None or not chunk.covers(pa, pa + n):
                    raise InputError(f"{what} at physical 0x{pa:016x}: memory not present")
            yield chunk, pa - base, n
            pa += n

    def _is_unplugged(self, pa: int) -> bool:
        return any(b <= pa < e for b, e in self._unplugged)

    @staticmethod
    def _check_range(what: str, base: int, size: int) -> int:
        if base < 0 or size <= 0 or base % CHUNK or size % CHUNK:
            raise InputError(f"{what} 0x{base:x}+0x{size:x}: range must be 2 MiB aligned")
        return base + size

    # -- copy-on-write tracking for snapshots ------------------------------------------------
    def track_writes(self) -> None:
        """Start (or restart) logging pages' old contents before their first write."""
        self._cow = {}

    def note_write(self, pa: int, size: int) -> None:
        cow = self._cow
        if cow is None:
            return
        for page in range(pa & ~(PAGE - 1), pa + max(size, 1), PAGE):
            if page not in cow:
                chunk = self._chunks.get(page & ~(CHUNK - 1))
                if chunk is not None and chunk.covers(page, page + PAGE):
                    cow[page] = ctypes.string_at(chunk.addr + page - chunk.base, PAGE)
                else:
                    cow[page] = bytes(PAGE)  # backed zero-filled on first touch

    def rollback(self) -> None:
        """Copy every logged page back and keep logging from the restored state."""
        cow = self._cow
        if not cow:
            return
        for page, old in cow.items():
            chunk = self._chunks.get(page & ~(CHUNK - 1))
            if chunk is not None and chunk.covers(page, page + PAGE):
                ctypes.memmove(chunk.addr + page - chunk.base, old, PAGE)
        cow.clear()

    # -- raw access for snapshots of fixed regions ------------------------------------------
    def save_range(self, pa: int, size: int) -> bytes:
        return b"".join(ctypes.string_at(c.addr + off, n) for c, off, n in self._pieces(pa, size, "save"))

    def load_range(self, pa: int, data: bytes) -> None:
        pos = 0
        for chunk, off, n in self._pieces(pa, len(data), "restore"):
            ctypes.memmove(chunk.addr + off, data[pos:pos + n], n)
            pos += n

    def mapped_ranges(self) -> list[tuple[int, int]]:
        """Every mapped [start, end) range, sorted and merged."""
        out: list[tuple[int, int]] = []
        for s, e in sorted(r for c in self._chunks.values() for r in c.runs):
            if out and out[-1][1] == s:
                out[-1] = (out[-1][0], e)
            else:
                out.append((s, e))
        return out

    @property
    def mapped_chunks(self) -> tuple[int, ...]:
        return tuple(sorted(b for b, c in self._chunks.items() if c.runs))


__all__ = ["CHUNK", "DEFAULT_LIMIT", "PAGE", "PhysicalMemory", "Present", "default_present"]
