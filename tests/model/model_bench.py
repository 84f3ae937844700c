# SPDX-License-Identifier: MIT
"""Test helpers for the model tests: a dict-backed GuestMemory, a small platform built directly
from seamemu.platform.facts, and a Bench that drives SEAMCALLs and the bring-up.

Imported by the tests of this directory (pytest puts it on sys.path); not a test module."""

from __future__ import annotations

from seamemu.arch.leaves import SEAMLDR_MODE_BIT, leaf_by_name, seamldr_leaf_by_name
from seamemu.arch.registers import ABI_ORDER
from seamemu.arch.status import TdxStatus
from seamemu.arch.sysinfo import TDMR_INFO, pack_tdmr_info
from seamemu.model import TdxModule
from seamemu.platform.facts import Cmr, GiB, MemoryRegion, MiB, ModuleInfo, Platform, Seamrr

PAGE = 4096
SEAMRR_BASE, SEAMRR_SIZE = 0x3C000000, 64 * MiB
ADDR_BITS_46 = ((1 << 46) - 1) & ~((1 << 25) - 1)


class FakeMemory:
    """Guest physical memory backed by a dict of 4 KiB pages; `present` follows the regions."""

    def __init__(self, regions):
        self.regions = [(r.base, r.end) for r in regions]
        self.pages: dict[int, bytearray] = {}

    def present(self, pa: int, size: int) -> bool:
        return any(lo <= pa and pa + size <= hi for lo, hi in self.regions)

    def read(self, pa: int, size: int) -> bytes:
        assert self.present(pa, size), f"model read unbacked 0x{pa:x}+{size}"
        out = bytearray()
        while size:
            page, off = divmod(pa, PAGE)
            n = min(size, PAGE - off)
            out += self.pages.get(page, bytes(PAGE))[off:off + n]
            pa, size = pa + n, size - n
        return bytes(out)

    def write(self, pa: int, data: bytes) -> None:
        assert self.present(pa, len(data)), f"model wrote unbacked 0x{pa:x}+{len(data)}"
        data = memoryview(bytes(data))
        while data:
            page, off = divmod(pa, PAGE)
            n = min(len(data), PAGE - off)
            buf = self.pages.setdefault(page, bytearray(PAGE))
            buf[off:off + n] = data[:n]
            pa, data = pa + n, data[n:]


def make_platform(*, abi: str | None = "1.5", packages: int = 2, cores: int = 2,
                  threads: int = 1, **over) -> Platform:
    """Low memory [0, 960 MiB) + SEAMRR [960 MiB, 1 GiB) + high memory [4 GiB, 6 GiB)."""
    mask = ADDR_BITS_46 & ~(SEAMRR_SIZE - 1)
    fields = dict(
        name="test",
        memory=(MemoryRegion(0, SEAMRR_BASE), MemoryRegion(SEAMRR_BASE, SEAMRR_SIZE, "reserved"),
                MemoryRegion(4 * GiB, 2 * GiB)),
        cmrs=(Cmr(0, SEAMRR_BASE), Cmr(4 * GiB, 2 * GiB)),
        packages=packages, cores_per_package=cores, threads_per_core=threads,
        seamrr=(Seamrr(SEAMRR_BASE | (1 << 3), mask | (1 << 10) | (1 << 11)),),
        module=None if abi is None else ModuleInfo(abi=abi),
    )
    fields.update(over)
    return Platform(**fields)


# Where the bench keeps the buffers it hands to the module (all in low memory).
ARRAY_PA = 0x100000           # TDMR_INFO PA array
ENTRY_PA = 0x101000           # TDMR_INFO entries, 512 bytes apart
SYSINFO_PA = 0x110000
CMRINFO_PA = 0x111000
PAGE_PA = 0x120000            # RDALL / loader buffers
PAMT_BLOCK = 0x170000000      # inside TDMR 1, reserved there


def good_tdmrs() -> list[bytes]:
    """TDMR 0 = [0, 1 GiB) minus SEAMRR; TDMR 1 = [4 GiB, 6 GiB) minus the PAMT block."""
    p = PAMT_BLOCK
    t0 = pack_tdmr_info(0, GiB, pamt_4k=(p, 4 * MiB), pamt_2m=(p + 4 * MiB, 8192),
                        pamt_1g=(p + 4 * MiB + 8192, PAGE),
                        reserved=((SEAMRR_BASE, SEAMRR_SIZE),))
    t1 = pack_tdmr_info(4 * GiB, 2 * GiB, pamt_4k=(p + 8 * MiB, 8 * MiB),
                        pamt_2m=(p + 16 * MiB, 16384), pamt_1g=(p + 16 * MiB + 16384, PAGE),
                        reserved=((PAMT_BLOCK - 4 * GiB, 32 * MiB),))
    return [t0, t1]


