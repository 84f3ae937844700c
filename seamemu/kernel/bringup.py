# SPDX-License-Identifier: MIT
"""`bring_up(session, kernel=...)`: one kernel generation's TDX bring-up, and what it left.

The flows themselves are in bringup_v5.py (the 2022 series' tdx_init()) and bringup_linux.py
(6.8's caller-driven tdx_enable() and mainline's boot-time one).  This module owns the result
every user reads: the dmesg-like log, every SEAMCALL, the TDMRs and PAMT, the module state.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from seamemu.arch.leaves import TDH_SYS_KEY_CONFIG, TDH_SYS_TDMR_INIT
from seamemu.jsonout import JsonRecord, hex_span, json_as, rounded
from seamemu.kernel.generations import FLOW_V5, Generation, generation
from seamemu.kernel.klog import KernelFailure, KernelLog, LogLine, ModuleHalted, errno_name
from seamemu.kernel.metadata_read import TdxSysInfo
from seamemu.kernel.port import KernelPort, module_state
from seamemu.kernel.tdmr import Tdmr, TdxMemblock, pamt_kb
from seamemu.kernel.wrappers import KernelCall, KernelSeamcall

GiB, MiB, KiB = 1 << 30, 1 << 20, 1 << 10


@dataclass(frozen=True)
class KeyIds(JsonRecord):
    """IA32_MKTME_KEYID_PARTITIONING as the kernel splits it."""

    JSON_KEYS = ("first", "count", "global_keyid", "guest_keyids")

    first: int                      # first TDX private KeyID (MKTME KeyIDs + 1)
    count: int                      # TDX private KeyIDs

    @property
    def global_keyid(self) -> int:  # every generation keeps the first for the module itself
        return self.first

    @property
    def guest_keyids(self) -> tuple[int, int]:  # first and last KeyID left for TDs
        return self.first + 1, self.first + self.count


@dataclass(frozen=True)
class BringUp(JsonRecord):
    """Everything one bring-up did and left behind (`seamemu boot --json` is its document)."""

    JSON_KEYS = ("schema", "kernel", "platform", "abi", "module", "use_tdx", "ok", "errno",
                 "errno_name", "refused", "oops", "result", "state", "wall_s", "keyids",
                 "sysinfo", "cmrs", ("tdx_memory", "memlist"), "tdmrs", "pamt_kb",
                 "key_config_lps", "seamcalls", "log", "calls")
    schema: ClassVar[int] = 1

    kernel: str
    platform: str
    abi: str
    use_tdx: bool
    errno: int | None               # the enabling function's answer; None if never called
    refused: str                    # "" or why the bring-up stopped before/instead of it
    state: str                      # the module's lifecycle state afterwards
    log: tuple[LogLine, ...]
    calls: tuple[KernelCall, ...]
    keyids: KeyIds | None = None
    sysinfo: TdxSysInfo | None = None
    memlist: tuple[TdxMemblock, ...] = ()
    tdmrs: tuple[Tdmr, ...] = ()
    pamt_kb: int = 0
    key_config_lps: tuple[int, ...] = ()
    oops: str = field(default="",   # the report of a SEAMCALL fault no fixup caught
                      metadata=json_as(lambda report: report or None))
    wall_s: float = field(default=0.0, metadata=json_as(rounded(6)))
    session: KernelPort | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.errno == 0 and self.state == "SYS_READY"

    @property
    def module(self) -> str:
        """Which module answered ("" without a session)."""
        return self.session.module_label if self.session is not None else ""

    @property
    def errno_name(self) -> str | None:
        return errno_name(self.errno)

    @property
    def result(self) -> str:
        """The outcome in words."""
        if self.refused == "oops":
            return "oops: a SEAMCALL faulted with no exception-table entry; the kernel dies"
        if self.refused:
            tail = "" if self.errno is None else f" ({self.errno} {errno_name(self.errno)})"
            return f"refused: {self.refused}{tail}"
        if self.errno == 0:
            return "module initialized (0)"
        return f"module initialization failed ({self.errno} {errno_name(self.errno)})"

    @property
    def cmrs(self) -> list[dict[str, str]]:
        """The CMRs the kernel read and checked (v5 only), as (base, size) objects."""
        return [hex_span(c) for c in (self.sysinfo.cmrs if self.sysinfo is not None else ())]

    @property
    def calls_by_leaf(self) -> dict[str, int]:
        return dict(Counter(c.leaf_name for c in self.calls))

    @property
    def seamcalls(self) -> dict:
        return {"total": len(self.calls), "by_leaf": self.calls_by_leaf}

    def texts(self) -> list[str]:
        return [line.text for line in self.log]

    def dmesg(self) -> list[str]:
        """The lines the kernel itself prints (seamemu's notes left out)."""
        return [line.text for line in self.log if line.origin == "kernel"]


class Run:
    """One bring-up in progress: the kernel's static state, shared by the flows."""

    def __init__(self, port: KernelPort, gen: Generation, use_tdx: bool):
        self.port = port
        self.gen = gen
        self.p = port.platform
        self.use_tdx = use_tdx
        self.log = KernelLog(gen.pr_fmt)
        self.ks = KernelSeamcall(port, self.log, gen)
        self.online = self.p.present_lps or (0,)
        self.keyids: KeyIds | None = None
        self.sysinfo: TdxSysInfo | None = None
        self.memlist: list[TdxMemblock] = []
        self.tdmrs: list[Tdmr] = []
        self.key_lps: list[int] = []
        self.oops = ""

    def run(self) -> tuple[int | None, str]:
        """The flow: (errno of the enabling call, or None if never called; why it stopped)."""
        raise NotImplementedError

    def first_per_package(self) -> list[int]:
        """for_each_online_cpu(), the first CPU of each physical package."""
        seen: set[int] = set()
        out = []
        for lp in self.online:
            pkg = self.p.lp_package(lp)
            if pkg not in seen:
                seen.add(pkg)
                out.append(lp)
        return out

    def seamcall(self, fn: int, lp: int, ret: bool, **regs: int) -> tuple[int, Mapping[str, int]]:
        """One SEAMCALL of the bring-up through the generation's wrapper: (0 or -errno, the
        output registers); `ret`: the caller wants the outputs (seamcall_prerr_ret())."""
        raise NotImplementedError

    def config_global_keyid(self) -> None:
        """TDH.SYS.KEY.CONFIG on the first online CPU of each package, one package at a time."""
        for lp in self.first_per_package():
            self.key_lps.append(lp)
            ret, _ = self.seamcall(TDH_SYS_KEY_CONFIG, lp, False)
            if ret:
                raise KernelFailure(ret)
        self.log.note("TDH.SYS.KEY.CONFIG ran on LP " + ", LP ".join(
            f"{lp} (package {self.p.lp_package(lp)})" for lp in self.key_lps))

    def init_tdmrs(self) -> None:
        """TDH.SYS.TDMR.INIT on each TDMR until RDX (the next address) reaches its end."""
        lp = self.online[0]
        for i, t in enumerate(self.tdmrs):
            calls = 0
            while True:
                ret, out = self.seamcall(TDH_SYS_TDMR_INIT, lp, True, rcx=t.base)
                if ret:
                    raise KernelFailure(ret)
                calls += 1
                if out["rdx"] >= t.end:
                    break
            self.log.note(f"TDMR[{i}] initialized: {calls} TDH.SYS.TDMR.INIT calls on LP {lp}")

    def log_memlist(self) -> None:
        for m in self.memlist:
            self.log.note(f"TDX memory [0x{m.start:016x}, 0x{m.end:016x}) node {m.nid} "
                          f"({size_text(m.end - m.start)})")

    def log_tdmr(self, i: int, t: Tdmr, entry_sizes: tuple[int, int, int]) -> None:
        n = self.log.note
        n(f"TDMR[{i}]: [0x{t.base:016x}, 0x{t.end:016x}) {size_text(t.size)}, PAMT on node "
          f"{t.nid}")
        for ps, (base, size) in enumerate(t.pamt):
            pages = t.size >> (12 + 9 * ps)
            n(f"TDMR[{i}]:   PAMT {('4K', '2M', '1G')[ps]}: [0x{base:016x}, "
              f"0x{base + size:016x}) {size} B = {pages} x {entry_sizes[ps]} B rounded up "
              "to 4 KiB")
        for off, size in t.reserved:
            n(f"TDMR[{i}]:   reserved [0x{t.base + off:016x}, 0x{t.base + off + size:016x}) "
              f"offset 0x{off:x} size 0x{size:x}")


def size_text(n: int) -> str:
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit} {name}"
    return f"{n} B"


