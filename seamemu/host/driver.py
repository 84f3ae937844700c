# SPDX-License-Identifier: MIT
"""The host driver: the kernel's TDX bring-up played through the assembly stub on every LP.

Order (Linux arch/x86/virt/vmx/tdx/tdx.c 01fb93a, and KVM's caller arch/x86/kvm/vmx/tdx.c):
tdx_init() reads IA32_MKTME_KEYID_PARTITIONING at boot; KVM's cpuhp callback runs
tdx_cpu_enable() on every online CPU (TDH.SYS.INIT once, under a lock and cached, then
TDH.SYS.LP.INIT); tdx_enable() -> init_tdx_module(): global metadata, check_features(), the
TDX memory list, TDMRs with PAMTs and reserved areas, TDH.SYS.CONFIG (PA array sized to the
next power of two, at least 512 bytes, RDX = TDMR count, R8 = global KeyID),
wbinvd_on_all_cpus() and TDH.SYS.KEY.CONFIG on the first online CPU of each package, the
TDH.SYS.TDMR.INIT loop per TDMR; "module initialized" or "module initialization failed (%d)".
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass, field
from pathlib import Path

from seamemu.arch.leaves import (
    TDH_SYS_CONFIG,
    TDH_SYS_INIT,
    TDH_SYS_KEY_CONFIG,
    TDH_SYS_LP_INIT,
    TDH_SYS_TDMR_INIT,
)
from seamemu.arch.msrs import IA32_MKTME_KEYID_PARTITIONING
from seamemu.host.klog import KernelFailure, KernelLog, LogLine, ModuleHalted, errno_name
from seamemu.host.seamcall import HostCall, HostSeamcall, module_state
from seamemu.host.sysinfo import TdxSysInfo, check_features, get_sys_info_info, get_sys_info_rd
from seamemu.host.tdmr import (
    PS_NAMES,
    PamtAllocator,
    Tdmr,
    TdxMemblock,
    build_tdx_memlist,
    construct_tdmrs,
    pamt_kb,
    tdmr_info_slot,
)
from seamemu.platform import as_platform
from seamemu.platform.facts import Platform
from seamemu.platform.msr_values import msr_values
from seamemu.session import Session

TDMR_INFO_PA_ARRAY_MIN = 512          # tdx.c config_tdx_module(): TDMR_INFO_PA_ARRAY_ALIGNMENT
GiB, MiB, KiB = 1 << 30, 1 << 20, 1 << 10


@dataclass(frozen=True)
class KeyIds:
    """IA32_MKTME_KEYID_PARTITIONING as tdx_init() splits it."""

    first: int                      # first TDX private KeyID (MKTME KeyIDs + 1)
    count: int                      # TDX private KeyIDs

    @property
    def global_keyid(self) -> int:  # the kernel keeps the first for the module itself
        return self.first

    def to_json(self) -> dict:
        return {"first": self.first, "count": self.count, "global_keyid": self.global_keyid,
                "guest_keyids": [self.first + 1, self.first + self.count]}


@dataclass(frozen=True)
class BringUp:
    """Everything one bring-up did and left behind."""

    platform: str
    abi: str
    use_tdx: bool
    errno: int | None               # tdx_enable()'s answer; None if it was never called
    refused: str                    # "" or why the bring-up stopped before tdx_enable()
    state: str                      # the module's lifecycle state afterwards
    log: tuple[LogLine, ...]
    calls: tuple[HostCall, ...]
    keyids: KeyIds | None = None
    sysinfo: TdxSysInfo | None = None
    memlist: tuple[TdxMemblock, ...] = ()
    tdmrs: tuple[Tdmr, ...] = ()
    pamt_kb: int = 0
    key_config_lps: tuple[int, ...] = ()
    wall_s: float = 0.0
    session: Session | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.errno == 0 and self.state == "SYS_READY"

    def texts(self) -> list[str]:
        return [line.text for line in self.log]


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


class _Run:
    """One bring-up in progress: the kernel's static state (sysinit_done, TDMR list ...)."""

    def __init__(self, session: Session, use_tdx: bool):
        self.s = session
        self.p = session.platform
        self.use_tdx = use_tdx
        self.log = KernelLog()
        self.host = HostSeamcall(session, self.log)
        self.online = self.p.present_lps or (0,)
        self.keyids: KeyIds | None = None
        self.sysinfo: TdxSysInfo | None = None
        self.memlist: list[TdxMemblock] = []
        self.tdmrs: list[Tdmr] = []
        self.key_lps: list[int] = []
        self.sysinit_done = False
        self.sysinit_ret = 0

    # ------------------------------------------------------------------ boot: tdx_init()
    def tdx_init(self) -> KeyIds | None:
        msr = msr_values(self.p, 0)[IA32_MKTME_KEYID_PARTITIONING]
        mktme, tdx = msr & 0xFFFFFFFF, msr >> 32
        if not tdx:                       # record_keyid_partitioning(): -EINVAL, silently
            return None
        first = mktme + 1
        self.log.tdx(f"BIOS enabled: private KeyID range [{first}, {first + tdx})")
        if tdx < 2:
            self.log.tdx("initialization failed: too few private KeyIDs available.", "err")
            return None
        self.log.tdx("Disable ACPI S3. Turn off TDX in the BIOS to use ACPI S3.")
        keys = KeyIds(first, tdx)
        self.log.note(f"global KeyID {keys.global_keyid} (TDH.SYS.CONFIG R8); guest KeyIDs "
                      f"[{first + 1}, {first + tdx}) ({tdx - 1})")
        return keys

    # ------------------------------------------------------------------ tdx_cpu_enable()
    def cpu_enable(self, lp: int) -> int:
        if not self.sysinit_done:         # try_init_module_global(): once, result cached
            self.sysinit_ret, _ = self.host.prerr(TDH_SYS_INIT, {"rcx": 0}, lp=lp)
            if self.sysinit_ret == -errno.ENODEV:
                self.log.tdx("module not loaded", "err")
            self.sysinit_done = True
        if self.sysinit_ret:
            return self.sysinit_ret
        ret, _ = self.host.prerr(TDH_SYS_LP_INIT, lp=lp)
        return ret

    # ------------------------------------------------------------------ init_tdx_module()
    def init_tdx_module(self) -> None:
        lp = self.online[0]
        get = get_sys_info_info if self.s.module.abi == "1.0" else get_sys_info_rd
        self.sysinfo = info = get(self.host, lp)
        check_features(self.host, info)
        self.memlist = build_tdx_memlist(self.p, info.cmrs, self.log)
        for m in self.memlist:
            self.log.note(f"TDX memory [0x{m.start:016x}, 0x{m.end:016x}) node {m.nid} "
                          f"({_size(m.end - m.start)})")
        slot = tdmr_info_slot(info.max_reserved_per_tdmr)
        list_pa = self.s.alloc(slot * info.max_tdmrs, 4096)     # alloc_pages_exact(), zeroed
        mem = self.s.machine.memory
        avoid = [(0, mem.scratch_end)]    # the emulator's image, stacks and scratch
        self.tdmrs = construct_tdmrs(
            self.memlist, max_tdmrs=info.max_tdmrs, max_reserved=info.max_reserved_per_tdmr,
            entry_sizes=info.pamt_entry_sizes, allocator=PamtAllocator(self.memlist, avoid),
            log=self.log)
        for i, t in enumerate(self.tdmrs):
            mem.write(list_pa + i * slot, t.pack())
            self._log_tdmr(i, t, info.pamt_entry_sizes)
        self.config_tdx_module([list_pa + i * slot for i in range(len(self.tdmrs))])
        try:
            self.config_global_keyid()
            self.init_tdmrs()
        except KernelFailure:
            self.log.note("error path: wbinvd_on_all_cpus()" +
                          ("; PAMTs reset with MOVDIR64B (X86_BUG_TDX_PW_MCE)"
                           if self.p.tdx_pw_mce_bug else "") + "; PAMTs freed")
            raise
        self.log.tdx(f"{pamt_kb(self.tdmrs)} KB allocated for PAMT")

    def config_tdx_module(self, entry_pas: list[int]) -> None:
        n = len(entry_pas)
        size = max(_next_pow2(n * 8), TDMR_INFO_PA_ARRAY_MIN)
        data = b"".join(pa.to_bytes(8, "little") for pa in entry_pas).ljust(size, b"\0")
        array_pa = self.s.alloc(size, size, data)      # kzalloc: power-of-two sizes align
        assert self.keyids is not None  # tdx_init() reserved the KeyIDs before configuring
        ret, _ = self.host.prerr(TDH_SYS_CONFIG, {"rcx": array_pa, "rdx": n,
                                                  "r8": self.keyids.global_keyid},
                                 lp=self.online[0])
        if ret:
            self.log.note("error path: PAMTs freed")
            raise KernelFailure(ret)

    def config_global_keyid(self) -> None:
        self.log.note("wbinvd_on_all_cpus(): PAMT cache lines of KeyID 0 flushed")
        ret, seen = -errno.EINVAL, set()
        for lp in self.online:            # for_each_online_cpu(), first CPU of each package
            pkg = self.p.lp_package(lp)
            if pkg in seen:
                continue
            seen.add(pkg)
            self.key_lps.append(lp)
            ret, _ = self.host.prerr(TDH_SYS_KEY_CONFIG, lp=lp)   # smp_call_on_cpu()
            if ret:
                break
        if ret:
            raise KernelFailure(ret)
        self.log.note("TDH.SYS.KEY.CONFIG ran on LP " + ", LP ".join(
            f"{lp} (package {self.p.lp_package(lp)})" for lp in self.key_lps))

    def init_tdmrs(self) -> None:
        lp = self.online[0]
        for i, t in enumerate(self.tdmrs):
            calls = 0
            while True:
                ret, out = self.host.prerr(TDH_SYS_TDMR_INIT, {"rcx": t.base}, lp=lp, ret=True)
                if ret:
                    raise KernelFailure(ret)
                calls += 1
                if out["rdx"] >= t.end:
                    break
            self.log.note(f"TDMR[{i}] initialized: {calls} TDH.SYS.TDMR.INIT calls on LP {lp}")

    def _log_tdmr(self, i: int, t: Tdmr, entry_sizes: tuple[int, int, int]) -> None:
        n = self.log.note
        n(f"TDMR[{i}]: [0x{t.base:016x}, 0x{t.end:016x}) {_size(t.size)}, PAMT on node {t.nid}")
        for ps, (base, size) in enumerate(t.pamt):
            pages = t.size >> (12 + 9 * ps)
            n(f"TDMR[{i}]:   PAMT {PS_NAMES[ps]}: [0x{base:016x}, 0x{base + size:016x}) "
              f"{size} B = {pages} x {entry_sizes[ps]} B rounded up to 4 KiB")
        for off, size in t.reserved:
            n(f"TDMR[{i}]:   reserved [0x{t.base + off:016x}, 0x{t.base + off + size:016x}) "
              f"offset 0x{off:x} size 0x{size:x}")

    # ------------------------------------------------------------------ the whole thing
    def run(self) -> tuple[int | None, str]:
        try:
            return self._run()
        except ModuleHalted as halted:
            self.log.note(f"{halted}", "err")
            return None, "the module halted"

    def _run(self) -> tuple[int | None, str]:
        if not self.use_tdx:
            self.log.note("use_tdx=off: the host does not enable TDX, tdx_enable() is never "
                          "called and the module stays uninitialized (upstream: "
                          "kvm_intel.tdx=0, which prints nothing)", "warn")
            return None, "use_tdx=off"
        self.keyids = self.tdx_init()
        if self.keyids is None:           # no X86_FEATURE_TDX_HOST_PLATFORM
            # KVM TDX series (ML) arch/x86/kvm/vmx/tdx.c tdx_bringup(): !kvm_can_support_tdx()
            self.log.kvm("tdx: no TDX private KeyIDs available", "err")
            self.log.note("TDX is not enabled by the BIOS: tdx_enable() returns -ENODEV "
                          "without a SEAMCALL", "warn")
            return -errno.ENODEV, "TDX not enabled by BIOS"
        for lp in self.online:            # KVM's cpuhp "kvm/cpu/tdx:online" callback
            ret = self.cpu_enable(lp)
            if ret:
                self.log.note(f"tdx_cpu_enable() on LP {lp} failed ({errno_name(ret)}): the "
                              "cpuhp callback fails, tdx_enable() is not called", "err")
                return ret, "tdx_cpu_enable() failed"
        try:
            self.init_tdx_module()
        except KernelFailure as failure:
            self.log.tdx(f"module initialization failed ({failure.errno})", "err")
            return failure.errno, ""
        self.log.tdx("module initialized")
        return 0, ""