class Bench:
    """A platform, its memory and a TdxModule, with the calls a kernel would make."""

    def __init__(self, platform: Platform, *, abi: str | None = None, injector=None):
        self.platform = platform
        self.mem = FakeMemory(platform.memory)
        self.tdx = TdxModule(platform, abi=abi, injector=injector)

    @property
    def abi(self) -> str:
        return self.tdx.abi

    @property
    def hkid(self) -> int:
        return self.platform.first_tdx_keyid

    def call(self, lp: int, leaf, *, version: int = 0, rax: int | None = None, **regs):
        if rax is None:
            if isinstance(leaf, str):
                info = leaf_by_name(leaf)
                rax = info.number if info else seamldr_leaf_by_name(leaf).rax
            else:
                rax = leaf
            if not rax & SEAMLDR_MODE_BIT:
                rax |= version << 16
        full = dict.fromkeys(ABI_ORDER, 0)
        full.update(regs)
        full["rax"] = rax
        return self.tdx.seamcall(lp, full, self.mem)

    def status(self, lp: int, leaf, **kw) -> int:
        return self.call(lp, leaf, **kw).regs["rax"]

    def sys_init(self) -> int:
        return self.status(0, "TDH.SYS.INIT")

    def lp_init_all(self) -> None:
        for lp in range(self.platform.num_lps):
            assert self.status(lp, "TDH.SYS.LP.INIT") == TdxStatus.TDX_SUCCESS

    def config(self, tdmrs: list[bytes] | None = None, *, hkid: int | None = None,
               lp: int = 0, count: int | None = None) -> int:
        tdmrs = good_tdmrs() if tdmrs is None else tdmrs
        self.write_tdmrs(tdmrs)
        return self.status(lp, "TDH.SYS.CONFIG", rcx=ARRAY_PA,
                           rdx=len(tdmrs) if count is None else count,
                           r8=self.hkid if hkid is None else hkid)

    def write_tdmrs(self, tdmrs: list[bytes], *, entry_pa: int = ENTRY_PA) -> None:
        """The PA array at ARRAY_PA and the entries 512 bytes apart from `entry_pa`."""
        for i, blob in enumerate(tdmrs):
            self.mem.write(ARRAY_PA + 8 * i, (entry_pa + 512 * i).to_bytes(8, "little"))
            self.mem.write(entry_pa + 512 * i, blob)

    def package_lps(self) -> list[int]:
        per = self.platform.cores_per_package * self.platform.threads_per_core
        return [p * per for p in range(self.platform.packages)]

    def key_config_all(self) -> None:
        for lp in self.package_lps():
            assert self.status(lp, "TDH.SYS.KEY.CONFIG") == TdxStatus.TDX_SUCCESS

    def tdmr_init(self, base: int, size: int) -> int:
        calls = 0
        while True:
            reply = self.call(0, "TDH.SYS.TDMR.INIT", rcx=base)
            assert reply.regs["rax"] == TdxStatus.TDX_SUCCESS, reply.record.status_name
            calls += 1
            if reply.regs["rdx"] >= base + size:
                return calls

    def bring_up(self, *, until: str = "ready") -> None:
        assert self.sys_init() == TdxStatus.TDX_SUCCESS
        self.lp_init_all()
        if until == "lp_init":
            return
        assert self.config() == TdxStatus.TDX_SUCCESS
        if until == "config":
            return
        self.key_config_all()


def tdmr_blob(base: int, size: int, *, pamt_4k=(0, 0), pamt_2m=(0, 0), pamt_1g=(0, 0),
              reserved=()) -> bytes:
    return pack_tdmr_info(base, size, pamt_4k=pamt_4k, pamt_2m=pamt_2m, pamt_1g=pamt_1g,
                          reserved=tuple(reserved))


def mutate(blob: bytes, **fields: int) -> bytes:
    """A TDMR_INFO entry with some fields replaced (rsvdJ_offset / rsvdJ_size included)."""
    values = TDMR_INFO.unpack(blob)
    values.update(fields)
    return TDMR_INFO.pack(**values)


__all__ = ["ARRAY_PA", "Bench", "CMRINFO_PA", "ENTRY_PA", "FakeMemory", "PAGE_PA", "PAMT_BLOCK",
           "SEAMRR_BASE", "SEAMRR_SIZE", "SYSINFO_PA", "good_tdmrs", "make_platform", "mutate",
           "tdmr_blob"]
