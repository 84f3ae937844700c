# SPDX-License-Identifier: MIT
"""Every kind of source mistake is an AsmError naming the file and the line."""

from __future__ import annotations

import pytest

from seamemu.errors import AsmError
from seamemu.frontend import assemble, assemble_text

CASES = [
    # (source, line of the mistake, words the message must contain)
    ("nop\n  frobnicate %rax\n", 2, "unknown instruction or macro `frobnicate`"),
    ("nop\n  FRAME_BEGIN\n", 2, "unknown instruction or macro `FRAME_BEGIN`"),
    ("nop\njmp nowhere\n", 2, "undefined symbol `nowhere`"),
    (".data\n.quad 1, missing + 8\n", 2, "undefined symbol `missing`"),
    ("nop\n.if 1\nnop\n", 2, "`.if` without `.endif`"),
    ("\n.macro M\nnop\n", 2, "`.macro M` without `.endm`"),
    ("nop\n.endm\n", 2, "`.endm` without `.macro`"),
    ("nop\n.endif\n", 2, "`.endif` without `.if`"),
    ("nop\n.else\n", 2, "`.else` without `.if`"),
    ("nop\n.endr\n", 2, "`.endr` without"),
    (".rept 2\nnop\n", 1, "without `.endr`"),
    (".macro M a:req\n.endm\n\nM\n", 4, "missing required argument `a` of macro `M`"),
    ("nop\njmp 1b\n1: nop\n", 2, "`1b` refers to no earlier `1:` label"),
    ("1: nop\njmp 1f\n", 2, "`1f` refers to no following `1:` label"),
    ("nop\n.frobnicate 1\n", 2, "unknown directive `.frobnicate`"),
    (".intel_syntax noprefix\n", 1, "not supported"),
    ("nop\n.code32\n", 2, "64-bit"),
    (".data\n.byte 1\n.byte 256\n", 3, "value 0x0000000000000100 does not fit in 1 byte"),
    ("a: nop\na: nop\n", 2, "`a` is already defined"),
    ("nop\n.popsection\n", 2, "`.popsection` without `.pushsection`"),
    (".if undefined_thing\n.endif\n", 1, "undefined symbol `undefined_thing`"),
    ("here: nop\n.rept here\n.endr\n", 2, "needs a constant"),
    ("mov 0x10(%rax,%rbx,3), %rcx\n", 1, "scale factor"),
    ("movq %rax, 0x100000000(%rbx)\n", 1, "0x0000000100000000 of `0x100000000` does not fit in 32 bits"),
    ("loop far\n.skip 200\nfar: ret\n", 1, "reaches only -128..127"),
    (".bss\n.byte 1\n", 2, "no-bits section"),
    (".p2align 13\n", 1, "4 KiB"),
    (".section .x, ax\n", 1, "quoted string"),
    ("#if 1\n#endif\n.altmacro\n", 3, "not supported"),
    (".macro A\n.exitm\n.endm\n.exitm\n", 4, "`.exitm` outside a macro"),
    (".err\n", 1, ".err"),
    ('.error "custom stop"\n', 1, "custom stop"),
    # Numbers past 64 bits: GNU as 2.40 says "bignum invalid" or truncates with a warning.
    ("nop\n.set big, 0x1ffffffffffffffff\n", 2, "0x1ffffffffffffffff does not fit in 64 bits"),
    ("big = 0x10000000000000000\n", 1, "does not fit in 64 bits"),
    (".data\n.quad 0x1ffffffffffffffff\n", 2, "does not fit in 64 bits"),
    (".data\n.quad 18446744073709551617 - 1\n", 2, "does not fit in 64 bits"),
    (".data\n.fill 1, 8, 0x1ffffffffffffffff\n", 2, "does not fit in 64 bits"),
    (".if 0x1ffffffffffffffff\n.endif\n", 1, "does not fit in 64 bits"),
    (".data\n.quad 1 << 64\n", 2, "shift count 64 is out of range"),
    (".data\n.quad 8 >> -1\n", 2, "shift count -1 is out of range"),
    (".data\n.fill 1, -1, 0\n", 2, "`.fill` size -1 is negative"),
]


@pytest.mark.parametrize("src, line, words", CASES)
def test_error_names_file_and_line(src, line, words):
    with pytest.raises(AsmError) as err:
        assemble_text(src, filename="bad.S")
    assert err.value.file == "bad.S"
    assert err.value.line == line
    assert words in str(err.value)
    assert str(err.value).startswith(f"bad.S:{line}: ")


def test_error_in_macro_body_names_body_line_and_invocation():
    src = ".macro M\n  nop\n  bogus_insn\n.endm\n\nM\n"
    with pytest.raises(AsmError) as err:
        assemble_text(src, filename="mac.S")
    assert (err.value.file, err.value.line) == ("mac.S", 3)
    assert "invoked at mac.S:6" in str(err.value)


def test_error_in_included_header_names_the_header(tmp_path):
    (tmp_path / "bad.h").write_text("\n.macro BROKEN\n  .nonsense\n.endm\n")
    main = tmp_path / "main.S"
    main.write_text('#include "bad.h"\nnop\nBROKEN\n')
    with pytest.raises(AsmError) as err:
        assemble([main])
    assert (err.value.file, err.value.line) == (str(tmp_path / "bad.h"), 3)
    assert f"invoked at {main}:3" in str(err.value)


def test_missing_input_file_and_unknown_backend(tmp_path):
    with pytest.raises(AsmError) as err:
        assemble([tmp_path / "absent.S"])
    assert err.value.file == str(tmp_path / "absent.S")
    with pytest.raises(AsmError, match="unknown assembler backend"):
        assemble_text("nop", backend="nasm")
