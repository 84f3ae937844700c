# SPDX-License-Identifier: MIT
"""SEAMCALL leaf numbers of the TDX module and the P-SEAMLDR, with dispatcher admission facts.

Spec: intel/tdx-module tdx_1.5 include/tdx_api_defs.h (seamcall_leaf_opcode_t,
tdx_leaf_and_version_t) and src/vmm_dispatcher/tdx_vmm_dispatcher.c (M15, TDX_1.5.01, 72d8cff);
qizhangz/tdx-module src/vmm_dispatcher/tdx_vmm_dispatcher.c (M10, TDX 1.0, 9359de5) for the
1.0 leaf set; P-SEAMLDR leaves from intel/tdx-loader p-seam-loader/include/pseamldr_api_defs.h
(81bf312, SEAMCALL_LEAVES_OPCODES) and Linux arch/x86/virt/vmx/tdx/seamldr.c.  TDCALL leaves
(the guest side): intel/tdx-module tdx_1.5 include/tdx_api_defs.h (tdcall_leaf_opcode_t) and
src/td_dispatcher/tdx_td_dispatcher.c td_call() (TDX_1.5.01, 72d8cff); the kernel's names from
Linux arch/x86/include/asm/shared/tdx.h.
"""

from __future__ import annotations

from dataclasses import dataclass

ABI_GENERATIONS: tuple[str, ...] = ("1.0", "1.5")
BOTH = ("1.0", "1.5")
V15 = ("1.5",)

# RAX in module mode.  1.5: bits 15:0 leaf, 23:16 version, 31:24 and 63:32 reserved (any set
# bit -> TDX_OPERAND_INVALID(RAX)).  1.0 compares the whole RAX against the leaf numbers.
RAX_LEAF_MASK = 0xFFFF
RAX_VERSION_SHIFT = 16
RAX_VERSION_MASK = 0xFF << RAX_VERSION_SHIFT
RAX_RESERVED_MASK = 0x7FFFFFFFFF000000  # bits 62:24; bit 63 selects the P-SEAMLDR instead
SEAMLDR_MODE_BIT = 1 << 63               # RAX bit 63: loader mode (P-SEAMLDR)


@dataclass(frozen=True)
class LeafInfo:
    """One SEAMCALL leaf of the TDX module."""

    number: int
    name: str                       # spec name, e.g. "TDH.SYS.INFO"
    generations: tuple[str, ...]    # ABI generations whose module has the leaf
    before_ready: bool = False      # dispatcher admits it before SYS_READY
    in_shutdown: bool = False       # dispatcher admits it in SYS_SHUTDOWN
    versioned: bool = False         # 1.5 dispatcher lets RAX[23:16] be nonzero

    @property
    def c_name(self) -> str:        # "TDH_SYS_INFO"
        return self.name.replace(".", "_")


