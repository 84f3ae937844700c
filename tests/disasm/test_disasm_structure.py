# SPDX-License-Identifier: MIT
"""Instructions decoded into values: what the assembler's check compares, and what it refuses."""

from __future__ import annotations

import pytest

from seamemu.arch.opcodes import SEAM_OPCODES
from seamemu.disasm import Operand, decode_structure, disassemble


def test_operands_come_in_att_order_with_every_field():
    d = decode_structure(bytes.fromhex("65488b4cd810"))   # movq %gs:0x10(%rax,%rbx,8), %rcx
    assert d is not None and (d.size, d.mnemonic, d.prefixes) == (6, "movq", ())
    assert d.operands == (
        Operand("mem", 8, segment="gs", base="rax", index="rbx", scale=8, disp=0x10),
        Operand("reg", 8, reg="rcx"),
    )


def test_immediates_are_the_values_the_cpu_uses():
    d = decode_structure(bytes.fromhex("4883c0ff"))       # addq $-1 (imm8, sign-extended)
    assert d is not None and d.operands[0] == Operand("imm", 8, imm=-1)


def test_riz_reads_as_no_index():
    # keystone's `lea (%rax,%rsp,2)`: the SIB index field says "none", which capstone prints %riz.
    d = decode_structure(bytes.fromhex("488d1c60"))
    assert d is not None and d.operands[0].index == "" and d.operands[0].scale == 2


def test_prefix_words_are_kept_apart_from_the_mnemonic():
    d = decode_structure(bytes.fromhex("f0ff00"))          # lock incl (%rax)
    assert d is not None and (d.prefixes, d.mnemonic) == (("lock",), "incl")


@pytest.mark.parametrize("code", [
    "ce",          # INTO: invalid in 64-bit mode
    "37",          # AAA
    "d6",          # SALC
    "60",          # PUSHA
    "c400",        # LES (C4 is a VEX prefix in 64-bit mode)
    "f0c3",        # LOCK RET
    "f04889c3",    # LOCK MOV between registers
])
def test_what_a_64_bit_cpu_raises_ud_on_does_not_decode(code):
    assert decode_structure(bytes.fromhex(code)) is None


@pytest.mark.parametrize("code, name", [(c.hex(), n) for c, n in SEAM_OPCODES])
def test_the_seam_family_is_named_where_capstone_cannot(code, name):
    d = decode_structure(bytes.fromhex(code))
    assert d is not None and (d.size, d.mnemonic, d.operands) == (4, name, ())
    assert next(disassemble(bytes.fromhex(code), 0)).mnemonic == name


def test_branch_sites_are_the_branches_that_can_reach_a_non_canonical_address():
    from seamemu.disasm import branch_sites

    # ret; jmp *%rax; call *%rax; call (direct, canonical); ret $8; jmp *(%rip); nop
    code = bytes.fromhex("c3" "ffe0" "ffd0" "e800000000" "c20800" "ff2500000000" "90")
    assert branch_sites(code, 0x1000) == (0x1000, 0x1001, 0x1003, 0x100A, 0x100D)
    # A direct jump whose target is past the canonical lower half is watched too.
    top = (1 << 47) - 0x10
    assert branch_sites(bytes.fromhex("e97b000000"), top) == (top,)   # jmp top+0x80
