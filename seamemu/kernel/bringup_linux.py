# SPDX-License-Identifier: MIT
"""The merged kernels' bring-up: 6.8's caller-driven tdx_enable() and mainline's boot-time one.

Both (tdx.c at v6.8; mainline tdx.c of 0eaed89c18ae's tree):
- tdx_init() at boot: IA32_MKTME_KEYID_PARTITIONING (silent when it has no TDX KeyIDs),
  "BIOS enabled: private KeyID range [%u, %u)", fewer than 2 -> "initialization failed: too few
  private KeyIDs available.", hibernation must be off, the memory notifier, "Disable ACPI S3.
  ...", the first TDX KeyID kept as the global KeyID.
- tdx_cpu_enable() on every online CPU: TDH.SYS.INIT once (cached, "module not loaded" on
  -ENODEV), then TDH.SYS.LP.INIT.
- init_tdx_module(), which differ:
    6.8:      memlist, get_tdx_tdmr_sysinfo() (5 x TDH.SYS.RD), TDMRs, TDH.SYS.CONFIG,
              WBINVD + TDH.SYS.KEY.CONFIG per package, TDH.SYS.TDMR.INIT loops, "%lu KB
              allocated for PAMT"; the error path after CONFIG always resets the PAMTs.
    mainline: get_tdx_sys_info() (tdx_global_metadata.c, "Module version"), check_features()
              (NO_RBP_MOD), then the same as 6.8; PAMTs reset only with X86_BUG_TDX_PW_MCE.
- the caller: 6.8 has none in tree (KVM's came in 6.16): the caller does VMXON and
  tdx_cpu_enable() everywhere, then tdx_enable() ("module initialized" / "module
  initialization failed (%d)").  mainline: tdx_enable() is a subsys_initcall that refuses a
  platform without TDX ("TDX not supported by the host platform"), sets up the
  "virt/tdx:online" cpuhp state (VMXON through x86_virt_get_ref(), then tdx_cpu_enable() on
  every online CPU) and prints "TDX-Module initialized" / "TDX-Module initialization failed
  (%d)".
"""

from __future__ import annotations

import errno
from collections.abc import Mapping

from seamemu.arch.leaves import (
    TDH_SYS_CONFIG,
    TDH_SYS_INIT,
    TDH_SYS_LP_INIT,
)
from seamemu.kernel.bringup import KeyIds, Run
from seamemu.kernel.detection import platform_detection
from seamemu.kernel.generations import FLOW_BOOT
from seamemu.kernel.klog import KernelFailure, errno_name
from seamemu.kernel.metadata_read import check_features, get_tdx_sys_info, get_tdx_tdmr_sysinfo
from seamemu.kernel.tdmr import (
    PamtAllocator,
    build_tdx_memlist,
    construct_tdmrs,
    pamt_kb,
    tdmr_info_slot,
)
from seamemu.kernel.wrappers import KernelOops

TDMR_INFO_PA_ARRAY_ALIGNMENT = 512


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


