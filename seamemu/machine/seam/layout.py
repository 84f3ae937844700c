# SPDX-License-Identifier: MIT
"""The P-SEAMLDR's layout of a TDX module in SEAMRR: regions, sysinfo table, page tables, VMCS.

seamemu plays the P-SEAMLDR's SEAMLDR.INSTALL for a module it was handed as a file.  The
arithmetic follows intel/tdx-loader p-seam-loader (tag tdx-loader-1.5.02):
seamldr_install.c initialize_memory_constants() (region sizes and bases),
setup_system_information() (the sysinfo table), seam_memory_map.c seam_module_memory_map()
(4-level page tables, attributes from pseamldr_data_types.h) and seam_vmcs_setup.c
setup_seam_vmcs() (host state of each LP's SEAM VMCS).  The table layouts are intel/tdx-module
TDX_1.5.01 src/common/data_structures/loader_data.h (sysinfo_table_t) and data_accessors.h
(where the module finds local and global data).

Physical SEAMRR, bottom up: sysinfo page, one VMCS page per addressable LP, data region
(handoff pages, per-LP local data, global data), free, page tables (growing down), PML4, the
stacks (per LP: data stack then one shadow-stack page), the 2 MiB code region, and the
P-SEAMLDR's own range at the top.

What a sigstruct would say (stack, TLS, global-data, keyhole and handoff page counts) is
seamemu's choice, each at least what the module needs (`SigstructSizes`); the linear bases
are the loader's, with the random ASLR offset fixed at 0 so runs repeat.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from seamemu.arch.sysinfo import SEAMLDR_NUM_HANDOFF_PAGES
from seamemu.errors import InputError
from seamemu.machine.seam.image import CODE_REGION_SIZE, ModuleImage

PAGE = 4096
MAX_PKGS = 8                    # sysinfo_table_t.socket_cpuid_table[MAX_PKGS]
MAX_CMR = 32
# Linear bases (pseamldr_data_types.h LINEAR_BASE_*), ORed with (RDRAND & 0x7FFC) << 32.
LINEAR_CODE = 0xFFFF800000000000
LINEAR_STACK = 0xFFFF800100000000
LINEAR_KEYHOLE = 0xFFFF800200000000
LINEAR_DATA = 0xFFFF800300000000
LINEAR_SYSINFO = 0xFFFF8003FFFF0000
LINEAR_KEYEDIT = 0x0000000100000000
# Page-table entry bits (SDM Vol. 3A §4.5) and the loader's attribute sets.
PTE_P, PTE_RW, PTE_US, PTE_A, PTE_D, PTE_XD = 1, 2, 4, 0x20, 0x40, 1 << 63
NON_LEAF = PTE_P | PTE_RW | PTE_A | PTE_US
CODE_ATTRS = PTE_P | PTE_A
DATA_ATTRS = PTE_P | PTE_RW | PTE_A | PTE_D | PTE_XD
SHADOW_STACK_ATTRS = PTE_P | PTE_A | PTE_D | PTE_XD
SYSINFO_ATTRS = PTE_P | PTE_A | PTE_XD
KEYHOLE_PDE_ATTRS = NON_LEAF | PTE_XD
KEYEDIT_ATTRS = PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_XD
PTE_ADDR = 0x000FFFFFFFFFF000
P_SEAMLDR_RANGE = 2 << 20       # seamemu's choice: the NP-SEAMLDR sizes it, not documented
# Host state the loader writes into every SEAM VMCS (seam_vmcs_setup.h).
# SEAM_VMCS_CR0_BITS (the platform's IA32_VMX_CR0_FIXED0 adds nothing beyond PE, NE, PG).
CR0_PE, CR0_ET, CR0_NE, CR0_WP, CR0_PG = 1, 0x10, 0x20, 1 << 16, 1 << 31
HOST_CR0 = CR0_PE | CR0_ET | CR0_NE | CR0_WP | CR0_PG
# SEAM_VMCS_CR4_BITS: DE PAE PGE OSFXSR OSXMMEXCPT VMXE FSGSBASE OSXSAVE SMEP SMAP CET.
HOST_CR4 = sum(1 << b for b in (3, 5, 7, 9, 10, 13, 16, 18, 20, 21, 23))
HOST_EFER = (1 << 8) | (1 << 10) | (1 << 11)          # LME, LMA, NXE
HOST_PAT = 0x0006060606060606
HOST_S_CET = (1 << 0) | (1 << 2) | (1 << 4)           # SH_STK_EN, ENDBR_EN, NO_TRACK_EN
HOST_SELECTORS = {"cs": 0x8, "ss": 0x10, "fs": 0x18, "gs": 0x18, "tr": 0x20}
NON_CANONICAL_RIP = 0x1000000000000000               # SEAM_VMCS_NON_CANONICAL_RIP


@dataclass(frozen=True)
class SigstructSizes:
    """The page counts a sigstruct would carry, each stored as count - 1 like the sigstruct.

    num_tls_pages: tdx_module_local_t ends below 4 KiB (its last %gs offset is 0xf8x), two
    pages given.  num_keyhole_pages: MAX_KEYHOLE_PER_LP = 128 (keyhole_manager.h).
    num_handoff_pages: TDH.SYS.INIT requires at least TDX_MIN_HANDOFF_PAGES (14 for 1.5.01).
    """

    num_stack_pages: int = 15
    num_tls_pages: int = 1
    num_global_data_pages: int = 63
    num_keyhole_pages: int = 127
    num_handoff_pages: int = SEAMLDR_NUM_HANDOFF_PAGES


@dataclass(frozen=True)
class SeamLayout:
    """Physical and linear placement of one module in SEAMRR (memory_constants_t)."""

    seamrr_base: int
    seamrr_size: int
    packages: int
    lps_per_package: int               # addressable LPs per package (x2APIC IDs)
    sizes: SigstructSizes
    image_size: int
    entry: int
    idt_gdt: int
    aslr: int = 0

    # -- sizes -------------------------------------------------------------------------------
    @property
    def num_addressable_lps(self) -> int:
        return self.lps_per_package * self.packages

    @property
    def local_data_size(self) -> int:
        return (self.sizes.num_tls_pages + 1) * PAGE

    @property
    def global_data_size(self) -> int:
        return (self.sizes.num_global_data_pages + 1) * PAGE

    @property
    def handoff_size(self) -> int:
        return (self.sizes.num_handoff_pages + 1) * PAGE

    @property
    def data_size(self) -> int:
        return self.handoff_size + self.local_data_size * self.num_addressable_lps \
            + self.global_data_size

    @property
    def data_stack_size(self) -> int:
        return (self.sizes.num_stack_pages + 1) * PAGE

    @property
    def lp_stack_size(self) -> int:
        return self.data_stack_size + PAGE

    @property
    def stack_size(self) -> int:
        return self.lp_stack_size * self.num_addressable_lps

    @property
    def keyhole_size(self) -> int:
        return (self.sizes.num_keyhole_pages + 1) * PAGE * self.num_addressable_lps

    @property
    def keyedit_size(self) -> int:
        return ((self.keyhole_size // PAGE) * 8 + PAGE - 1) // PAGE * PAGE

    # -- physical ----------------------------------------------------------------------------
    @property
    def module_physlimit(self) -> int:
        return self.seamrr_base + self.seamrr_size - P_SEAMLDR_RANGE

    @property
    def code_pa(self) -> int:
        return self.module_physlimit - CODE_REGION_SIZE

    @property
    def data_pa(self) -> int:
        return self.seamrr_base + PAGE + PAGE * self.num_addressable_lps

    @property
    def stack_pa(self) -> int:
        return self.code_pa - self.stack_size

    @property
    def pml4_pa(self) -> int:
        return self.stack_pa - PAGE

    def vmcs_pa(self, slot: int) -> int:
        return self.seamrr_base + PAGE * (slot + 1)

    # -- linear ------------------------------------------------------------------------------
    def linear(self, base: int) -> int:
        return base | self.aslr

    @property
    def code_la(self) -> int:
        return self.linear(LINEAR_CODE)

    @property
    def data_la(self) -> int:
        return self.linear(LINEAR_DATA)

    def host_rsp(self, slot: int) -> int:
        return self.linear(LINEAR_STACK) + slot * self.lp_stack_size + self.data_stack_size - 8

    def host_ssp(self, slot: int) -> int:
        return self.linear(LINEAR_STACK) + (slot + 1) * self.lp_stack_size - 8

    def local_data_la(self, slot: int) -> int:
        return self.data_la + self.handoff_size + slot * self.local_data_size

    def check(self) -> None:
        """The loader's ENOMEM check (initialize_memory_constants), as a one-line error."""
        if self.packages > MAX_PKGS:
            raise InputError(f"platform has {self.packages} packages; the TDX module's sysinfo "
                             f"table holds at most {MAX_PKGS} (MAX_PKGS)")
        need = PAGE * (1 + self.num_addressable_lps) + self.data_size + self.stack_size \
            + CODE_REGION_SIZE + PAGE * 64
        if self.module_physlimit - self.seamrr_base < need:
            raise InputError(f"SEAMRR of {self.seamrr_size >> 20} MiB cannot hold the module for "
                             f"{self.num_addressable_lps} addressable LPs (needs about "
                             f"{(need + P_SEAMLDR_RANGE) >> 20} MiB with the P-SEAMLDR range)")