# Sorted by number.  Admission before READY: M10 admits SYS.INFO/INIT/LP.INIT/CONFIG/KEY.CONFIG/
# LP.SHUTDOWN; M15 adds SYS.RD, SYS.RDALL and SYS.UPDATE.  In SYS_SHUTDOWN only SYS.LP.SHUTDOWN.
# Versioned leaves in M15: MEM.SEPT.ADD, MNG.RD, MEM.PAGE.PROMOTE, VP.RD, MEM.SEPT.REMOVE.
SEAMCALL_LEAVES: tuple[LeafInfo, ...] = (
    LeafInfo(0, "TDH.VP.ENTER", BOTH),
    LeafInfo(1, "TDH.MNG.ADDCX", BOTH),
    LeafInfo(2, "TDH.MEM.PAGE.ADD", BOTH),
    LeafInfo(3, "TDH.MEM.SEPT.ADD", BOTH, versioned=True),
    LeafInfo(4, "TDH.VP.ADDCX", BOTH),
    LeafInfo(5, "TDH.MEM.PAGE.RELOCATE", BOTH),
    LeafInfo(6, "TDH.MEM.PAGE.AUG", BOTH),
    LeafInfo(7, "TDH.MEM.RANGE.BLOCK", BOTH),
    LeafInfo(8, "TDH.MNG.KEY.CONFIG", BOTH),
    LeafInfo(9, "TDH.MNG.CREATE", BOTH),
    LeafInfo(10, "TDH.VP.CREATE", BOTH),
    LeafInfo(11, "TDH.MNG.RD", BOTH, versioned=True),
    LeafInfo(12, "TDH.MEM.RD", BOTH),
    LeafInfo(13, "TDH.MNG.WR", BOTH),
    LeafInfo(14, "TDH.MEM.WR", BOTH),
    LeafInfo(15, "TDH.MEM.PAGE.DEMOTE", BOTH),
    LeafInfo(16, "TDH.MR.EXTEND", BOTH),
    LeafInfo(17, "TDH.MR.FINALIZE", BOTH),
    LeafInfo(18, "TDH.VP.FLUSH", BOTH),
    LeafInfo(19, "TDH.MNG.VPFLUSHDONE", BOTH),
    LeafInfo(20, "TDH.MNG.KEY.FREEID", BOTH),
    LeafInfo(21, "TDH.MNG.INIT", BOTH),
    LeafInfo(22, "TDH.VP.INIT", BOTH),
    LeafInfo(23, "TDH.MEM.PAGE.PROMOTE", BOTH, versioned=True),
    LeafInfo(24, "TDH.PHYMEM.PAGE.RDMD", BOTH),
    LeafInfo(25, "TDH.MEM.SEPT.RD", BOTH),
    LeafInfo(26, "TDH.VP.RD", BOTH, versioned=True),
    LeafInfo(27, "TDH.MNG.KEY.RECLAIMID", BOTH),
    LeafInfo(28, "TDH.PHYMEM.PAGE.RECLAIM", BOTH),
    LeafInfo(29, "TDH.MEM.PAGE.REMOVE", BOTH),
    LeafInfo(30, "TDH.MEM.SEPT.REMOVE", BOTH, versioned=True),
    LeafInfo(31, "TDH.SYS.KEY.CONFIG", BOTH, before_ready=True),
    LeafInfo(32, "TDH.SYS.INFO", BOTH, before_ready=True),
    LeafInfo(33, "TDH.SYS.INIT", BOTH, before_ready=True),
    LeafInfo(34, "TDH.SYS.RD", V15, before_ready=True),
    LeafInfo(35, "TDH.SYS.LP.INIT", BOTH, before_ready=True),
    LeafInfo(36, "TDH.SYS.TDMR.INIT", BOTH),
    LeafInfo(37, "TDH.SYS.RDALL", V15, before_ready=True),
    LeafInfo(38, "TDH.MEM.TRACK", BOTH),
    LeafInfo(39, "TDH.MEM.RANGE.UNBLOCK", BOTH),
    LeafInfo(40, "TDH.PHYMEM.CACHE.WB", BOTH),
    LeafInfo(41, "TDH.PHYMEM.PAGE.WBINVD", BOTH),
    LeafInfo(42, "TDH.MEM.SEPT.WR", V15),
    LeafInfo(43, "TDH.VP.WR", BOTH),
    LeafInfo(44, "TDH.SYS.LP.SHUTDOWN", BOTH, before_ready=True, in_shutdown=True),
    LeafInfo(45, "TDH.SYS.CONFIG", BOTH, before_ready=True),
    LeafInfo(48, "TDH.SERVTD.BIND", V15),
    LeafInfo(49, "TDH.SERVTD.PREBIND", V15),
    LeafInfo(52, "TDH.SYS.SHUTDOWN", V15),
    LeafInfo(53, "TDH.SYS.UPDATE", V15, before_ready=True),
    LeafInfo(64, "TDH.EXPORT.ABORT", V15),
    LeafInfo(65, "TDH.EXPORT.BLOCKW", V15),
    LeafInfo(66, "TDH.EXPORT.RESTORE", V15),
    LeafInfo(68, "TDH.EXPORT.MEM", V15),
    LeafInfo(70, "TDH.EXPORT.PAUSE", V15),
    LeafInfo(71, "TDH.EXPORT.TRACK", V15),
    LeafInfo(72, "TDH.EXPORT.STATE.IMMUTABLE", V15),
    LeafInfo(73, "TDH.EXPORT.STATE.TD", V15),
    LeafInfo(74, "TDH.EXPORT.STATE.VP", V15),
    LeafInfo(75, "TDH.EXPORT.UNBLOCKW", V15),
    LeafInfo(80, "TDH.IMPORT.ABORT", V15),
    LeafInfo(81, "TDH.IMPORT.END", V15),
    LeafInfo(82, "TDH.IMPORT.COMMIT", V15),
    LeafInfo(83, "TDH.IMPORT.MEM", V15),
    LeafInfo(84, "TDH.IMPORT.TRACK", V15),
    LeafInfo(85, "TDH.IMPORT.STATE.IMMUTABLE", V15),
    LeafInfo(86, "TDH.IMPORT.STATE.TD", V15),
    LeafInfo(87, "TDH.IMPORT.STATE.VP", V15),
    LeafInfo(96, "TDH.MIG.STREAM.CREATE", V15),
)


