# SPDX-License-Identifier: MIT
"""The P-SEAMLDR's layout as seamemu builds it: the sysinfo table where the module reads it,
page tables with the loader's attributes, per-LP stacks and local data, KeyID bits stripped."""

from __future__ import annotations

import struct

import pytest

from seamemu.errors import InputError
from seamemu.machine.memory import PhysicalMemory
from seamemu.machine.seam.image import ModuleImage
from seamemu.machine.seam.layout import (
    LINEAR_CODE,
    SeamLayout,
    SigstructSizes,
    page_tables,
    seam_vmcs_host,
    sysinfo_page,
)
from seamemu.machine.seam.paging import Translator

SEAMRR = 0x7C000000
IMAGE = ModuleImage(path="fake", data=bytes(0x65000), entry=0x386E0, idt_gdt=0x47000,
                    relocations=(), symbols=((0, 1, "f"),), text=(0x200, 0x100),
                    generation="1.5", sha256="", _starts=(0,))


def layout(packages=2, per_pkg=2) -> SeamLayout:
    lay = SeamLayout(SEAMRR, 64 << 20, packages, per_pkg, SigstructSizes(), IMAGE.size,
                     IMAGE.entry, IMAGE.idt_gdt)
    lay.check()
    return lay


def test_sysinfo_fields_sit_where_sysinfo_table_t_has_them():
    # intel/tdx-module loader_data.h: a 128-byte MCHECK union, cmr_data[32] at 0x80, 1408
    # reserved bytes, then seam_status at 0x800 and the loader's fields after it.
    lay = layout()
    # MCHECK's counts are of what was present at boot: here 3 LPs in one of the 2 sockets.
    page = sysinfo_page(lay, total_lps=3, total_sockets=1, fms=0x806F8,
                        cmrs=((0, 1 << 30), (4 << 30, 1 << 30)))
    assert len(page) == 4096
    assert struct.unpack_from("<QII", page, 0) == (0, 3, 1)
    assert struct.unpack_from("<II", page, 16) == (0x806F8, 0)
    assert struct.unpack_from("<4Q", page, 0x80) == (0, 1 << 30, 4 << 30, 1 << 30)
    seam_status, code_base, code_size, data_base, data_size = struct.unpack_from("<5Q", page, 0x800)
    assert (seam_status, code_base, code_size) == (1, LINEAR_CODE, IMAGE.size)
    assert data_base == 0xFFFF800300000000 and data_size == lay.data_size
    assert struct.unpack_from("<QQ", page, 0x858) == (15, 1)          # stack, TLS pages - 1
    assert struct.unpack_from("<H", page, 0x86E)[0] == 15              # num_handoff_pages


def test_regions_stack_up_inside_seamrr_as_the_loader_places_them():
    lay = layout()
    assert lay.num_addressable_lps == 4
    assert lay.vmcs_pa(0) == SEAMRR + 0x1000 and lay.vmcs_pa(3) == SEAMRR + 0x4000
    assert lay.data_pa == SEAMRR + 0x5000
    assert lay.code_pa + (2 << 20) == SEAMRR + (64 << 20) - (2 << 20)   # P-SEAMLDR on top
    assert lay.stack_pa + lay.stack_size == lay.code_pa
    assert lay.pml4_pa == lay.stack_pa - 0x1000
    # get_current_thread_num(): (GS base - data base - handoff) / local size is the slot
    for slot in range(4):
        host = seam_vmcs_host(lay, slot)
        assert (host[0x6C08] - lay.data_la - lay.handoff_size) // lay.local_data_size == slot
        assert host[0x6C14] == lay.linear(0xFFFF800100000000) + (slot + 1) * lay.lp_stack_size \
            - 0x1000 - 8                                       # top of the data stack - 8
        assert host[0x6C16] == LINEAR_CODE + IMAGE.entry


def test_page_tables_carry_the_loader_attributes_and_strip_keyids():
    lay = layout()
    mem = PhysicalMemory(lambda pa, size: True)
    for pa, table in page_tables(lay).items():
        mem.write(pa, table)
    t = Translator(mem, lay.pml4_pa, keyid_bits=6)
    code = t.walk(LINEAR_CODE + IMAGE.entry)
    assert code.pa == lay.code_pa + (IMAGE.entry & ~0xFFF) and not code.writable
    assert code.executable
    data = t.walk(lay.data_la)
    assert data.pa == lay.data_pa and data.writable and not data.executable
    sysinfo = t.walk(0xFFFF8003FFFF0000)
    assert sysinfo.pa == SEAMRR and not sysinfo.writable
    assert t.walk(0xFFFF800200000000) is None                # keyholes start unmapped
    assert t.walk(LINEAR_CODE + IMAGE.size) is None           # nothing past the image
    # The keyhole-edit region maps the page table of the first keyholes: write a keyhole PTE
    # with KeyID 33 through it, as keyhole_manager.c does, and the keyhole reaches the page.
    edit = t.walk(0x100000000)
    assert edit is not None and edit.writable and edit.user
    mem.write(edit.pa, (0x123456000 | (33 << 46) | 0x3).to_bytes(8, "little"))
    t.flush()
    hole = t.walk(0xFFFF800200000000)
    assert (hole.pa, hole.keyid) == (0x123456000, 33)


def test_a_seamrr_too_small_is_a_one_line_error():
    lay = SeamLayout(SEAMRR, 4 << 20, 2, 64, SigstructSizes(), IMAGE.size, IMAGE.entry,
                     IMAGE.idt_gdt)
    with pytest.raises(InputError, match="SEAMRR of 4 MiB cannot hold the module for 128"):
        lay.check()


def test_more_packages_than_the_sysinfo_table_holds():
    lay = SeamLayout(SEAMRR, 64 << 20, 9, 2, SigstructSizes(), IMAGE.size, IMAGE.entry,
                     IMAGE.idt_gdt)
    with pytest.raises(InputError, match=r"at most 8 \(MAX_PKGS\)"):
        lay.check()