def sysinfo_page(lay: SeamLayout, *, total_lps: int, total_sockets: int, fms: int,
                 cmrs: tuple[tuple[int, int], ...]) -> bytes:
    """The 4 KiB sysinfo_table_t: MCHECK's fields, the CMRs, then the loader's fields."""
    if len(cmrs) > MAX_CMR:
        raise InputError(f"platform has {len(cmrs)} CMRs; the sysinfo table holds {MAX_CMR}")
    page = bytearray(PAGE)
    struct.pack_into("<QII", page, 0, 0, total_lps, total_sockets)
    for k in range(total_sockets):
        struct.pack_into("<I", page, 16 + 4 * k, fms)
    cmr_off = 16 + 4 * MAX_PKGS + 16 + 2 + 62          # after the 128-byte MCHECK union
    for i, (base, size) in enumerate(cmrs):
        struct.pack_into("<QQ", page, cmr_off + 16 * i, base, size)
    off = cmr_off + 16 * MAX_CMR + 1408                 # seam_status, region bases/sizes...
    s = lay.sizes
    struct.pack_into("<13Q", page, off, 1, lay.code_la, lay.image_size, lay.data_la,
                     lay.data_size, lay.linear(LINEAR_STACK), lay.stack_size,
                     lay.linear(LINEAR_KEYHOLE), lay.keyhole_size, lay.linear(LINEAR_KEYEDIT),
                     lay.keyedit_size, s.num_stack_pages, s.num_tls_pages)
    # module_hv, min_update_hv, no_downgrade, reserved, num_handoff_pages: handoff version 0
    # is what a module built without TDX_MODULE_HV checks for (proj_defs.mk).
    struct.pack_into("<HHBBH", page, off + 13 * 8, 0, 0, 0, 0, s.num_handoff_pages)
    return bytes(page)


