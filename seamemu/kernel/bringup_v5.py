# SPDX-License-Identifier: MIT
"""The v5-2022 series' bring-up: boot-time SEAMRR detection, then tdx_init() on demand.

Spec: [PATCH v5 NN/22] "TDX host kernel support" (Kai Huang, June 2022), pr_fmt "tdx: ":
- 01/22 tdx_early_detect() (early_initcall): IA32_MTRRCAP bit 15 and IA32_SEAMRR_PHYS_MASK
  LOCK|ENABLED on the boot CPU ("SEAMRR enabled."), then the KeyIDs ("TDX private KeyID range:
  [%u, %u).", a WARN_ON when there are fewer than two), "TDX enabled by BIOS.".
- 06/22 tdx_init(): -ENODEV without TDX; every MADT-enabled CPU must be online and no MADT
  entry disabled (`disabled_cpus || num_online_cpus() != num_processors`: "Unable to
  initialize the TDX module when there's offline CPU(s)." -EINVAL); -ENODEV from
  init_tdx_module() is "TDX module is not loaded."; any other failure is "Failed to initialize
  TDX module.  Shut it down.", TDH.SYS.LP.SHUTDOWN on every online CPU (08/22) and -EFAULT;
  success is "TDX module initialized.".
- init_tdx_module(): 09/22 TDH.SYS.INIT (VMfailInvalid: -ENODEV, else -EFAULT); 10/22
  TDH.SYS.LP.INIT on every online CPU at once; 11/22 TDH.SYS.INFO and check_cmrs(); 12/22
  memblock inside the CMRs; 13-16/22 TDMRs, PAMTs (one entry size), reserved areas; 17/22
  the first TDX KeyID as global KeyID; 18/22 TDH.SYS.CONFIG (PA array ALIGN(n * 8, 512));
  19/22 WBINVD and TDH.SYS.KEY.CONFIG on one CPU per package, one by one, no retry; 20/22
  TDH.SYS.TDMR.INIT until RDX reaches the TDMR's end; "%lu pages allocated for PAMT.".
Every SEAMCALL goes through seamcall() (wrappers.py): no retry, no errno of its own.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping

from seamemu.arch.kernel import TDX_SEAMCALL_VMFAILINVALID
from seamemu.arch.leaves import (
    TDH_SYS_CONFIG,
    TDH_SYS_INIT,
    TDH_SYS_LP_INIT,
)
from seamemu.kernel.bringup import KeyIds, Run
from seamemu.kernel.detection import platform_detection
from seamemu.kernel.klog import KernelFailure
from seamemu.kernel.tdmr import (
    V5_STYLE,
    PamtAllocator,
    align_up,
    build_tdx_memlist,
    construct_tdmrs,
    pamt_kb,
    tdmr_info_slot,
)
from seamemu.kernel.tdsysinfo import check_memblock_tdx_convertible, tdx_get_sysinfo
from seamemu.kernel.wrappers import TDH_SYS_LP_SHUTDOWN, KernelOops

TDMR_INFO_PA_ARRAY_ALIGNMENT = 512


class V5Run(Run):
    # -- boot: tdx_early_detect() -----------------------------------------------------------
    def early_detect(self) -> KeyIds | None:
        found = platform_detection(self.p, self.gen)     # kernel.detection, 01/22
        for line in found.lines:
            self.log.kernel(line)
        for note in found.notes:
            self.log.note(note, "warn")
        if found.keyids is None or not found.enabled:
            return None
        first, count = found.keyids
        self.log.note(f"global KeyID {first} once tdx_init() runs (TDH.SYS.CONFIG R8)")
        return KeyIds(first, count)

    # -- tdx_init() -------------------------------------------------------------------------
    def run(self) -> tuple[int | None, str]:
        self.keyids = self.early_detect()
        if not self.use_tdx:
            self.log.note("--use-tdx off: no caller calls tdx_init(), so the module is never "
                          "touched", "warn")
            return None, "use_tdx=off"
        if self.keyids is None:           # platform_tdx_enabled() is false
            self.log.note("tdx_init() returns -ENODEV without a SEAMCALL", "warn")
            return -errno.ENODEV, "TDX not enabled by BIOS"
        # An empty slot is a MADT entry without the enabled flag: it counts in disabled_cpus.
        offline = sorted(self.p.absent_lps)
        if offline:
            self.log.note(f"CPUs {offline} are not online", "warn")
            self.log.tdx("Unable to initialize the TDX module when there's offline CPU(s).",
                         "err")
            return -errno.EINVAL, "offline CPUs"
        self.log.note("the caller (KVM) did VMXON on every CPU and calls tdx_init()")
        try:
            ret = self.init_tdx_module()
        except KernelOops as oops:
            self.oops = oops.report
            self.log.note(f"{oops}: the kernel oopses", "err")
            return None, "oops"
        if ret == -errno.ENODEV:
            self.log.tdx("TDX module is not loaded.")
            return ret, ""
        if ret:
            self.log.tdx("Failed to initialize TDX module.  Shut it down.")
            self.shutdown()
            return -errno.EFAULT, ""
        self.log.tdx("TDX module initialized.")
        return 0, ""

    def shutdown(self) -> None:
        """08/22 shutdown_tdx_module(): TDH.SYS.LP.SHUTDOWN on every online CPU."""
        for lp in self.online:
            self.ks.seamcall(TDH_SYS_LP_SHUTDOWN, out=True, lp=lp)

    def init_tdx_module(self) -> int:
        try:
            self._init_tdx_module()
        except KernelFailure as failure:
            return failure.errno
        return 0

    def _init_tdx_module(self) -> None:
        ks, lp = self.ks, self.online[0]
        sret, _ = ks.seamcall(TDH_SYS_INIT, out=False, lp=lp)     # tdx_module_init_global()
        if sret == TDX_SEAMCALL_VMFAILINVALID:
            raise KernelFailure(-errno.ENODEV)
        if sret:
            raise KernelFailure(-errno.EFAULT)
        failed = [cpu for cpu in self.online                     # on_each_cpu(): all run
                  if ks.seamcall(TDH_SYS_LP_INIT, out=True, lp=cpu)[0]]
        if failed:
            raise KernelFailure(-errno.EFAULT)
        self.sysinfo = info = tdx_get_sysinfo(ks, lp)
        self.memlist = build_tdx_memlist(self.p)                  # memblock above 1 MiB
        check_memblock_tdx_convertible(self.log, [(m.start, m.end) for m in self.memlist],
                                       info.cmrs)
        self.log_memlist()
        slot = tdmr_info_slot(info.max_reserved_per_tdmr)
        array_pa = self.port.alloc(slot * info.max_tdmrs, 4096)   # alloc_pages_exact()
        mem = self.port.machine.memory
        self.tdmrs = construct_tdmrs(
            self.memlist, max_tdmrs=info.max_tdmrs, max_reserved=info.max_reserved_per_tdmr,
            entry_sizes=info.pamt_entry_sizes,
            allocator=PamtAllocator(self.memlist, [(0, mem.scratch_end)]), log=self.log,
            style=V5_STYLE)
        for i, t in enumerate(self.tdmrs):
            mem.write(array_pa + i * slot, t.pack())
            self.log_tdmr(i, t, info.pamt_entry_sizes)
        try:
            self.config_tdx_module([array_pa + i * slot for i in range(len(self.tdmrs))])
            self.log.note("wbinvd_on_all_cpus(): PAMT cache lines of KeyID 0 flushed")
            self.config_global_keyid()
            self.init_tdmrs()
        except KernelFailure:
            self.log.note("error path: wbinvd_on_all_cpus(); PAMTs freed")
            raise
        self.log.tdx(f"{pamt_kb(self.tdmrs) * 1024 // 4096} pages allocated for PAMT.")

    def config_tdx_module(self, entry_pas: list[int]) -> None:
        size = align_up(len(entry_pas) * 8, TDMR_INFO_PA_ARRAY_ALIGNMENT)
        data = b"".join(pa.to_bytes(8, "little") for pa in entry_pas).ljust(size, b"\0")
        array_pa = self.port.alloc(size, TDMR_INFO_PA_ARRAY_ALIGNMENT, data)
        keyid = self.keyids.global_keyid if self.keyids else 0
        sret, _ = self.ks.seamcall(TDH_SYS_CONFIG, array_pa, len(entry_pas), keyid, out=False,
                                   lp=self.online[0])
        if sret:
            raise KernelFailure(-errno.EFAULT)

    def seamcall(self, fn: int, lp: int, ret: bool, **regs: int) -> tuple[int, Mapping[str, int]]:
        # The series' seamcall(fn, rcx, ...): any failure is -EFAULT (TDH.SYS.KEY.CONFIG per
        # package by seamcall_on_each_package_serialized())
        sret, out = self.ks.seamcall(fn, regs.get("rcx", 0), out=True, lp=lp)
        return (-errno.EFAULT if sret else 0), out


__all__ = ["V5Run"]