def bring_up(session: KernelPort, kernel: str | Generation | None = None, *,
             use_tdx: bool = True) -> BringUp:
    """Run generation `kernel`'s bring-up on `session` (fresh: its module in SYSINIT_PENDING).

    The session must run that generation's stub (kernel.generations: `stub`), as built by
    `Session(generation.stub ...)`; the CLI builds it with kernel.stub_files().
    """
    from seamemu.kernel.bringup_linux import LinuxRun  # the flows import this module
    from seamemu.kernel.bringup_v5 import V5Run

    gen = generation(kernel)
    run = (V5Run if gen.flow == FLOW_V5 else LinuxRun)(session, gen, use_tdx)
    t0 = time.perf_counter()
    try:
        err, refused = run.run()
    except ModuleHalted as halted:          # Intel's module stopped itself: no return at all
        run.log.note(f"{halted}", "err")
        err, refused = None, "the module halted"
    wall = time.perf_counter() - t0
    run.log.note(f"bring-up took {wall:.3f} s: {len(run.ks.calls)} SEAMCALLs through "
                 f"{session.asm[0].name}; module state {module_state(session)}")
    return BringUp(
        kernel=gen.name, platform=session.platform.name, abi=session.module.abi,
        use_tdx=use_tdx, errno=err, refused=refused, state=module_state(session),
        log=tuple(run.log.lines), calls=tuple(run.ks.calls), keyids=run.keyids,
        sysinfo=run.sysinfo, memlist=tuple(run.memlist), tdmrs=tuple(run.tdmrs),
        pamt_kb=pamt_kb(run.tdmrs), key_config_lps=tuple(run.key_lps), oops=run.oops,
        wall_s=wall, session=session)


__all__ = ["BringUp", "KeyIds", "Run", "bring_up", "size_text"]
