# SPDX-License-Identifier: MIT
"""Sections, alignment, relaxation, symbols, the exception table, the line map, linking, cache."""

from __future__ import annotations

import pytest
from fe_helpers import code, section

from seamemu.arch.kernel import EX_TYPE_DEFAULT, EX_TYPE_FAULT
from seamemu.errors import AsmError
from seamemu.frontend import assemble, assemble_text
from seamemu.frontend.directives import NOPS
from seamemu.image import IMAGE_BASE


def test_sections_are_page_aligned_executable_first():
    src = """
    .data
    .byte 1
    .text
    nop
    .section .rodata.x, "a"
    .byte 2
    .section .noinstr.text, "ax"
    ret
    .section .unused, "a"
    .bss
    .skip 16
    """
    image = assemble_text(src)
    layout = [(s.name, s.address, s.flags) for s in image.sections]
    assert layout == [
        (".text", IMAGE_BASE, "ax"),
        (".noinstr.text", IMAGE_BASE + 0x1000, "ax"),
        (".data", IMAGE_BASE + 0x2000, "aw"),
        (".bss", IMAGE_BASE + 0x3000, "aw"),
        (".rodata.x", IMAGE_BASE + 0x4000, "a"),
    ]
    assert section(image, ".bss").data == bytes(16)


def test_big_section_pushes_the_next_one_to_the_following_page():
    image = assemble_text(".skip 0x1234, 0xcc\n.data\n.byte 1\n")
    assert section(image, ".data").address == IMAGE_BASE + 0x2000


def test_alignment_pads_code_with_nops_and_data_with_zeros():
    image = assemble_text("ret\n.p2align 3\nret\n.balign 4, 0xcc\nret\n.data\n.byte 1\n.align 8\n.byte 2\n"
                          ".p2align 4,,3\n.byte 3\n")
    assert section(image, ".text").data == b"\xc3" + NOPS[7] + b"\xc3\xcc\xcc\xcc\xc3"
    # The last .p2align would need 7 bytes but may use at most 3, so it does nothing.
    assert section(image, ".data").data == b"\x01" + bytes(7) + b"\x02\x03"


def test_branches_relax_from_short_to_near():
    text = code("jmp far\njne far\n.skip 200\nfar: jmp back\nback: jmp far\n")
    assert text[:5] == b"\xe9" + (6 + 200).to_bytes(4, "little")          # near jmp
    assert text[5:11] == b"\x0f\x85" + (200).to_bytes(4, "little")          # near jne
    assert text[-4:] == b"\xeb\x00\xeb\xfc"                                  # short ones


def test_branch_to_another_section_stays_near():
    image = assemble_text("jmp other\n.section .x, \"ax\"\nother: ret\n")
    text = section(image, ".text")
    target = text.address + 5 + int.from_bytes(text.data[1:5], "little", signed=True)
    assert text.data[0] == 0xE9 and target == image.symbols["other"]


def test_symbols_include_dot_l_labels_but_not_numeric_ones():
    image = assemble_text(".globl g\ng: nop\n.Llocal: nop\n1: nop\nplain: jmp 1b\n.set k, 5\n")
    assert set(image.symbols) == {"g", ".Llocal", "plain"}
    assert image.globals == frozenset({"g"})
    assert image.symbols[".Llocal"] == image.symbols["g"] + 1


def test_extable_entries_are_absolute():
    src = """
    #include <asm/asm.h>
    f:
    1:  rdmsr
    2:  ret
        _ASM_EXTABLE_FAULT(1b, 2b)
        _ASM_EXTABLE(2b, 1b)
    """
    image = assemble_text(src)
    f = image.symbols["f"]
    assert [(e.fault, e.fixup, e.type) for e in image.extable] == [
        (f, f + 2, EX_TYPE_FAULT), (f + 2, f, EX_TYPE_DEFAULT)]
    assert image.extable_entry(f).fixup == f + 2


def test_extable_of_wrong_size_is_an_error():
    with pytest.raises(AsmError, match="whole number"):
        assemble_text('.pushsection "__ex_table","a"\n.long 0\n.popsection\n')


def test_lines_map_every_item_to_its_source(tmp_path):
    (tmp_path / "m.h").write_text(".macro TWO\n  nop\n  int3\n.endm\n")
    main = tmp_path / "main.S"
    main.write_text('#include "m.h"\nstart:\n  ret\n  TWO\n.data\n  .quad start\n')
    image = assemble([main])
    rows = [(ln.file.rsplit("/", 1)[-1], ln.line, ln.size, ln.text) for ln in image.lines]
    assert rows == [("main.S", 3, 1, "ret"), ("m.h", 2, 1, "nop"), ("m.h", 3, 1, "int3"),
                    ("main.S", 6, 8, ".quad start")]
    start = image.symbols["start"]
    assert image.line_at(start + 2).text == "int3"


def test_dot_and_label_differences_in_data():
    image = assemble_text("a: nop\nb: nop\n.data\nhere: .long b - a, . - here, .-here\n"
                          ".quad (1f) - .\n1: .skip b - a + 2\n")
    data = section(image, ".data").data
    assert data[:12] == (1).to_bytes(4, "little") + (4).to_bytes(4, "little") + (8).to_bytes(4, "little")
    assert int.from_bytes(data[12:20], "little") == 8
    assert len(data) == 20 + 3


def test_files_are_linked_with_local_scopes(tmp_path):
    (tmp_path / "a.S").write_text(".globl main\nmain: call lib\n.Lx: jmp .Lx\n")
    (tmp_path / "b.S").write_text(".globl lib\nlib: .Lx: ret\n")
    image = assemble([tmp_path / "a.S", tmp_path / "b.S"])
    text = section(image, ".text")
    assert image.symbols["lib"] == text.address + 7
    assert image.symbols[".Lx"] == text.address + 5
    assert image.symbols[".Lx@b.S"] == image.symbols["lib"]
    assert image.globals == frozenset({"main", "lib"})


def test_linking_errors(tmp_path):
    (tmp_path / "a.S").write_text(".globl f\nf: call g\n")
    (tmp_path / "b.S").write_text("g: ret\n")
    with pytest.raises(AsmError, match="undefined symbol `g`") as err:
        assemble([tmp_path / "a.S", tmp_path / "b.S"])
    assert (err.value.file, err.value.line) == (str(tmp_path / "a.S"), 2)
    (tmp_path / "c.S").write_text(".globl f\nf: ret\n")
    with pytest.raises(AsmError, match="also defined"):
        assemble([tmp_path / "a.S", tmp_path / "c.S"])


def test_same_inputs_are_assembled_once(tmp_path):
    (tmp_path / "v.h").write_text("#define V 1\n")
    main = tmp_path / "m.S"
    main.write_text('#include "v.h"\n.data\n.byte V\n')
    first = assemble([main])
    assert assemble([main]) is first
    assert assemble([main], defines={"X": "1"}) is not first
    (tmp_path / "v.h").write_text("#define V 2\n")   # an included file changed
    assert section(assemble([main]), ".data").data == b"\x02"
    assert assemble_text("nop") is assemble_text("nop")


def test_image_symbols_cannot_be_changed_through_the_cache():
    image = assemble_text("only: nop\n")
    with pytest.raises(TypeError):
        image.symbols["only"] = 0