@dataclass(frozen=True)
class SeamldrLeafInfo:
    """One P-SEAMLDR leaf: the whole RAX, bit 63 set."""

    rax: int
    name: str


# Sorted by RAX.  CLEANUP appears only in later loaders.
SEAMLDR_LEAVES: tuple[SeamldrLeafInfo, ...] = (
    SeamldrLeafInfo(0x8000000000000000, "SEAMLDR.INFO"),
    SeamldrLeafInfo(0x8000000000000001, "SEAMLDR.INSTALL"),
    SeamldrLeafInfo(0x8000000000000002, "SEAMLDR.SHUTDOWN"),
    SeamldrLeafInfo(0x8000000000000003, "SEAMLDR.SEAMINFO"),
    SeamldrLeafInfo(0x8000000000000004, "SEAMLDR.CLEANUP"),
)

_BY_NUMBER: dict[int, LeafInfo] = {leaf.number: leaf for leaf in SEAMCALL_LEAVES}
_BY_NAME: dict[str, LeafInfo] = {leaf.name: leaf for leaf in SEAMCALL_LEAVES}
_LDR_BY_RAX: dict[int, SeamldrLeafInfo] = {leaf.rax: leaf for leaf in SEAMLDR_LEAVES}
_LDR_BY_NAME: dict[str, SeamldrLeafInfo] = {leaf.name: leaf for leaf in SEAMLDR_LEAVES}


def leaf_info(number: int, abi: str | None = None) -> LeafInfo | None:
    """The leaf with this number (in this ABI generation when given), or None."""
    leaf = _BY_NUMBER.get(number)
    if leaf is None or (abi is not None and abi not in leaf.generations):
        return None
    return leaf


def leaf_by_name(name: str) -> LeafInfo | None:
    """Look a module leaf up by spec name ("TDH.SYS.INFO") or C name ("TDH_SYS_INFO")."""
    return _BY_NAME.get(name.upper().replace("_", "."))


def leaf_number(name: str) -> int:
    """The number of a module leaf the package names in its own code; KeyError if unknown."""
    leaf = leaf_by_name(name)
    if leaf is None:
        raise KeyError(name)
    return leaf.number


# The leaves the package calls by name, as the kernel's tdx.h spells them.
TDH_PHYMEM_PAGE_RDMD = leaf_number("TDH.PHYMEM.PAGE.RDMD")
TDH_SYS_CONFIG = leaf_number("TDH.SYS.CONFIG")
TDH_SYS_INFO = leaf_number("TDH.SYS.INFO")
TDH_SYS_INIT = leaf_number("TDH.SYS.INIT")
TDH_SYS_KEY_CONFIG = leaf_number("TDH.SYS.KEY.CONFIG")
TDH_SYS_LP_INIT = leaf_number("TDH.SYS.LP.INIT")
TDH_SYS_RD = leaf_number("TDH.SYS.RD")
TDH_SYS_TDMR_INIT = leaf_number("TDH.SYS.TDMR.INIT")


@dataclass(frozen=True)
class TdcallLeafInfo:
    """One TDCALL leaf of the TDX module (the TD guest's side)."""

    number: int
    name: str                       # spec name, e.g. "TDG.VP.INFO"
    versioned: bool = False         # td_call() lets RAX[23:16] be nonzero (TDG.VM.RD only)

    @property
    def c_name(self) -> str:        # "TDG_VP_INFO"
        return self.name.replace(".", "_")


