# SPDX-License-Identifier: MIT
"""The v5-2022 kernel's TDH.SYS.INFO: TDSYSINFO_STRUCT, the CMR array, and check_cmrs().

Spec: [PATCH v5 11/22] "x86/virt/tdx: Get information about TDX module and TDX-capable
memory" (tdx_get_sysinfo(), check_cmrs(), print_cmrs()): TDH.SYS.INFO with RCX/RDX = the
1024-byte TDSYSINFO_STRUCT, R8/R9 = the 32-entry CMR_INFO array (512-aligned); any failure
-EFAULT; R9 out is the number of entries written; the module line printed; then the CMRs
checked: sorted and non-overlapping up to the first null entry, no valid entry after a null
one, at least one valid entry (else "Firmware bug: ..." after every entry as BIOS-CMR, -EINVAL),
and the checked ones printed as Kernel-checked-CMR.  [PATCH v5 12/22]: every memblock region
above 1 MiB must lie inside one CMR ("... is not fully convertible memory", -EINVAL).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

from seamemu.kernel.cmr_read import TDH_SYS_INFO, decode_sys_info, sys_info_buffers
from seamemu.kernel.klog import KernelFailure, KernelLog
from seamemu.kernel.metadata_read import TdxSysInfo
from seamemu.kernel.wrappers import KernelSeamcall


def _print_cmrs(log: KernelLog, cmrs: Sequence[tuple[int, int]], name: str) -> None:
    for base, size in cmrs:
        log.tdx(f"{name} : [0x{base:x}, 0x{base + size:x})")


def check_cmrs(log: KernelLog, cmrs: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The CMRs up to the first null entry, after the v5 kernel's sanity checks."""
    def bug(what: str) -> KernelFailure:
        _print_cmrs(log, cmrs, "BIOS-CMR")
        log.tdx(f"Firmware bug: {what}", "err")
        return KernelFailure(-errno.EINVAL)

    i = 0
    while i < len(cmrs) and cmrs[i][1]:
        if i and sum(cmrs[i - 1]) > cmrs[i][0]:
            raise bug("CMRs not in address ascending order.")
        i += 1
    if any(size for _base, size in cmrs[i + 1:]):
        raise bug("invalid CMR(s) before valid CMRs.")
    if i == 0:
        raise bug("No valid CMR.")
    checked = tuple(cmrs[:i])
    _print_cmrs(log, checked, "Kernel-checked-CMR")
    return checked


def tdx_get_sysinfo(ks: KernelSeamcall, lp: int) -> TdxSysInfo:
    """TDH.SYS.INFO through the v5 seamcall() (output struct passed), decoded and checked."""
    bufs = sys_info_buffers(ks.port)
    i = bufs.inputs
    sret, out = ks.seamcall(TDH_SYS_INFO, i["rcx"], i["rdx"], i["r8"], i["r9"], out=True, lp=lp)
    if sret:
        raise KernelFailure(-errno.EFAULT)
    si, entries = decode_sys_info(ks.port, bufs, out["r9"])
    # The v5 format string ends without a newline; the next message starts a new line.
    ks.log.tdx(f"TDX module: vendor_id 0x{si['vendor_id']:x}, major_version "
               f"{si['major_version']}, minor_version {si['minor_version']}, build_date "
               f"{si['build_date']}, build_num {si['build_num']}")
    cmrs = check_cmrs(ks.log, entries)
    entry = si["pamt_entry_size"]          # one size for all three page sizes in TDX 1.0
    return TdxSysInfo(method="TDH.SYS.INFO", max_tdmrs=si["max_tdmrs"],
                      max_reserved_per_tdmr=si["max_reserved_per_tdmr"],
                      pamt_entry_sizes=(entry, entry, entry),
                      version=(si["major_version"], si["minor_version"], 0),
                      cmrs=cmrs, fields=si)


def check_memblock_tdx_convertible(log: KernelLog, blocks: Sequence[tuple[int, int]],
                                   cmrs: Sequence[tuple[int, int]]) -> None:
    """Each memory block [start, end) must lie inside a single CMR."""
    for start, end in blocks:
        if not any(b <= start and end <= b + s for b, s in cmrs):
            log.tdx(f"[0x{start:x}, 0x{end:x}) is not fully convertible memory", "err")
            raise KernelFailure(-errno.EINVAL)


__all__ = ["check_cmrs", "check_memblock_tdx_convertible", "tdx_get_sysinfo"]
