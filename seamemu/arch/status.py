# SPDX-License-Identifier: MIT
"""Completion status codes of the TDX module and the P-SEAMLDR, operand IDs and status classes.

Spec: intel/tdx-module tdx_1.5 include/auto_gen/tdx_error_codes_defs.h (M15, tag TDX_1.5.01,
commit 72d8cff; values cross-checked against a later copy at 1e63698) and the TDX 1.0 copy
qizhangz/tdx-module (M10, commit 9359de5) at the same path; status word layout from M15
include/tdx_api_defs.h api_error_code_t.  P-SEAMLDR codes: intel/tdx-loader
p-seam-loader/include/pseamldr_api_defs.h (81bf312, PSEAMLDR_* error codes).  Status names are
spelled exactly as the sources spell them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import EnumMeta, IntEnum
from typing import TYPE_CHECKING, Any

from seamemu.arch.status_tables import M10_STATUSES, M15_STATUSES, M20_STATUSES, STATUS_TABLES

MASK64 = (1 << 64) - 1
STATUS_ERROR = 1 << 63             # bit 63: error
STATUS_NON_RECOVERABLE = 1 << 62   # bit 62
STATUS_FATAL = 1 << 61             # bit 61
STATUS_HOST_RECOVERABLE = 1 << 60  # bit 60: host-recoverability hint
STATUS_BASE_MASK = 0xFFFFFFFF00000000  # class + details L1; details L2 (bits 31:0) below it
STATUS_DETAILS_MASK = 0x00000000FFFFFFFF
STATUS_CLASS_SHIFT = 40            # bits 47:40

# How the low 32 bits (details L2) of a status are read when naming it.
#   operand: an operand ID (api_error_with_operand_id)      -> "(RCX)"
#   tdmr:    byte 0 = TDMR index                            -> "(tdmr=1)"
#   pamt:    byte 0 = TDMR, byte 1 = PAMT page size         -> "(tdmr=1, pamt=2M)"
#   overlap: byte 0 = TDMR, byte 1 = PAMT size, byte 2 = other TDMR
#   rsvd:    byte 0 = TDMR, byte 1 = reserved-area index
#   msr:     the MSR address (tdh_sys_init.c / tdh_sys_lp_init.c pass it as the operand ID)
#   info:    opaque details, shown in hex when nonzero
DETAIL_KINDS = ("info", "msr", "operand", "overlap", "pamt", "rsvd", "tdmr")


@dataclass(frozen=True)
class StatusInfo:
    name: str
    value: int
    detail: str = "info"
    note: str = ""


# Sorted by value.  "M15" = present in the 1.5 module; "M10" = present in the 1.0 module.
TDX_STATUSES: tuple[StatusInfo, ...] = (
    StatusInfo("TDX_SUCCESS", 0x0000000000000000),
    StatusInfo("TDX_KEY_CONFIGURED", 0x0000081500000000, note="not an error"),
    StatusInfo("TDX_NO_HKID_READY_TO_WBCACHE", 0x0000082100000000),
    StatusInfo("TDX_TDMR_ALREADY_INITIALIZED", 0x00000A0300000000, note="not an error"),
    StatusInfo("TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT", 0x00000C0B00000000,
               note="M15; not an error"),
    StatusInfo("TDX_METADATA_FIELD_SKIP", 0x00000C0C00000000, note="M15; internal to RDALL"),
    StatusInfo("TDX_NON_RECOVERABLE_VCPU", 0x4000000100000000),
    StatusInfo("TDX_NON_RECOVERABLE_TD", 0x6000000200000000,
               note="M15; M10 has 0x4000000200000000"),
    StatusInfo("TDX_INTERRUPTED_RESUMABLE", 0x8000000300000000),
    StatusInfo("TDX_INTERRUPTED_RESTARTABLE", 0x8000000400000000),
    StatusInfo("TDX_OPERAND_BUSY", 0x8000020000000000, "operand"),
    StatusInfo("TDX_PREVIOUS_TLB_EPOCH_BUSY", 0x8000020100000000),
    StatusInfo("TDX_SYS_BUSY", 0x8000020200000000),
    StatusInfo("TDX_RND_NO_ENTROPY", 0x8000020300000000, note="M15; not in M10's list"),
    StatusInfo("TDX_KEY_GENERATION_FAILED", 0x8000080000000000),
    StatusInfo("TDX_TD_KEYS_NOT_CONFIGURED", 0x8000081000000000),
    StatusInfo("TDX_OPERAND_INVALID", 0xC000010000000000, "operand"),
    StatusInfo("TDX_OPERAND_ADDR_RANGE_ERROR", 0xC000010100000000, "operand"),
    StatusInfo("TDX_PAGE_METADATA_INCORRECT", 0xC000030000000000, "operand"),
    StatusInfo("TDX_SYS_INIT_NOT_PENDING", 0xC000050000000000),
    StatusInfo("TDX_SYSINIT_NOT_DONE", 0xC000050100000000,
               note="old kernel list only (intel/tdx)"),
    StatusInfo("TDX_SYS_LP_INIT_NOT_DONE", 0xC000050200000000),
    StatusInfo("TDX_SYS_LP_INIT_DONE", 0xC000050300000000),
    StatusInfo("TDX_SYSCONFIGKEY_NOT_DONE", 0xC000050400000000,
               note="mailing-list kernel list only"),
    StatusInfo("TDX_SYS_NOT_READY", 0xC000050500000000),
    StatusInfo("TDX_SYS_SHUTDOWN", 0xC000050600000000),
    StatusInfo("TDX_SYS_KEY_CONFIG_NOT_PENDING", 0xC000050700000000),
    StatusInfo("TDX_SYS_STATE_INCORRECT", 0xC000050800000000, note="M15"),
    StatusInfo("TDX_SYS_INVALID_HANDOFF", 0xC000050900000000, note="M15"),
    StatusInfo("TDX_SYS_INCOMPATIBLE_SIGSTRUCT", 0xC000050A00000000, note="M15"),
    StatusInfo("TDX_SYS_LP_INIT_NOT_PENDING", 0xC000050B00000000),
    StatusInfo("TDX_SYS_CONFIG_NOT_PENDING", 0xC000050C00000000),
    StatusInfo("TDX_INCOMPATIBLE_SEAM_CAPABILITIES", 0xC000050D00000000, note="M15"),
    StatusInfo("TDX_KEY_STATE_INCORRECT", 0xC000081100000000),
    StatusInfo("TDX_HKID_NOT_FREE", 0xC000082000000000),
    StatusInfo("TDX_NUM_ACTIVATED_HKIDS_NOT_SUPPORTED", 0xC000082500000000),
    StatusInfo("TDX_INCORRECT_CPUID_VALUE", 0xC000090000000000),
    StatusInfo("TDX_LIMIT_CPUID_MAXVAL_SET", 0xC000090100000000,
               note="M10 calls it TDX_BOOT_NT4_SET"),
    StatusInfo("TDX_INCONSISTENT_CPUID_FIELD", 0xC000090200000000),
    StatusInfo("TDX_INVALID_PKG_ID", 0xC000090600000000),
    StatusInfo("TDX_SMRR_NOT_LOCKED", 0xC000091000000000),
    StatusInfo("TDX_INVALID_SMRR_CONFIGURATION", 0xC000091100000000),
    StatusInfo("TDX_SMRR_OVERLAPS_CMR", 0xC000091200000000),
    StatusInfo("TDX_SMRR_LOCK_NOT_SUPPORTED", 0xC000091300000000),
    StatusInfo("TDX_SMRR_NOT_SUPPORTED", 0xC000091400000000),
    StatusInfo("TDX_INCONSISTENT_MSR", 0xC000092000000000, "msr"),
    StatusInfo("TDX_INCORRECT_MSR_VALUE", 0xC000092100000000, "msr"),
    StatusInfo("TDX_INVALID_TDMR", 0xC0000A0000000000, "tdmr"),
    StatusInfo("TDX_NON_ORDERED_TDMR", 0xC0000A0100000000, "tdmr"),
    StatusInfo("TDX_TDMR_OUTSIDE_CMRS", 0xC0000A0200000000, "tdmr"),
    StatusInfo("TDX_INVALID_PAMT", 0xC0000A1000000000, "pamt"),
    StatusInfo("TDX_PAMT_OUTSIDE_CMRS", 0xC0000A1100000000, "pamt"),
    StatusInfo("TDX_PAMT_OVERLAP", 0xC0000A1200000000, "overlap"),
    StatusInfo("TDX_INVALID_RESERVED_IN_TDMR", 0xC0000A2000000000, "rsvd"),
    StatusInfo("TDX_NON_ORDERED_RESERVED_IN_TDMR", 0xC0000A2100000000, "rsvd"),
    StatusInfo("TDX_CMR_LIST_INVALID", 0xC0000A2200000000),
    StatusInfo("TDX_METADATA_FIELD_ID_INCORRECT", 0xC0000C0000000000, note="M15"),
    StatusInfo("TDX_METADATA_FIELD_NOT_WRITABLE", 0xC0000C0100000000, note="M15"),
    StatusInfo("TDX_METADATA_FIELD_NOT_READABLE", 0xC0000C0200000000, note="M15"),
    StatusInfo("TDX_METADATA_FIELD_VALUE_NOT_VALID", 0xC0000C0300000000, note="M15"),
    StatusInfo("TDX_METADATA_LIST_OVERFLOW", 0xC0000C0400000000, note="M15"),
    StatusInfo("TDX_INVALID_METADATA_LIST_HEADER", 0xC0000C0500000000, note="M15"),
    StatusInfo("TDX_TD_FATAL", 0xE000060400000000, note="M15; M10 has 0xC000060400000000"),
)

# Every other status of the 1.5 table (arch.status_tables), with opaque details.
_NAMED = {s.name for s in TDX_STATUSES}
ALL_TDX_STATUSES: tuple[StatusInfo, ...] = tuple(sorted(
    TDX_STATUSES + tuple(StatusInfo(n, v, note="M15") for n, v in M15_STATUSES if n not in _NAMED),
    key=lambda s: s.value))

if TYPE_CHECKING:
    # The members are made from the table at run time, which a type checker cannot see: it
    # accepts any member name (tests/arch checks every name the package uses exists).
    class _MembersFromTable(EnumMeta):
        def __getattr__(cls, name: str) -> Any: ...

    class TdxStatus(IntEnum, metaclass=_MembersFromTable): ...

    class SeamldrStatus(IntEnum, metaclass=_MembersFromTable): ...
else:
    TdxStatus = IntEnum("TdxStatus", [(s.name, s.value) for s in ALL_TDX_STATUSES])
TdxStatus.__doc__ = "TDX module completion statuses (RAX after SEAMRET), by spec name."

# Operand IDs added into details L2.  Spec: M15 include/auto_gen/tdx_error_codes_defs.h (and M10).
OPERAND_IDS: tuple[tuple[int, str], ...] = (
    (0, "RAX"), (1, "RCX"), (2, "RDX"), (3, "RBX"), (5, "RBP"), (6, "RSI"), (7, "RDI"),
    (8, "R8"), (9, "R9"), (10, "R10"), (11, "R11"), (12, "R12"), (13, "R13"), (14, "R14"),
    (15, "R15"),
    (64, "ATTRIBUTES"), (65, "XFAM"), (66, "EXEC_CONTROLS"), (67, "EPTP_CONTROLS"),
    (68, "MAX_VCPUS"), (69, "CPUID_CONFIG"), (70, "TSC_FREQUENCY"),
    (95, "PAGE"), (96, "TDMR_INFO_PA"),
    (128, "TDR"), (129, "TDCX"), (130, "TDVPR"), (144, "TDCS"), (145, "TDVPS"), (146, "SEPT"),
    (168, "RTMR"), (169, "TD_EPOCH"), (176, "METADATA_FIELD"),
    (184, "SYS"), (185, "TDMR"), (186, "KOT"), (187, "KET"), (188, "WBCACHE"),
)
OPERAND_NAMES: dict[int, str] = dict(OPERAND_IDS)
OPERAND_BY_NAME: dict[str, int] = {name: num for num, name in OPERAND_IDS}

# Status classes (bits 47:40).  The numbers group the spec's error table; the labels are ours.
# 0xFF is reserved for the OS (the kernel's TDX_SW_ERROR), which the module never returns.
STATUS_CLASSES: tuple[tuple[int, str], ...] = (
    (0x00, "general"), (0x01, "operand"), (0x02, "busy"), (0x03, "page metadata"),
    (0x04, "TD associated pages"), (0x05, "system state"), (0x06, "TD state"),
    (0x07, "VCPU state"), (0x08, "key management"), (0x09, "platform configuration"),
    (0x0A, "TDMR/PAMT"), (0x0B, "EPT"), (0x0C, "metadata"), (0x0D, "service TD"),
    (0x0E, "migration"), (0x10, "attestation"), (0x11, "TD partitioning"),
    (0xFF, "software (OS)"),
)
STATUS_CLASS_NAMES: dict[int, str] = dict(STATUS_CLASSES)

# PAMT page-size byte in TDMR/PAMT statuses.  Spec: M15 tdh_sys_config.c (PT_4KB/PT_2MB/PT_1GB).
PAMT_SIZE_NAMES: dict[int, str] = {0: "4K", 1: "2M", 2: "1G"}


@dataclass(frozen=True)
class SeamldrStatusInfo:
    name: str
    value: int
    note: str = ""


# P-SEAMLDR answers: 0x80000000_ccccEEEE.  Sorted by value.
SEAMLDR_STATUSES: tuple[SeamldrStatusInfo, ...] = (
    SeamldrStatusInfo("PSEAMLDR_SUCCESS", 0x0000000000000000),
    SeamldrStatusInfo("PSEAMLDR_EBADPARAM", 0x8000000000000000, "bad input, or an unknown leaf"),
    SeamldrStatusInfo("PSEAMLDR_EBADCALL", 0x8000000000000003, "already called on this LP"),
    SeamldrStatusInfo("PSEAMLDR_EBADHANDOFF", 0x8000000000000004),
    SeamldrStatusInfo("PSEAMLDR_ECLEANUPREQ", 0x8000000000000005),
    SeamldrStatusInfo("PSEAMLDR_EUNSUPPORTED", 0x8000000000000006,
                      "the sigstruct's module SVN major version is not supported"),
    SeamldrStatusInfo("PSEAMLDR_ENOMEM", 0x8000000000010002),
    SeamldrStatusInfo("PSEAMLDR_EUNSPECERR", 0x8000000000010003),
    SeamldrStatusInfo("PSEAMLDR_EUNSUPCPU", 0x8000000000010004),
    SeamldrStatusInfo("PSEAMLDR_EBADSIG", 0x8000000000020000),
    SeamldrStatusInfo("PSEAMLDR_EBADHASH", 0x8000000000020001),
    SeamldrStatusInfo("PSEAMLDR_EINTERRUPT", 0x8000000000030000),
    SeamldrStatusInfo("PSEAMLDR_ENOENTROPY", 0x8000000000030001),
)

if not TYPE_CHECKING:
    SeamldrStatus = IntEnum("SeamldrStatus", [(s.name, s.value) for s in SEAMLDR_STATUSES])
SeamldrStatus.__doc__ = "P-SEAMLDR completion statuses, by the loader sources' names."

_BY_VALUE: dict[int, StatusInfo] = {}
for _s in ALL_TDX_STATUSES:
    _BY_VALUE.setdefault(_s.value, _s)
_BY_NAME: dict[str, StatusInfo] = {s.name: s for s in ALL_TDX_STATUSES}
# TDX 1.0's own names and values (arch.status_tables M10), detail kinds borrowed by name.
_M10_BY_VALUE: dict[int, StatusInfo] = {
    v: StatusInfo(n, v, _BY_NAME[n].detail if n in _BY_NAME else "info", note="M10")
    for n, v in M10_STATUSES}
# TDX 2.0's statuses 1.5 lacks (arch.status_tables M20; the rest have their 1.5 values).
_M20_BY_VALUE: dict[int, StatusInfo] = {
    v: StatusInfo(n, v, note="M20") for n, v in M20_STATUSES if v not in _BY_VALUE}
_LDR_BY_VALUE: dict[int, SeamldrStatusInfo] = {s.value: s for s in SEAMLDR_STATUSES}
_LDR_BY_NAME: dict[str, SeamldrStatusInfo] = {s.name: s for s in SEAMLDR_STATUSES}


def status_class(value: int) -> int:
    """The class byte (bits 47:40) of a status."""
    return (value >> STATUS_CLASS_SHIFT) & 0xFF


def is_error(value: int) -> bool:
    """Bit 63: the call failed (TDX_KEY_CONFIGURED and friends have it clear)."""
    return bool(value & STATUS_ERROR)


def with_operand(base: int, operand: int | str) -> int:
    """`base` plus an operand ID (api_error_with_operand_id); operand by number or name."""
    num = OPERAND_BY_NAME[operand.upper()] if isinstance(operand, str) else operand
    return (base & MASK64) | (num & STATUS_DETAILS_MASK)


def with_info(base: int, info0: int = 0, info1: int = 0, info2: int = 0, info3: int = 0) -> int:
    """`base` with bytes 0..3 of details L2 set (api_error_with_multiple_info)."""
    return base | (info0 & 0xFF) | (info1 & 0xFF) << 8 | (info2 & 0xFF) << 16 | (info3 & 0xFF) << 24


# How each detail kind reads its bytes (b0..b2: bytes 0..2 of the details, d: all 32 bits).
_DETAIL_FORMATS: dict[str, Callable[[int, int, int, int], str]] = {
    "operand": lambda d, b0, b1, b2: OPERAND_NAMES.get(d, f"operand {d}"),
    "tdmr": lambda d, b0, b1, b2: f"tdmr={b0}",
    "pamt": lambda d, b0, b1, b2: f"tdmr={b0}, pamt={PAMT_SIZE_NAMES.get(b1, b1)}",
    "overlap": lambda d, b0, b1, b2: f"tdmr={b0}, pamt={PAMT_SIZE_NAMES.get(b1, b1)}, "
                                     f"other tdmr={b2}",
    "rsvd": lambda d, b0, b1, b2: f"tdmr={b0}, rsvd={b1}",
    "msr": lambda d, b0, b1, b2: f"MSR 0x{d:x}",
}


def _render_details(kind: str, details: int) -> str:
    fmt = _DETAIL_FORMATS.get(kind)
    if fmt is None:
        return f"(0x{details:x})" if details else ""
    return f"({fmt(details, details & 0xFF, (details >> 8) & 0xFF, (details >> 16) & 0xFF)})"


def tdx_status_info(value: int, table: str = "M15") -> StatusInfo | None:
    """The entry whose base (bits 63:32) matches `value`, or None.  `table` "M10" reads it
    as a TDX 1.0 module's status (its own values and names first), "M20" as a TDX 2.0
    module's (1.5's plus its own)."""
    base = value & STATUS_BASE_MASK
    if table == "M10":
        old = _M10_BY_VALUE.get(base)
        if old is not None:
            return old
    info = _BY_VALUE.get(base)
    if info is None and table == "M20":
        return _M20_BY_VALUE.get(base)
    return info


def status_table(table: str) -> Mapping[str, int]:
    """Every status name -> value of one module source generation ("M10", "M15", "M20")."""
    return STATUS_TABLES[table]


def status_name(value: int, *, loader: bool = False, table: str = "M15") -> str:
    """Name a status the way a reader wants it: "TDX_OPERAND_INVALID(RCX)", "TDX_SUCCESS".

    `loader=True` names P-SEAMLDR statuses instead; `table="M10"` names a TDX 1.0 module's
    status (0x4000000200000000 is its TDX_NON_RECOVERABLE_TD).  Values outside the tables
    come back as "UNKNOWN_STATUS(0x...)" so no input can make this raise.
    """
    value &= MASK64
    if loader:
        ldr = _LDR_BY_VALUE.get(value)
        return ldr.name if ldr else f"UNKNOWN_SEAMLDR_STATUS(0x{value:016x})"
    info = tdx_status_info(value, table)
    if info is None:
        return f"UNKNOWN_STATUS(0x{value:016x})"
    return info.name + _render_details(info.detail, value & STATUS_DETAILS_MASK)


def status_value(name: str, *, loader: bool = False, table: str = "M15") -> int:
    """The value of a status given its spec name (KeyError if the name is unknown).  With
    `table="M10"` a name of TDX 1.0's table gives its 1.0 value."""
    if loader:
        return _LDR_BY_NAME[name].value
    if table in ("M10", "M20") and name in STATUS_TABLES[table]:
        return STATUS_TABLES[table][name]
    return _BY_NAME[name].value