# Sorted by number.  RAX in a TDCALL is read as for SEAMCALL: bits 15:0 the leaf, 23:16 its
# version, 63:24 reserved; td_call() refuses reserved bits, a version on any leaf but
# TDG.VM.RD and an unknown leaf with TDX_OPERAND_INVALID(RAX).
TDCALL_LEAVES: tuple[TdcallLeafInfo, ...] = (
    TdcallLeafInfo(0, "TDG.VP.VMCALL"),
    TdcallLeafInfo(1, "TDG.VP.INFO"),
    TdcallLeafInfo(2, "TDG.MR.RTMR.EXTEND"),
    TdcallLeafInfo(3, "TDG.VP.VEINFO.GET"),
    TdcallLeafInfo(4, "TDG.MR.REPORT"),
    TdcallLeafInfo(5, "TDG.VP.CPUIDVE.SET"),
    TdcallLeafInfo(6, "TDG.MEM.PAGE.ACCEPT"),
    TdcallLeafInfo(7, "TDG.VM.RD", versioned=True),
    TdcallLeafInfo(8, "TDG.VM.WR"),
    TdcallLeafInfo(9, "TDG.VP.RD"),
    TdcallLeafInfo(10, "TDG.VP.WR"),
    TdcallLeafInfo(11, "TDG.SYS.RD"),
    TdcallLeafInfo(12, "TDG.SYS.RDALL"),
    TdcallLeafInfo(18, "TDG.SERVTD.RD"),
    TdcallLeafInfo(20, "TDG.SERVTD.WR"),
    TdcallLeafInfo(22, "TDG.MR.VERIFYREPORT"),
    TdcallLeafInfo(23, "TDG.MEM.PAGE.ATTR.RD"),
    TdcallLeafInfo(24, "TDG.MEM.PAGE.ATTR.WR"),
    TdcallLeafInfo(25, "TDG.VP.ENTER"),
    TdcallLeafInfo(26, "TDG.VP.INVEPT"),
    TdcallLeafInfo(27, "TDG.VP.INVVPID"),
)
_TDG_BY_NUMBER: dict[int, TdcallLeafInfo] = {leaf.number: leaf for leaf in TDCALL_LEAVES}
_TDG_BY_NAME: dict[str, TdcallLeafInfo] = {leaf.name: leaf for leaf in TDCALL_LEAVES}


def tdcall_leaf_info(number: int) -> TdcallLeafInfo | None:
    """The TDCALL leaf with this number, or None."""
    return _TDG_BY_NUMBER.get(number)


def tdcall_leaf_by_name(name: str) -> TdcallLeafInfo | None:
    """Look a TDCALL leaf up by spec name ("TDG.VP.INFO") or C name ("TDG_VP_INFO")."""
    return _TDG_BY_NAME.get(name.upper().replace("_", "."))


def _tdg(name: str) -> int:
    leaf = tdcall_leaf_by_name(name)
    if leaf is None:
        raise KeyError(name)
    return leaf.number


# The TDCALL leaves the package calls by name, as the kernel's asm/shared/tdx.h spells them.
TDG_MEM_PAGE_ACCEPT = _tdg("TDG.MEM.PAGE.ACCEPT")
TDG_VM_RD = _tdg("TDG.VM.RD")
TDG_VP_INFO = _tdg("TDG.VP.INFO")
TDG_VP_VEINFO_GET = _tdg("TDG.VP.VEINFO.GET")
TDG_VP_VMCALL = _tdg("TDG.VP.VMCALL")


def seamldr_leaf_info(rax: int) -> SeamldrLeafInfo | None:
    return _LDR_BY_RAX.get(rax)


def seamldr_leaf_by_name(name: str) -> SeamldrLeafInfo | None:
    return _LDR_BY_NAME.get(name.upper().replace("_", "."))


__all__ = [
    "ABI_GENERATIONS",
    "BOTH",
    "LeafInfo",
    "RAX_LEAF_MASK",
    "RAX_RESERVED_MASK",
    "RAX_VERSION_MASK",
    "RAX_VERSION_SHIFT",
    "SEAMCALL_LEAVES",
    "SEAMLDR_LEAVES",
    "SEAMLDR_MODE_BIT",
    "SeamldrLeafInfo",
    "TDCALL_LEAVES",
    "TDG_MEM_PAGE_ACCEPT",
    "TDG_VM_RD",
    "TDG_VP_INFO",
    "TDG_VP_VEINFO_GET",
    "TDG_VP_VMCALL",
    "TDH_PHYMEM_PAGE_RDMD",
    "TDH_SYS_CONFIG",
    "TDH_SYS_INFO",
    "TDH_SYS_INIT",
    "TDH_SYS_KEY_CONFIG",
    "TDH_SYS_LP_INIT",
    "TDH_SYS_RD",
    "TDH_SYS_TDMR_INIT",
    "TdcallLeafInfo",
    "V15",
    "leaf_by_name",
    "leaf_info",
    "leaf_number",
    "seamldr_leaf_by_name",
    "seamldr_leaf_info",
    "tdcall_leaf_by_name",
    "tdcall_leaf_info",
]