class PageTableBuilder:
    """seam_module_memory_map(): tables allocated downwards from below the PML4."""

    def __init__(self, lay: SeamLayout):
        self.lay = lay
        self.tables: dict[int, bytearray] = {lay.pml4_pa: bytearray(PAGE)}
        self.next = lay.pml4_pa - PAGE
        self.floor = lay.data_pa + lay.data_size

    def map_page(self, pa: int, la: int, attrs: int, keyhole: bool = False) -> int:
        table = self.lay.pml4_pa
        for level in (3, 2, 1):
            idx = (la >> (12 + 9 * level)) & 0x1FF
            entry = struct.unpack_from("<Q", self.tables[table], 8 * idx)[0]
            if entry == 0:
                if self.next < self.floor:
                    raise InputError("SEAMRR too small for the module's page tables")
                self.tables[self.next] = bytearray(PAGE)
                entry = self.next | (KEYHOLE_PDE_ATTRS if keyhole and level == 1 else NON_LEAF)
                struct.pack_into("<Q", self.tables[table], 8 * idx, entry)
                self.next -= PAGE
            table = entry & PTE_ADDR
        struct.pack_into("<Q", self.tables[table], 8 * ((la >> 12) & 0x1FF), pa | attrs)
        return table

    def map_range(self, pa: int, la: int, size: int, attrs: int) -> None:
        for off in range(0, size, PAGE):
            self.map_page(pa + off, la + off, attrs)