class LinuxRun(Run):
    sysinit_done = False
    sysinit_ret = 0

    # -- boot: tdx_init() -------------------------------------------------------------------
    def tdx_init(self) -> KeyIds | None:
        found = platform_detection(self.p, self.gen)     # kernel.detection
        for line in found.lines:
            self.log.kernel(line, "info" if found.enabled else "err")
        for note in found.notes:
            self.log.note(note, "warn")
        if found.keyids is None or not found.enabled:
            return None
        first, count = found.keyids
        self.log.note("hibernation_available() is false here (seamemu boots as with "
                      "'nohibernate'); the memory notifier is registered")
        self.log.tdx("Disable ACPI S3. Turn off TDX in the BIOS to use ACPI S3.")
        self.log.note(f"global KeyID {first} (TDH.SYS.CONFIG R8); guest KeyIDs "
                      f"[{first + 1}, {first + count}) ({count - 1})")
        return KeyIds(first, count)

    # -- tdx_cpu_enable() -------------------------------------------------------------------
    def cpu_enable(self, lp: int) -> int:
        if not self.sysinit_done:         # try_init_module_global(): once, result cached
            self.sysinit_ret, _ = self.ks.prerr(TDH_SYS_INIT, {"rcx": 0}, lp=lp)
            if self.sysinit_ret == -errno.ENODEV:
                self.log.tdx("module not loaded", "err")
            self.sysinit_done = True
        if self.sysinit_ret:
            return self.sysinit_ret
        ret, _ = self.ks.prerr(TDH_SYS_LP_INIT, lp=lp)
        return ret

    # -- init_tdx_module() ------------------------------------------------------------------
    def init_tdx_module(self) -> None:
        lp = self.online[0]
        if self.gen.flow == FLOW_BOOT:
            self.sysinfo = get_tdx_sys_info(self.ks, lp)
            check_features(self.ks, self.sysinfo)
            self.memlist = build_tdx_memlist(self.p)
        else:
            self.memlist = build_tdx_memlist(self.p)
            self.sysinfo = get_tdx_tdmr_sysinfo(self.ks, lp)
        self.log_memlist()
        info = self.sysinfo
        slot = tdmr_info_slot(info.max_reserved_per_tdmr)
        list_pa = self.port.alloc(slot * info.max_tdmrs, 4096)   # alloc_pages_exact(), zeroed
        mem = self.port.machine.memory
        avoid = [(0, mem.scratch_end)]    # the emulator's image, stacks and scratch
        self.tdmrs = construct_tdmrs(
            self.memlist, max_tdmrs=info.max_tdmrs, max_reserved=info.max_reserved_per_tdmr,
            entry_sizes=info.pamt_entry_sizes, allocator=PamtAllocator(self.memlist, avoid),
            log=self.log)
        for i, t in enumerate(self.tdmrs):
            mem.write(list_pa + i * slot, t.pack())
            self.log_tdmr(i, t, info.pamt_entry_sizes)
        self.config_tdx_module([list_pa + i * slot for i in range(len(self.tdmrs))])
        try:
            self.config_global_keyid()
            self.init_tdmrs()
        except KernelFailure:
            reset = self.gen.flow != FLOW_BOOT or self.p.tdx_pw_mce_bug
            self.log.note("error path: wbinvd_on_all_cpus()" +
                          ("; PAMTs converted back with MOVDIR64B" if reset else "") +
                          "; PAMTs freed")
            raise
        self.log.tdx(f"{pamt_kb(self.tdmrs)} KB allocated for PAMT")

    def config_tdx_module(self, entry_pas: list[int]) -> None:
        n = len(entry_pas)
        size = max(_next_pow2(n * 8), TDMR_INFO_PA_ARRAY_ALIGNMENT)
        data = b"".join(pa.to_bytes(8, "little") for pa in entry_pas).ljust(size, b"\0")
        array_pa = self.port.alloc(size, size, data)    # kzalloc: power-of-two sizes align
        keyid = self.keyids.global_keyid if self.keyids else 0
        ret, _ = self.ks.prerr(TDH_SYS_CONFIG, {"rcx": array_pa, "rdx": n, "r8": keyid},
                               lp=self.online[0])
        if ret:
            self.log.note("error path: PAMTs freed")
            raise KernelFailure(ret)

    def seamcall(self, fn: int, lp: int, ret: bool, **regs: int) -> tuple[int, Mapping[str, int]]:
        # seamcall_prerr[_ret](): sc_retry() with the error printed (KEY.CONFIG through
        # smp_call_on_cpu(), one package at a time)
        return self.ks.prerr(fn, regs, lp=lp, ret=ret)

    def config_global_keyid(self) -> None:
        self.log.note("wbinvd_on_all_cpus(): PAMT cache lines of KeyID 0 flushed")
        super().config_global_keyid()

    # -- the callers ------------------------------------------------------------------------
    def enable_all_cpus(self) -> tuple[int, int]:
        """tdx_cpu_enable() on each online CPU in turn: (0 or the first -errno, its LP)."""
        for lp in self.online:
            ret = self.cpu_enable(lp)
            if ret:
                return ret, lp
        return 0, -1

    def tdx_enable(self) -> tuple[int, str]:
        boot = self.gen.flow == FLOW_BOOT
        try:
            self.init_tdx_module()
        except KernelFailure as failure:
            what = "TDX-Module initialization failed" if boot else \
                "module initialization failed"
            self.log.tdx(f"{what} ({failure.errno})", "err")
            return failure.errno, ""
        self.log.tdx("TDX-Module initialized" if boot else "module initialized")
        return 0, ""

    def run(self) -> tuple[int | None, str]:
        """The whole bring-up: (errno of the enabling call or None, why it stopped early)."""
        if not self.use_tdx:
            self.log.note("--use-tdx off: played as a kernel built without "
                          "CONFIG_INTEL_TDX_HOST (no TDX host code, nothing printed, no "
                          "SEAMCALL)", "warn")
            return None, "use_tdx=off"
        self.keyids = self.tdx_init()
        try:
            return self._at_boot() if self.gen.flow == FLOW_BOOT else self._on_demand()
        except KernelOops as oops:
            self.oops = oops.report
            self.log.note(f"{oops}: the kernel oopses", "err")
            return None, "oops"

    def _on_demand(self) -> tuple[int | None, str]:
        """6.8: the caller (KVM out of tree at the time) enables every CPU, then tdx_enable()."""
        if self.keyids is None:
            self.log.note("no X86_FEATURE_TDX_HOST_PLATFORM: tdx_cpu_enable() and "
                          "tdx_enable() return -ENODEV without a SEAMCALL", "warn")
            return -errno.ENODEV, "TDX not enabled by BIOS"
        return self._enable_cpus_then_module(
            "the caller (6.8 has no in-tree one; seamemu plays it) did VMXON on every online "
            "CPU and now runs tdx_cpu_enable() on each",
            "the caller does not call tdx_enable()")

    def _at_boot(self) -> tuple[int | None, str]:
        """mainline: tdx_enable() runs at subsys_initcall, bringing every CPU up itself."""
        if self.keyids is None:
            self.log.tdx("TDX not supported by the host platform", "err")
            return -errno.ENODEV, "TDX not enabled by BIOS"
        return self._enable_cpus_then_module(
            'cpuhp "virt/tdx:online": VMXON (x86_virt_get_ref) and tdx_cpu_enable() on every '
            "online CPU",
            "cpuhp_setup_state() fails and tdx_enable() returns it without a message")

    def _enable_cpus_then_module(self, how: str, if_one_fails: str) -> tuple[int | None, str]:
        """tdx_cpu_enable() on every online CPU (`how` says who runs it), then tdx_enable()."""
        self.log.note(how)
        ret, lp = self.enable_all_cpus()
        if ret:
            self.log.note(f"tdx_cpu_enable() on LP {lp} failed ({errno_name(ret)}): "
                          f"{if_one_fails}", "err")
            return ret, "tdx_cpu_enable() failed"
        return self.tdx_enable()


__all__ = ["LinuxRun"]
