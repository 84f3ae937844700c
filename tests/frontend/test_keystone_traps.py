# SPDX-License-Identifier: MIT
"""One regression test per keystone 0.9.2 trap: the front end must never fall into it."""

from __future__ import annotations

from fe_helpers import code, section

from seamemu.arch.opcodes import MNEMONIC_BYTES
from seamemu.frontend import assemble_text


def test_decimal_displacement_is_decimal():
    # keystone in AT&T mode reads 16(%rsi) as 0x16 (#569/#571).
    assert code("movq 16(%rsi), %rcx\nmovq %rax, -24(%rbp)") == bytes.fromhex("488b4e10 488945e8")


def test_decimal_immediate_is_decimal():
    assert code("mov $10, %eax\npushq $100") == bytes.fromhex("b80a000000 6a64")


def test_decimal_data_values():
    image = assemble_text(".data\n.byte 102, 10\n.long 1000")
    assert section(image, ".data").data == bytes([102, 10]) + (1000).to_bytes(4, "little")


def test_registers_with_digits_are_left_alone():
    assert code("mov %r8, %r10\nxorl %r8d, %r8d") == bytes.fromhex("4d89c2 4531c0")


def test_macro_local_labels_in_a_macro_used_twice():
    # keystone hangs on a macro that defines and jumps to `.Lx\@`.
    src = ".macro spin\n.Lx\\@: jmp .Lx\\@\n.endm\nspin\nspin\n"
    image = assemble_text(src)
    assert section(image, ".text").data == bytes.fromhex("ebfe ebfe")
    assert image.symbols[".Lx0"] + 2 == image.symbols[".Lx1"]


def test_labelled_instruction_in_macro_is_not_dropped():
    # keystone silently drops the instruction in `lbl\@: nop`.
    image = assemble_text(".macro m\nlbl\\@: nop\n.endm\nm\nm\nm\n")
    assert section(image, ".text").data == b"\x90\x90\x90"
    assert [image.symbols[f"lbl{i}"] - image.symbols["lbl0"] for i in range(3)] == [0, 1, 2]


def test_keyword_argument_tested_by_if():
    # keystone hangs on a keyword argument that the body tests with `.if`.
    src = ".macro C host:req ret=0\n.if \\ret\nret\n.endif\nnop\n.endm\nC 1 ret=1\nC 1\n"
    assert code(src) == bytes.fromhex("c390 90")


def test_section_directives_that_crash_keystone():
    # `.text` and `.pushsection` segfault keystone; `.section .text` returns nothing.
    src = """
    .text
    nop
    .section .noinstr.text, "ax"
    ret
    .section .text
    int3
    .pushsection "__ex_table","a"
    .long 0, 0, 0
    .popsection
    hlt
    """
    image = assemble_text(src)
    assert section(image, ".text").data == bytes.fromhex("90 cc f4")
    noinstr = section(image, ".noinstr.text")
    assert noinstr.data == b"\xc3" and noinstr.executable
    assert section(image, "__ex_table").flags == "a"


def test_type_and_size_are_accepted():
    image = assemble_text(".globl f\n.type f, @function\nf: ret\n.size f, .-f\n")
    assert image.symbols["f"] == section(image, ".text").address
    assert "f" in image.globals


def test_numeric_local_labels():
    src = "1: nop\n jmp 1b\n jmp 1f\n ud2\n1: jmp 1b\n"
    # 1b from the first jmp goes back 3 bytes; 1f skips ud2; the last 1b is itself.
    assert code(src) == bytes.fromhex("90 ebfd eb02 0f0b ebfe")


def test_seam_family_and_endbr64_mnemonics():
    for mnemonic, encoding in MNEMONIC_BYTES.items():
        assert code(mnemonic) == encoding, mnemonic


def test_nop_with_operand_is_a_nop_not_a_prefetch():
    # keystone encodes `nopl (%rax)` as 0F 18 (PREFETCH); the NOP is 0F 1F /0.
    assert code("nopl (%rax)\nnopw 0x0(%rax,%rax,1)") == bytes.fromhex("0f1f00 660f1f0400")


def test_absolute_memory_operand_stays_absolute():
    # keystone would make %gs:0x10 RIP-relative.
    assert code("movq %rax, %gs:0x10") == bytes.fromhex("65 48 89 04 25 10 00 00 00")


def test_mov_small_immediate_to_64bit_register_is_not_movabs():
    assert code("mov $-16, %rax\nmov $0x8000ff0000000000, %rax") == bytes.fromhex(
        "48c7c0f0ffffff 48b80000000000ff0080")


def test_prefix_statement_forms():
    # keystone returns nothing for `cs nop`; `rep; ret` is two statements on one line.
    assert code("cs nop\nrep; ret\nlock incl (%rax)") == bytes.fromhex("2e90 f3c3 f0ff00")