def _size(n: int) -> str:
    for unit, name in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit} {name}"
    return f"{n} B"


def tdx_enable(session: Session, *, use_tdx: bool = True) -> BringUp:
    """Run the kernel's bring-up on `session` (a fresh one: its module in SYSINIT_PENDING)."""
    run = _Run(session, use_tdx)
    t0 = time.perf_counter()
    err, refused = run.run()
    wall = time.perf_counter() - t0
    run.log.note(f"bring-up took {wall:.3f} s: {len(run.host.calls)} SEAMCALLs through "
                 f"{session.asm[0].name}; module state {module_state(session)}")
    return BringUp(
        platform=session.platform.name, abi=session.module.abi, use_tdx=use_tdx, errno=err,
        refused=refused, state=module_state(session), log=tuple(run.log.lines),
        calls=tuple(run.host.calls), keyids=run.keyids, sysinfo=run.sysinfo,
        memlist=tuple(run.memlist), tdmrs=tuple(run.tdmrs), pamt_kb=pamt_kb(run.tdmrs),
        key_config_lps=tuple(run.key_lps), wall_s=wall, session=session)


def bring_up(platform: Platform | str | Path | None = None, *, abi: str | None = None,
             inject: str | None = None, use_tdx: bool = True,
             module_binary: str | Path | None = None) -> BringUp:
    """A new Session (one emulated LP per platform LP, the shipped stub) and its bring-up."""
    session = Session(platform=as_platform(platform), abi=abi, inject=inject,
                      module_binary=module_binary)
    return tdx_enable(session, use_tdx=use_tdx)


__all__ = ["BringUp", "KeyIds", "bring_up", "tdx_enable"]
