# SPDX-License-Identifier: MIT
"""SEAMCALL leaf numbers of the TDX module and the P-SEAMLDR, with dispatcher admission facts.

Spec: intel/tdx-module tdx_1.5 include/tdx_api_defs.h (seamcall_leaf_opcode_t,
tdx_leaf_and_version_t) and src/vmm_dispatcher/tdx_vmm_dispatcher.c (M15, TDX_1.5.01, 72d8cff);
the same two files at intel/tdx-module 1666adc (2.0.08) for the 2.0 leaf set (TDX-IO leaves
128..166, TDH.PHYMEM.PAMT.ADD/REMOVE, versions on TDH.SYS.INIT, TDH.VP.INIT and
TDH.MEM.SHARED.SEPT.WR, no TDH.MEM.SEPT.WR) and src/common/helpers/helpers.h
is_valid_tdx_io_host_call(); qizhangz/tdx-module src/vmm_dispatcher/tdx_vmm_dispatcher.c
(M10, TDX 1.0, 9359de5) for the 1.0 leaf set; P-SEAMLDR leaves from intel/tdx-loader
p-seam-loader/include/pseamldr_api_defs.h (81bf312, SEAMCALL_LEAVES_OPCODES) and Linux
arch/x86/virt/vmx/tdx/seamldr.c.  TDCALL leaves (the guest side): intel/tdx-module tdx_1.5
include/tdx_api_defs.h (tdcall_leaf_opcode_t) and src/td_dispatcher/tdx_td_dispatcher.c
td_call() (TDX_1.5.01, 72d8cff); the kernel's names from Linux arch/x86/include/asm/shared/
tdx.h.  The leaves themselves are seamemu/data/tdx_module/leaves.txt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from seamemu.arch.datafile import read_sections


class _Named(Protocol):
    @property
    def name(self) -> str: ...


L = TypeVar("L", bound=_Named)

ABI_GENERATIONS: tuple[str, ...] = ("1.0", "1.5", "2.0")
ALL = ABI_GENERATIONS
# The 1.5 ABI and 2.0, which keeps its RAX layout, TDH.SYS.RD and the 1.5 checks the model has
# (a 2.0 difference is a check or leaf of its own, with abi=V20).
V15 = ("1.5", "2.0")
V20 = ("2.0",)

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
    versioned: tuple[str, ...] = ()  # generations whose dispatcher lets RAX[23:16] be nonzero
    tdx_io: bool = False            # 2.0 TDX-IO leaf: refused unless the platform has TDX-IO

    def versioned_in(self, abi: str) -> bool:
        return abi in self.versioned

    @property
    def c_name(self) -> str:        # "TDH_SYS_INFO"
        return self.name.replace(".", "_")


_FLAGS = ("before_ready", "in_shutdown", "tdx_io")
_TABLES = read_sections("leaves.txt")   # sorted by number; the file says what each column is


def _seamcall_leaf(words: list[str]) -> LeafInfo:
    number, name, gens, *flags = words
    generations = tuple(gens.split(","))
    # "versioned": in each of the leaf's generations with a version field; "versioned:2.0": there
    versioned = tuple(g for g in generations if g != "1.0") if "versioned" in flags else \
        tuple(f.split(":", 1)[1] for f in flags if f.startswith("versioned:"))
    unknown = {f for f in flags if f != "versioned" and not f.startswith("versioned:")} - \
        set(_FLAGS)
    if unknown:
        raise ValueError(f"leaves.txt: {name}: unknown flags {sorted(unknown)}")
    return LeafInfo(int(number, 0), name, generations, versioned=versioned,
                    **{f: f in flags for f in _FLAGS})


SEAMCALL_LEAVES: tuple[LeafInfo, ...] = tuple(_seamcall_leaf(w) for w in _TABLES["SEAMCALL"])


@dataclass(frozen=True)
class SeamldrLeafInfo:
    """One P-SEAMLDR leaf: the whole RAX, bit 63 set."""

    rax: int
    name: str


SEAMLDR_LEAVES: tuple[SeamldrLeafInfo, ...] = tuple(
    SeamldrLeafInfo(int(rax, 0), name) for rax, name in _TABLES["SEAMLDR"])


class LeafTable(Generic[L]):
    """One instruction's leaves, looked up by number and by spec ("TDH.SYS.INFO") or C name
    ("TDH_SYS_INFO")."""

    def __init__(self, leaves: tuple[L, ...], number: Callable[[L], int]):
        self.leaves = leaves
        self._number = number
        self._by_number = {number(leaf): leaf for leaf in leaves}
        self._by_name = {leaf.name: leaf for leaf in leaves}

    def get(self, number: int) -> L | None:
        return self._by_number.get(number)

    def named(self, name: str) -> L | None:
        return self._by_name.get(name.upper().replace("_", "."))

    def number(self, name: str) -> int:
        """The number of a leaf the package names in its own code; KeyError if unknown."""
        leaf = self.named(name)
        if leaf is None:
            raise KeyError(name)
        return self._number(leaf)


SEAMCALL = LeafTable(SEAMCALL_LEAVES, lambda leaf: leaf.number)
SEAMLDR = LeafTable(SEAMLDR_LEAVES, lambda leaf: leaf.rax)


def leaf_info(number: int, abi: str | None = None) -> LeafInfo | None:
    """The leaf with this number (in this ABI generation when given), or None."""
    leaf = SEAMCALL.get(number)
    if leaf is None or (abi is not None and abi not in leaf.generations):
        return None
    return leaf


def leaf_by_name(name: str) -> LeafInfo | None:
    """Look a module leaf up by spec name ("TDH.SYS.INFO") or C name ("TDH_SYS_INFO")."""
    return SEAMCALL.named(name)


def leaf_number(name: str) -> int:
    """The number of a module leaf the package names in its own code; KeyError if unknown."""
    return SEAMCALL.number(name)


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


# RAX in a TDCALL is read as for SEAMCALL: bits 15:0 the leaf, 23:16 its version, 63:24
# reserved; td_call() refuses reserved bits, a version on any leaf but TDG.VM.RD and an unknown
# leaf with TDX_OPERAND_INVALID(RAX).
TDCALL_LEAVES: tuple[TdcallLeafInfo, ...] = tuple(
    TdcallLeafInfo(int(number, 0), name, versioned=flags == ["versioned"])
    for number, name, *flags in _TABLES["TDCALL"])
TDCALL = LeafTable(TDCALL_LEAVES, lambda leaf: leaf.number)


def tdcall_leaf_info(number: int) -> TdcallLeafInfo | None:
    """The TDCALL leaf with this number, or None."""
    return TDCALL.get(number)


def tdcall_leaf_by_name(name: str) -> TdcallLeafInfo | None:
    """Look a TDCALL leaf up by spec name ("TDG.VP.INFO") or C name ("TDG_VP_INFO")."""
    return TDCALL.named(name)


# The TDCALL leaves the package calls by name, as the kernel's asm/shared/tdx.h spells them.
TDG_MEM_PAGE_ACCEPT = TDCALL.number("TDG.MEM.PAGE.ACCEPT")
TDG_VM_RD = TDCALL.number("TDG.VM.RD")
TDG_VP_INFO = TDCALL.number("TDG.VP.INFO")
TDG_VP_VEINFO_GET = TDCALL.number("TDG.VP.VEINFO.GET")
TDG_VP_VMCALL = TDCALL.number("TDG.VP.VMCALL")


def leaf_rax(name: str) -> int | None:
    """The RAX that names a leaf: a module leaf, a TDCALL leaf, or a P-SEAMLDR leaf (bit 63 set),
    by spec name ("TDH.SYS.INFO", "TDG.VP.INFO", "SEAMLDR.INFO") or C name; None if unknown."""
    leaf = SEAMCALL.named(name) or TDCALL.named(name)
    if leaf is not None:
        return leaf.number
    ldr = SEAMLDR.named(name)
    return None if ldr is None else ldr.rax


def seamldr_leaf_info(rax: int) -> SeamldrLeafInfo | None:
    return SEAMLDR.get(rax)


def seamldr_leaf_by_name(name: str) -> SeamldrLeafInfo | None:
    return SEAMLDR.named(name)


__all__ = [
    "ABI_GENERATIONS",
    "ALL",
    "LeafInfo",
    "LeafTable",
    "RAX_LEAF_MASK",
    "RAX_RESERVED_MASK",
    "RAX_VERSION_MASK",
    "RAX_VERSION_SHIFT",
    "SEAMCALL",
    "SEAMCALL_LEAVES",
    "SEAMLDR",
    "SEAMLDR_LEAVES",
    "SEAMLDR_MODE_BIT",
    "SeamldrLeafInfo",
    "TDCALL",
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
    "V20",
    "leaf_by_name",
    "leaf_info",
    "leaf_number",
    "leaf_rax",
    "seamldr_leaf_by_name",
    "seamldr_leaf_info",
    "tdcall_leaf_by_name",
    "tdcall_leaf_info",
]
