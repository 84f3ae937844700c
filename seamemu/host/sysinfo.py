# SPDX-License-Identifier: MIT
"""What the kernel reads from the module before building TDMRs: version, features, TDMR limits,
TD control/config sizes and the CMRs, through TDH.SYS.RD (1.5) or TDH.SYS.INFO (1.0).

Spec: Linux arch/x86/virt/vmx/tdx/tdx_global_metadata.c (01f492e) get_tdx_sys_info():
groups version -> features -> tdmr -> td_ctrl -> td_conf, one TDH.SYS.RD per field, the
first failure ends the read, "Module version: %u.%u.%02u" printed after the version group,
-EINVAL when NUM_CPUID_CONFIG exceeds the kernel's 128-entry arrays; tdx.c check_features()
(TDX_FEATURES0.NO_RBP_MOD, bit 18).  CMRs on 1.5: the 2024 series get_tdx_sys_info_cmr()
(ML; NUM_CMRS, then CMR_BASE[i] and CMR_SIZE[i]).  1.0: the pre-TDH.SYS.RD kernel's
get_tdx_sysinfo() and print_cmrs() (Icegrave0391/linux-intel-tdx-pks-kvm tdx.c, ece1990):
TDSYSINFO_STRUCT (1024 B, 1024-aligned) and a 32-entry CMR_INFO array (512-aligned), the
TDMR limits from TDSYSINFO_STRUCT.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field

from seamemu.arch.leaves import TDH_SYS_INFO, TDH_SYS_RD
from seamemu.arch.metadata import field_id_name, global_field
from seamemu.arch.sysinfo import (
    CMR_INFO_ARRAY_ALIGNMENT,
    CMR_INFO_ENTRY_SIZE,
    MAX_CMRS,
    TDSYSINFO_STRUCT,
    TDSYSINFO_STRUCT_ALIGNMENT,
    TDSYSINFO_STRUCT_SIZE,
    unpack_cmr_array,
)
from seamemu.host.klog import KernelFailure
from seamemu.host.seamcall import HostSeamcall

TDX_FEATURES0_NO_RBP_MOD = 1 << 18          # Spec: Linux arch/x86/virt/vmx/tdx/tdx.h
KERNEL_MAX_CPUID_CONFIGS = 128              # tdx_sys_info_td_conf.cpuid_config_leaves[128]

# The kernel's groups, in its order.  MAX_VCPUS_PER_TD (td_conf, 0x9900000100000008) is left
# out: the modelled 1.5.01 module has no such field, and the kernel's read would fail on it.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("version", ("MINOR_VERSION", "MAJOR_VERSION", "UPDATE_VERSION")),
    ("features", ("TDX_FEATURES0",)),
    ("tdmr", ("MAX_TDMRS", "MAX_RESERVED_PER_TDMR", "PAMT_4K_ENTRY_SIZE", "PAMT_2M_ENTRY_SIZE",
              "PAMT_1G_ENTRY_SIZE")),
    ("td_ctrl", ("TDR_BASE_SIZE", "TDCS_BASE_SIZE", "TDVPS_BASE_SIZE")),
    ("td_conf", ("ATTRIBUTES_FIXED0", "ATTRIBUTES_FIXED1", "XFAM_FIXED0", "XFAM_FIXED1",
                 "NUM_CPUID_CONFIG")),
)


@dataclass(frozen=True)
class TdxSysInfo:
    """The module facts the bring-up uses, and every field read on the way."""

    method: str                                   # "TDH.SYS.RD" or "TDH.SYS.INFO"
    major: int
    minor: int
    update: int
    tdx_features0: int | None                     # None on 1.0: no such field
    max_tdmrs: int
    max_reserved_per_tdmr: int
    pamt_entry_sizes: tuple[int, int, int]        # 4K, 2M, 1G
    cmrs: tuple[tuple[int, int], ...]             # non-null, up to the first null entry
    fields: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "method": self.method, "version": f"{self.major}.{self.minor}.{self.update:02d}",
            "tdx_features0": None if self.tdx_features0 is None else
            f"0x{self.tdx_features0:016x}",
            "max_tdmrs": self.max_tdmrs, "max_reserved_per_tdmr": self.max_reserved_per_tdmr,
            "pamt_entry_sizes": list(self.pamt_entry_sizes),
        }


def _nonnull(pairs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out = []
    for base, size in pairs:
        if not size:            # print_cmrs(): tail entries are empty; stop at the first
            break
        out.append((base, size))
    return tuple(out)


def _print_cmrs(host: HostSeamcall, cmrs: tuple[tuple[int, int], ...]) -> None:
    for base, size in cmrs:
        host.log.tdx(f"CMR: [0x{base:x}, 0x{base + size:x})")


def _read(host: HostSeamcall, field_id: int, lp: int, got: dict[str, int]) -> int:
    """read_sys_metadata_field(): TDH.SYS.RD with RDX = field ID; R8 is the value."""
    ret, out = host.prerr(TDH_SYS_RD, {"rdx": field_id}, lp=lp, ret=True)
    if ret:
        raise KernelFailure(ret)
    got[field_id_name(field_id)] = out["r8"]
    return out["r8"]


def get_sys_info_rd(host: HostSeamcall, lp: int) -> TdxSysInfo:
    """1.5: every group through TDH.SYS.RD, then the CMRs."""
    got: dict[str, int] = {}
    for group, names in GROUPS:
        try:
            for name in names:
                _read(host, global_field(name).field_id, lp, got)
        finally:
            if group == "version":       # printed whether or not the group read succeeded
                host.log.tdx(f"Module version: {got.get('MAJOR_VERSION', 0)}."
                             f"{got.get('MINOR_VERSION', 0)}.{got.get('UPDATE_VERSION', 0):02d}")
        if group == "td_conf":
            n = got["NUM_CPUID_CONFIG"]
            if n > KERNEL_MAX_CPUID_CONFIGS:
                raise KernelFailure(-errno.EINVAL)
            for i in range(n):
                _read(host, global_field("CPUID_CONFIG_LEAVES").element_id(i), lp, got)
            for i in range(n):
                for j in range(2):
                    _read(host, global_field("CPUID_CONFIG_VALUES").element_id(i, j), lp, got)
    num = _read(host, global_field("NUM_CMRS").field_id, lp, got)
    if num > MAX_CMRS:
        raise KernelFailure(-errno.EINVAL)
    bases = [_read(host, global_field("CMR_BASE").element_id(i), lp, got) for i in range(num)]
    sizes = [_read(host, global_field("CMR_SIZE").element_id(i), lp, got) for i in range(num)]
    cmrs = _nonnull(list(zip(bases, sizes)))
    _print_cmrs(host, cmrs)
    return TdxSysInfo(
        method="TDH.SYS.RD", major=got["MAJOR_VERSION"], minor=got["MINOR_VERSION"],
        update=got["UPDATE_VERSION"], tdx_features0=got["TDX_FEATURES0"],
        max_tdmrs=got["MAX_TDMRS"], max_reserved_per_tdmr=got["MAX_RESERVED_PER_TDMR"],
        pamt_entry_sizes=(got["PAMT_4K_ENTRY_SIZE"], got["PAMT_2M_ENTRY_SIZE"],
                          got["PAMT_1G_ENTRY_SIZE"]),
        cmrs=cmrs, fields=got)


def get_sys_info_info(host: HostSeamcall, lp: int) -> TdxSysInfo:
    """1.0: one TDH.SYS.INFO filling TDSYSINFO_STRUCT and the CMR_INFO array."""
    s = host.session
    info_pa = s.alloc(TDSYSINFO_STRUCT_SIZE, TDSYSINFO_STRUCT_ALIGNMENT)
    cmr_pa = s.alloc(MAX_CMRS * CMR_INFO_ENTRY_SIZE, CMR_INFO_ARRAY_ALIGNMENT)
    ret, out = host.prerr(TDH_SYS_INFO, {"rcx": info_pa, "rdx": TDSYSINFO_STRUCT_SIZE,
                                         "r8": cmr_pa, "r9": MAX_CMRS}, lp=lp, ret=True)
    if ret:
        raise KernelFailure(ret)
    mem = s.machine.memory
    si = TDSYSINFO_STRUCT.unpack(mem.read(info_pa, TDSYSINFO_STRUCT_SIZE))
    host.log.tdx(f"TDX module: attributes 0x{si['attributes']:x}, vendor_id "
                 f"0x{si['vendor_id']:x}, major_version {si['major_version']}, minor_version "
                 f"{si['minor_version']}, build_date {si['build_date']}, build_num "
                 f"{si['build_num']}")
    cmrs = _nonnull(unpack_cmr_array(mem.read(cmr_pa, MAX_CMRS * CMR_INFO_ENTRY_SIZE), out["r9"]))
    _print_cmrs(host, cmrs)
    entry = si["pamt_entry_size"]
    return TdxSysInfo(
        method="TDH.SYS.INFO", major=si["major_version"], minor=si["minor_version"], update=0,
        tdx_features0=None, max_tdmrs=si["max_tdmrs"],
        max_reserved_per_tdmr=si["max_reserved_per_tdmr"], pamt_entry_sizes=(entry,) * 3,
        cmrs=cmrs, fields={k: v for k, v in si.items() if isinstance(v, int)})


def check_features(host: HostSeamcall, info: TdxSysInfo) -> None:
    """The kernel refuses a module that may clobber RBP (1.5 only: 1.0 has no TDX_FEATURES0)."""
    if info.tdx_features0 is None:
        host.log.note("TDX_FEATURES0 check skipped: a TDX 1.0 module has no TDX_FEATURES0 "
                      "(the kernels that drove 1.0 modules did not check it)")
        return
    if not info.tdx_features0 & TDX_FEATURES0_NO_RBP_MOD:
        host.log.tdx("frame pointer (RBP) clobber bug present, upgrade TDX module", "err")
        raise KernelFailure(-errno.EINVAL)


__all__ = ["GROUPS", "TDX_FEATURES0_NO_RBP_MOD", "TdxSysInfo", "check_features",
           "get_sys_info_info", "get_sys_info_rd"]