def page_tables(lay: SeamLayout) -> dict[int, bytes]:
    """Physical address -> contents of every paging structure of the module."""
    b = PageTableBuilder(lay)
    b.map_range(lay.code_pa, lay.code_la, lay.image_size, CODE_ATTRS)
    b.map_range(lay.data_pa, lay.data_la, lay.data_size, DATA_ATTRS)
    for slot in range(lay.num_addressable_lps):
        pa = lay.stack_pa + slot * lay.lp_stack_size
        la = lay.linear(LINEAR_STACK) + slot * lay.lp_stack_size
        b.map_range(pa, la, lay.data_stack_size, DATA_ATTRS)
        b.map_range(pa + lay.data_stack_size, la + lay.data_stack_size, PAGE,
                    SHADOW_STACK_ATTRS)
    b.map_range(lay.seamrr_base, lay.linear(LINEAR_SYSINFO), PAGE, SYSINFO_ATTRS)
    # Keyholes start unmapped; each new page table of theirs is mapped into the keyhole-edit
    # region so the module can write its own keyhole PTEs (map_keyhole_range()).
    prev, edit = None, lay.linear(LINEAR_KEYEDIT)
    for i in range(lay.keyhole_size // PAGE):
        table = b.map_page(0, lay.linear(LINEAR_KEYHOLE) + i * PAGE, 0, keyhole=True)
        if table != prev:
            b.map_page(table, edit, KEYEDIT_ATTRS)
            edit += PAGE
            prev = table
    return {pa: bytes(t) for pa, t in b.tables.items()}


def seam_vmcs_host(lay: SeamLayout, slot: int) -> dict[int, int]:
    """VMCS field encoding -> value the loader writes for addressable LP `slot`.

    Encodings: intel/tdx-module src/common/x86_defs/vmcs_defs.h (VMX_HOST_*_ENCODE,
    VMX_GUEST_RIP_ENCODE); SDM Vol. 3C Appendix B.
    """
    idt = lay.code_la + lay.idt_gdt
    return {
        0x0C02: HOST_SELECTORS["cs"], 0x0C04: HOST_SELECTORS["ss"],
        0x0C08: HOST_SELECTORS["fs"], 0x0C0A: HOST_SELECTORS["gs"],
        0x0C0C: HOST_SELECTORS["tr"],
        0x2C00: HOST_PAT, 0x2C02: HOST_EFER,
        0x681E: NON_CANONICAL_RIP,
        0x6C00: HOST_CR0, 0x6C02: lay.pml4_pa, 0x6C04: HOST_CR4,
        0x6C06: lay.linear(LINEAR_SYSINFO), 0x6C08: lay.local_data_la(slot),
        0x6C0C: idt + 2048, 0x6C0E: idt,
        0x6C14: lay.host_rsp(slot), 0x6C16: lay.code_la + lay.entry,
        0x6C18: HOST_S_CET, 0x6C1A: lay.host_ssp(slot),
    }


def layout_for(image: ModuleImage, *, seamrr_base: int, seamrr_size: int, packages: int,
               lps_per_package: int, sizes: SigstructSizes = SigstructSizes()) -> SeamLayout:
    lay = SeamLayout(seamrr_base, seamrr_size, packages, lps_per_package, sizes, image.size,
                     image.entry, image.idt_gdt)
    lay.check()
    return lay


__all__ = [
    "HOST_CR0",
    "HOST_CR4",
    "HOST_EFER",
    "LINEAR_CODE",
    "PAGE",
    "PTE_ADDR",
    "SeamLayout",
    "SigstructSizes",
    "layout_for",
    "page_tables",
    "seam_vmcs_host",
    "sysinfo_page",
]
