# SPDX-License-Identifier: MIT
"""Reading a module binary: what is refused with one line, and what a real build yields."""

from __future__ import annotations

import struct

import pytest

from seamemu.errors import InputError
from seamemu.machine.seam.image import load_module_image, parse_module_image


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(InputError,
                       match=r"^--module-binary .*nope\.so: cannot read: no such file or directory$"):
        load_module_image(tmp_path / "nope.so")


def test_a_text_file_is_not_a_module(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello\n")
    with pytest.raises(InputError, match="not an ELF file, so not a TDX module image"):
        load_module_image(f)


def test_the_origin_of_the_name_is_reported(tmp_path):
    f = tmp_path / "x.so"
    f.write_bytes(b"\x7fELF\x01\x01")
    with pytest.raises(InputError, match=r"^\$SEAMEMU_MODULE_BINARY .*x\.so: not a little-endian ELF64"):
        load_module_image(f, "$SEAMEMU_MODULE_BINARY")


def test_a_truncated_elf_is_refused_not_crashed():
    raw = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HH", 3, 62) + bytes(60)
    with pytest.raises(InputError, match="truncated or malformed ELF"):
        parse_module_image(raw, "cut.so")


def test_an_executable_of_another_machine_is_refused():
    raw = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HH", 3, 183) + bytes(100)
    with pytest.raises(InputError, match="machine 183; a TDX module is an x86-64"):
        parse_module_image(raw, "arm.so")


def test_the_real_build(module_binary):
    img = load_module_image(module_binary)
    assert img.generation == "1.5"
    assert img.entry == img.symbol_offset("tdx_seamcall_entry_point")
    assert img.idt_gdt % 4096 == 0
    assert img.relocations and len(img.data) % 4096 == 0
    assert img.symbolize(img.entry + 5) == "tdx_seamcall_entry_point+0x5"
    assert img.symbolize(img.symbol_offset("tdh_sys_init")) == "tdh_sys_init"


def test_an_unknown_version_is_refused(module_binary):
    with open(module_binary, "rb") as f:
        raw = f.read()
    # A 1.0 module has neither TDH.SYS.RD nor TDH.SYS.UPDATE: rename the marker symbols.
    renamed = raw.replace(b"tdh_sys_rd\0", b"tdh_sys_xx\0").replace(b"tdh_sys_update\0",
                                                                     b"tdh_sys_xxxxxx\0")
    with pytest.raises(InputError, match=r"unknown TDX module version .*1\.5 only"):
        parse_module_image(renamed, "old.so")


def test_a_stripped_image_is_refused(module_binary):
    with open(module_binary, "rb") as f:
        raw = bytearray(f.read())
    e_shoff, = struct.unpack_from("<Q", raw, 40)
    e_shentsize, e_shnum = struct.unpack_from("<HH", raw, 58)
    for i in range(e_shnum):       # turn SHT_SYMTAB (2) into SHT_NULL (0)
        off = e_shoff + i * e_shentsize + 4
        if struct.unpack_from("<I", raw, off)[0] == 2:
            struct.pack_into("<I", raw, off, 0)
    with pytest.raises(InputError, match="no symbol table, so not a TDX module image"):
        parse_module_image(bytes(raw), "stripped.so")