def is_known_status(value: int, *, loader: bool = False, table: str = "M15") -> bool:
    """True when `value` is a status the tables define (any details for TDX statuses)."""
    if loader:
        return (value & MASK64) in _LDR_BY_VALUE
    return tdx_status_info(value & MASK64, table) is not None


__all__ = [
    "ALL_TDX_STATUSES",
    "DETAIL_KINDS",
    "MASK64",
    "OPERAND_BY_NAME",
    "OPERAND_IDS",
    "OPERAND_NAMES",
    "PAMT_SIZE_NAMES",
    "SEAMLDR_STATUSES",
    "STATUS_BASE_MASK",
    "STATUS_CLASSES",
    "STATUS_CLASS_NAMES",
    "STATUS_CLASS_SHIFT",
    "STATUS_DETAILS_MASK",
    "STATUS_ERROR",
    "STATUS_FATAL",
    "STATUS_HOST_RECOVERABLE",
    "STATUS_NON_RECOVERABLE",
    "SeamldrStatus",
    "SeamldrStatusInfo",
    "StatusInfo",
    "TDX_STATUSES",
    "TdxStatus",
    "is_error",
    "is_known_status",
    "status_class",
    "status_name",
    "status_table",
    "status_value",
    "tdx_status_info",
    "with_info",
    "with_operand",
]
