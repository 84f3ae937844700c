# SPDX-License-Identifier: MIT
"""The module's linear-to-physical translation, with the KeyID bits taken off every address.

Unicorn's own page walker treats PTE bits above its MAXPHYADDR as reserved, so a keyhole PTE
carrying a private HKID (the module's MAX_PA is 52 and the HKID sits in the top KeyID bits)
would #PF.  The SEAM CPU therefore runs Unicorn in virtual-TLB mode and answers each TLB fill
here: a 4-level walk from the module's CR3 in the machine's physical memory, with the KeyID
bits stripped from every table and page address (the memory controller uses them to pick a
key; the byte address is what remains).  Spec: SDM Vol. 3A §4.5 (4-level paging, P/RW/US/XD);
intel/tdx-module src/common/memory_handlers/keyhole_manager.c (keyhole PTEs = PA | HKID).

`Translator` also serves the instructions seamemu emulates (MOVDIR64B, VMPTRLD operands...),
with a per-page cache that the module's INVLPG (observed by the CPU) and every entry clear.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from seamemu.errors import InputError
from seamemu.machine.memory import PhysicalMemory

PAGE = 4096
PTE_P, PTE_RW, PTE_US = 1, 2, 4
PTE_XD = 1 << 63
ARCH_ADDR = 0x000FFFFFFFFFF000


@dataclass(frozen=True)
class Translation:
    pa: int          # page-aligned physical address (KeyID bits removed)
    keyid: int       # the KeyID the leaf PTE named
    writable: bool
    executable: bool
    user: bool


class Translator:
    """Walk the module's page tables (CR3 = its PML4) with `keyid_bits` KeyID bits at 51:.."""

    def __init__(self, memory: PhysicalMemory, cr3: int, keyid_bits: int):
        self.memory = memory
        self.cr3 = cr3
        self.keyid_shift = 52 - keyid_bits
        self.addr_mask = ARCH_ADDR & ~(((1 << keyid_bits) - 1) << self.keyid_shift)
        self.keyid_mask = ((1 << keyid_bits) - 1) << self.keyid_shift
        self._cache: dict[int, Translation] = {}
        self._host: dict[int, int] = {}        # linear page -> host address of its frame

    def flush(self, la: int | None = None) -> None:
        if la is None:
            self._cache.clear()
            self._host.clear()
        else:
            self._cache.pop(la & ~(PAGE - 1), None)
            self._host.pop(la & ~(PAGE - 1), None)

    def host_address(self, la: int, write: bool = False) -> int | None:
        """Host address of the byte at `la` when its page is mapped, backed (and writable for
        a write); None sends the caller to the checked path."""
        page = la & ~(PAGE - 1)
        host = self._host.get(page)
        if host is None:
            t = self.walk(la)
            if t is None or not self.memory.on_unmapped(t.pa, 1):
                return None
            try:
                host = self._host[page] = self.memory.host_address(t.pa)
            except InputError:
                return None
        if write and not self._cache[page].writable:
            return None
        return host + (la & (PAGE - 1))

    def _entry(self, pa: int) -> int:
        try:
            return ctypes.c_uint64.from_address(self.memory.host_address(pa)).value
        except InputError:    # not backed yet: back it if present, else "not present"
            if not self.memory.present(pa, 8):
                return 0
            return self.memory.read_u64(pa)

    def walk(self, la: int) -> Translation | None:
        """The translation of `la`, or None if some level is not present."""
        page = la & ~(PAGE - 1) & ((1 << 64) - 1)
        hit = self._cache.get(page)
        if hit is not None:
            return hit
        table = self.cr3 & self.addr_mask
        writable = executable = user = True
        entry = 0
        for level in (3, 2, 1, 0):
            entry = self._entry(table + 8 * ((la >> (12 + 9 * level)) & 0x1FF))
            if not entry & PTE_P:
                return None
            writable = writable and bool(entry & PTE_RW)
            user = user and bool(entry & PTE_US)
            executable = executable and not entry & PTE_XD
            table = entry & self.addr_mask
        found = Translation(table, (entry & self.keyid_mask) >> self.keyid_shift, writable,
                            executable, user)
        self._cache[page] = found
        return found

    def physical(self, la: int) -> int | None:
        t = self.walk(la)
        return None if t is None else t.pa | (la & (PAGE - 1))

    def read(self, la: int, size: int) -> bytes | None:
        """Bytes at a linear address, page by page; None if any page is not mapped."""
        out = []
        while size > 0:
            pa = self.physical(la)
            if pa is None:
                return None
            n = min(size, PAGE - (la & (PAGE - 1)))
            out.append(self.memory.read(pa, n) if self.memory.present(pa, n) else b"\xff" * n)
            la, size = la + n, size - n
        return b"".join(out)

    def write(self, la: int, data: bytes) -> bool:
        pos = 0
        while pos < len(data):
            pa = self.physical(la + pos)
            if pa is None:
                return False
            n = min(len(data) - pos, PAGE - ((la + pos) & (PAGE - 1)))
            if self.memory.present(pa, n):       # a write to absent memory is dropped
                self.memory.write(pa, data[pos:pos + n])
            pos += n
        return True


__all__ = ["Translation", "Translator"]
