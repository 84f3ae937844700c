# SPDX-License-Identifier: MIT
"""GAS macros, conditionals, repetition and symbol assignment, expanded by the front end."""

from __future__ import annotations

import pytest
from fe_helpers import code, section

from seamemu.errors import AsmError
from seamemu.frontend import assemble, assemble_text


def data(src: str) -> bytes:
    return section(assemble_text(".data\n" + src), ".data").data


def test_positional_keyword_and_default_arguments():
    src = ".macro M a, b=7, c\n.byte \\a, \\b, \\c + 0\n.endm\nM 1, 2, 3\nM 4\nM c=9, a=5\nM 6 c=1\n"
    assert data(src) == bytes([1, 2, 3, 4, 7, 0, 5, 7, 9, 6, 7, 1])


def test_blank_argument_takes_default_and_quotes_are_stripped():
    src = '.macro M a=3 b\n.byte \\a\n.ascii "\\b"\n.endm\nM , "x y"\n'
    assert data(src) == b"\x03x y"


def test_separator_and_unique_counter():
    src = ".macro L n\n.Lx\\n\\()_\\@: .byte \\@\n.endm\nL 1\nL 1\n"
    image = assemble_text(".data\n" + src)
    assert section(image, ".data").data == bytes([0, 1])
    assert {".Lx1_0", ".Lx1_1"} <= set(image.symbols)


def test_vararg_and_irp():
    src = ".macro SAVE regs:vararg\n.irp r, \\regs\npush %\\r\n.endr\n.endm\nSAVE rbx, r12\n"
    assert code(src) == bytes.fromhex("53 4154")


def test_exitm_stops_the_expansion():
    src = ".macro M n\n.byte 1\n.if \\n\n.exitm\n.endif\n.byte 2\n.endm\nM 0\nM 1\n.byte 3\n"
    assert data(src) == bytes([1, 2, 1, 3])


def test_nested_conditionals():
    src = """
.macro PICK x
.if \\x == 1
 .byte 10
.elseif \\x == 2
 .if 1
  .byte 20
 .else
  .byte 99
 .endif
.else
 .byte 30
.endif
.endm
PICK 1
PICK 2
PICK 3
"""
    assert data(src) == bytes([10, 20, 30])


@pytest.mark.parametrize("cond, expected", [
    (".ifdef defined_sym", 1), (".ifdef nope", 0), (".ifndef nope", 1),
    (".ifb", 1), (".ifb x", 0), (".ifnb x", 1), (".ifc abc, abc", 1), (".ifc abc, abd", 0),
    (".ifnc a, b", 1), (".ifeq 2 - 2", 1), (".ifne 0", 0), (".ifgt -1", 0), (".iflt -1", 1),
    (".ifge 0", 1), (".ifle 1", 0), (".if 3 > 2 && 1", 1), ('.ifeqs "a", "a"', 1),
])
def test_conditional_kinds(cond, expected):
    src = f".set defined_sym, 1\n{cond}\n.byte 1\n.else\n.byte 0\n.endif\n"
    assert data(src) == bytes([expected])


def test_rept_irpc_and_set_reassignment():
    src = (".set n, 1\n.rept 3\n.byte n\n.set n, n * 3\n.endr\n.irpc c, 579\n.byte \\c\n.endr\n"
           "x = 4\n.byte x\n.equ y, x + 1\n.byte y\n")
    assert data(src) == bytes([1, 3, 9, 5, 7, 9, 4, 5])


def test_macro_names_are_case_insensitive_and_can_be_purged():
    src = ".macro Twice\nnop\nnop\n.endm\nTWICE\ntwice\n.purgem twice\n.macro twice\nret\n.endm\ntwice\n"
    assert code(src) == b"\x90" * 4 + b"\xc3"


def test_macros_calling_macros_and_recursion():
    src = """
.macro ONE
 inc %eax
.endm
.macro MANY n
.if \\n
 ONE
 MANY "(\\n-1)"
.endif
.endm
MANY 3
"""
    assert code(src) == bytes.fromhex("ffc0") * 3


def test_set_symbol_referring_to_a_label_is_evaluated_in_place():
    src = "start: nop\n.set here, .\nnop\n.set alias, start + 1\n.data\n.quad here, alias\n"
    image = assemble_text(src)
    start = image.symbols["start"]
    values = section(image, ".data").data
    assert int.from_bytes(values[:8], "little") == start + 1
    assert int.from_bytes(values[8:], "little") == start + 1
    assert image.symbols["alias"] == start + 1


def test_dot_include(tmp_path):
    (tmp_path / "defs.inc").write_text(".macro FIVE\n.byte 5 /* via .include */\n.endm\n")
    main = tmp_path / "m.S"
    main.write_text('.include "defs.inc"\n.data\nFIVE\n')
    assert section(assemble([main]), ".data").data == b"\x05"


def test_runaway_recursion_is_an_error_not_a_hang():
    with pytest.raises(AsmError) as err:
        assemble_text(".macro R\nR\n.endm\nR\n", filename="rec.S")
    assert "nested too deeply" in str(err.value)
    assert err.value.file == "rec.S"


def test_unknown_keyword_and_too_many_arguments():
    with pytest.raises(AsmError, match="no parameter named `nope`"):
        assemble_text(".macro M a\n.endm\nM nope=1\n")
    with pytest.raises(AsmError, match="too many arguments"):
        assemble_text(".macro M a\n.endm\nM 1, 2\n")
