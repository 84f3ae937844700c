# SPDX-License-Identifier: MIT
"""The global metadata the TDH.SYS.RD kernels read before building TDMRs, field by field.

Each table is the kernel's own list, in its order, with the field IDs as its source writes
them (one TDH.SYS.RD per field; RDX = field ID in, R8 = value out).

- 6.8 (tdx.c at v6.8, get_tdx_tdmr_sysinfo()): the five TDMR fields through
  read_sys_metadata_field16(), which refuses (WARN, -EINVAL, no SEAMCALL) a field whose
  element size code is not 16-bit; the first failure ends the read.  Nothing is printed.
- mainline (tdx_global_metadata.c 01f492e1817e get_tdx_sys_info()): groups version, features,
  tdmr, td_ctrl, td_conf; within a group the first failure stops the reads, and each later
  group is skipped; "Module version: %u.%u.%02u" is printed after the version group whatever
  it returned; td_conf refuses (-EINVAL) a NUM_CPUID_CONFIG above its 128-entry arrays before
  reading CPUID_CONFIG_LEAVES[i], then CPUID_CONFIG_VALUES[i][0..1].  tdx.c check_features()
  then needs TDX_FEATURES0.NO_RBP_MOD (bit 18).
A module that lacks a field answers TDX_METADATA_FIELD_ID_INCORRECT, which the kernel prints
and turns into -EIO: that is how a kernel refuses a module version too old for it.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field

from seamemu.arch.leaves import TDH_SYS_RD
from seamemu.arch.metadata import ELEMENT_SIZE_CODE, get_bits
from seamemu.arch.status import STATUS_BASE_MASK, TdxStatus
from seamemu.jsonout import JsonRecord, hex64, json_as
from seamemu.kernel.klog import KernelFailure
from seamemu.kernel.wrappers import KernelSeamcall

TDX_FEATURES0_NO_RBP_MOD = 1 << 18      # arch/x86/virt/vmx/tdx/tdx.h
KERNEL_MAX_CPUID_CONFIGS = 128          # tdx_sys_info_td_conf.cpuid_config_leaves[128]
CPUID_CONFIG_LEAVES = 0x9900000300000400  # + i
CPUID_CONFIG_VALUES = 0x9900000300000500  # + 2 * i + j
MD_FIELD_ID_ELE_SIZE_16BIT = 1
_FIELD_ID_INCORRECT = int(TdxStatus.TDX_METADATA_FIELD_ID_INCORRECT)


@dataclass(frozen=True)
class Read:
    """One field the kernel reads: its struct member and the field ID it passes in RDX."""

    member: str
    field_id: int
    bits: int = 16                # width of the struct member the value is stored in

    def store(self, value: int) -> int:
        return value & ((1 << self.bits) - 1)


# 6.8: struct tdx_tdmr_sysinfo, in get_tdx_tdmr_sysinfo()'s fields[] order.
TDMR_FIELDS_6_8: tuple[Read, ...] = (
    Read("max_tdmrs", 0x9100000100000008),
    Read("max_reserved_per_tdmr", 0x9100000100000009),
    Read("pamt_4k_entry_size", 0x9100000100000010),
    Read("pamt_2m_entry_size", 0x9100000100000011),
    Read("pamt_1g_entry_size", 0x9100000100000012),
)

_TDMR_FIELD_IDS = frozenset(r.field_id for r in TDMR_FIELDS_6_8)

# mainline: (group, scalar fields) in get_tdx_sys_info()'s order.
MAINLINE_GROUPS: tuple[tuple[str, tuple[Read, ...]], ...] = (
    ("version", (Read("minor_version", 0x0800000100000003),
                 Read("major_version", 0x0800000100000004),
                 Read("update_version", 0x0800000100000005))),
    ("features", (Read("tdx_features0", 0x0A00000300000008, 64),)),
    ("tdmr", TDMR_FIELDS_6_8),
    ("td_ctrl", (Read("tdr_base_size", 0x9800000100000000),
                 Read("tdcs_base_size", 0x9800000100000100),
                 Read("tdvps_base_size", 0x9800000100000200))),
    ("td_conf", (Read("attributes_fixed0", 0x1900000300000000, 64),
                 Read("attributes_fixed1", 0x1900000300000001, 64),
                 Read("xfam_fixed0", 0x1900000300000002, 64),
                 Read("xfam_fixed1", 0x1900000300000003, 64),
                 Read("num_cpuid_config", 0x9900000100000004),
                 Read("max_vcpus_per_td", 0x9900000100000008))),
)


@dataclass(frozen=True)
class TdxSysInfo(JsonRecord):
    """The module facts a bring-up used, and every field it read on the way."""

    JSON_KEYS = ("method", "version", "tdx_features0", "max_tdmrs", "max_reserved_per_tdmr",
                 "pamt_entry_sizes")

    method: str                                   # "TDH.SYS.RD" or "TDH.SYS.INFO"
    max_tdmrs: int
    max_reserved_per_tdmr: int
    pamt_entry_sizes: tuple[int, int, int]        # 4K, 2M, 1G
    version: tuple[int, int, int] | None = field(     # major, minor, update (None: not read)
        default=None, metadata=json_as(lambda v: f"{v[0]}.{v[1]}.{v[2]:02d}"))
    tdx_features0: int | None = field(default=None, metadata=json_as(hex64))  # None: not read
    cmrs: tuple[tuple[int, int], ...] = ()        # (base, size) the kernel checked (v5 only)
    fields: Mapping[str, int] = field(default_factory=dict)


def read_sys_metadata_field(ks: KernelSeamcall, field_id: int, lp: int,
                            member: str = "") -> tuple[int, int]:
    """TDH.SYS.RD through seamcall_prerr_ret(): (0 or -errno, R8)."""
    ret, out = ks.prerr(TDH_SYS_RD, {"rdx": field_id}, lp=lp, ret=True)
    if ret and ks.calls and ks.calls[-1].rax & STATUS_BASE_MASK == _FIELD_ID_INCORRECT:
        _too_old(ks, field_id, member)
    return ret, out.get("r8", 0)


def _too_old(ks: KernelSeamcall, field_id: int, member: str) -> None:
    """seamemu's own line (the kernel prints only the failed SEAMCALL): which field the module
    lacks, and whether a generation that does not read it exists."""
    what = f"{member} (field 0x{field_id:016x})" if member else f"field 0x{field_id:016x}"
    hint = "" if field_id in _TDMR_FIELD_IDS or ks.gen.name == "6.8" else \
        "; kernel 6.8 reads only the TDMR fields (--kernel 6.8)"
    ks.log.note(f"this TDX module has no {what}, which kernel {ks.gen.name} reads: the "
                f"module is too old for this kernel{hint}", "warn")


def _read_all(ks: KernelSeamcall, reads: tuple[Read, ...], lp: int, got: dict[str, int]) -> int:
    """The generated `if (!ret && !(ret = read(...)))` chain: stops at the first failure."""
    for r in reads:
        ret, value = read_sys_metadata_field(ks, r.field_id, lp, r.member)
        if ret:
            return ret
        got[r.member] = r.store(value)
    return 0


def _tdmr_info(method: str, got: Mapping[str, int], **kw) -> TdxSysInfo:
    return TdxSysInfo(
        method=method, max_tdmrs=got["max_tdmrs"],
        max_reserved_per_tdmr=got["max_reserved_per_tdmr"],
        pamt_entry_sizes=(got["pamt_4k_entry_size"], got["pamt_2m_entry_size"],
                          got["pamt_1g_entry_size"]), fields=dict(got), **kw)


def get_tdx_tdmr_sysinfo(ks: KernelSeamcall, lp: int) -> TdxSysInfo:
    """6.8: the five TDMR fields, each checked to be a 16-bit field first."""
    got: dict[str, int] = {}
    for r in TDMR_FIELDS_6_8:
        if get_bits(r.field_id, ELEMENT_SIZE_CODE) != MD_FIELD_ID_ELE_SIZE_16BIT:
            raise KernelFailure(-errno.EINVAL)     # WARN_ON_ONCE in read_sys_metadata_field16
        ret, value = read_sys_metadata_field(ks, r.field_id, lp, r.member)
        if ret:
            raise KernelFailure(ret)
        got[r.member] = r.store(value)
    return _tdmr_info("TDH.SYS.RD", got)


def _td_conf(ks: KernelSeamcall, reads: tuple[Read, ...], lp: int, got: dict[str, int]) -> int:
    ret = _read_all(ks, reads, lp, got)
    n = got.get("num_cpuid_config", 0)
    if n > KERNEL_MAX_CPUID_CONFIGS:
        return -errno.EINVAL
    wanted = [(f"cpuid_config_leaves[{i}]", CPUID_CONFIG_LEAVES + i) for i in range(n)]
    wanted += [(f"cpuid_config_values[{i}][{j}]", CPUID_CONFIG_VALUES + i * 2 + j)
               for i in range(n) for j in range(2)]
    for name, field_id in wanted:       # u64 members; every read guarded by !ret
        if ret:
            break
        ret, value = read_sys_metadata_field(ks, field_id, lp, name)
        if not ret:
            got[name] = value
    return ret


def get_tdx_sys_info(ks: KernelSeamcall, lp: int) -> TdxSysInfo:
    """mainline: every group in order, "Module version" printed after the first."""
    got: dict[str, int] = {}
    ret = 0
    for group, reads in MAINLINE_GROUPS:
        if ret:
            break
        ret = _td_conf(ks, reads, lp, got) if group == "td_conf" else \
            _read_all(ks, reads, lp, got)
        if group == "version":
            ks.log.tdx(f"Module version: {got.get('major_version', 0)}."
                       f"{got.get('minor_version', 0)}.{got.get('update_version', 0):02d}")
    if ret:
        raise KernelFailure(ret)
    return _tdmr_info("TDH.SYS.RD", got,
                      version=(got["major_version"], got["minor_version"],
                               got["update_version"]),
                      tdx_features0=got["tdx_features0"])


def check_features(ks: KernelSeamcall, info: TdxSysInfo) -> None:
    """mainline tdx.c check_features(): refuse a module that may clobber RBP."""
    if not (info.tdx_features0 or 0) & TDX_FEATURES0_NO_RBP_MOD:
        ks.log.tdx("frame pointer (RBP) clobber bug present, upgrade TDX module", "err")
        raise KernelFailure(-errno.EINVAL)


def mainline_field_ids(num_cpuid_config: int) -> list[int]:
    """Every field ID mainline reads from a module answering `num_cpuid_config`, in order."""
    ids = [r.field_id for _g, reads in MAINLINE_GROUPS for r in reads]
    ids += [CPUID_CONFIG_LEAVES + i for i in range(num_cpuid_config)]
    ids += [CPUID_CONFIG_VALUES + 2 * i + j for i in range(num_cpuid_config) for j in range(2)]
    return ids


__all__ = [
    "KERNEL_MAX_CPUID_CONFIGS",
    "MAINLINE_GROUPS",
    "Read",
    "TDMR_FIELDS_6_8",
    "TDX_FEATURES0_NO_RBP_MOD",
    "TdxSysInfo",
    "check_features",
    "get_tdx_sys_info",
    "get_tdx_tdmr_sysinfo",
    "mainline_field_ids",
    "read_sys_metadata_field",
]
