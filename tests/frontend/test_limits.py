# SPDX-License-Identifier: MIT
"""The front end's limits (seamemu/frontend/limits.py, docs/limits.md): each is hit with a
clean AsmLimitError naming the line, on both backends, and what is inside them works."""

from __future__ import annotations

from pathlib import Path

import pytest
from fe_helpers import code

from seamemu.errors import AsmError, AsmLimitError
from seamemu.frontend import assemble_text, limits
from seamemu.frontend.cpp import preprocess_text
from seamemu.frontend.expr import ExprError, evaluate_c, parse

BACKENDS = ["keystone", pytest.param("gnu", marks=pytest.mark.gnu_as)]
DOC = (Path(__file__).resolve().parents[2] / "docs" / "limits.md").read_text(encoding="utf-8")


def test_the_documented_numbers_are_the_ones_in_force():
    for value in (limits.MAX_STATEMENTS, limits.MAX_EXPANSION_WORK):
        assert f"| {value:,} |" in DOC
    assert f"{limits.MAX_IMAGE_BYTES >> 20} MiB" in DOC
    assert f"{limits.MAX_LINE_CHARS >> 10} KiB" in DOC
    assert f"{limits.MAX_EXPR_NESTING} levels" in DOC


@pytest.mark.parametrize("backend", BACKENDS)
def test_statements_past_the_limit_are_refused_on_both_backends(monkeypatch, backend):
    monkeypatch.setattr(limits, "MAX_STATEMENTS", 30)
    ok = ".text\n.rept 29\nnop\n.endr\n"
    assert len(assemble_text(ok, filename="ok.S", backend=backend).sections[0].data) == 29
    with pytest.raises(AsmLimitError, match=r"big.S:3: the program expands to more than 30 "):
        assemble_text(".text\n.rept 31\nnop\n.endr\n", filename="big.S", backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_rept_past_the_work_limit_is_refused_before_it_expands(backend):
    # 10^12 rounds of nothing: refused at the inner .rept's first round, not looped through.
    src = ".text\n.rept 1000000\n.rept 1000000\n.endr\n.endr\n"
    with pytest.raises(AsmLimitError, match=r"nested.S:2: macro and .rept expansion looked at "
                                            r"more than 200,000 statements"):
        assemble_text(src, filename="nested.S", backend=backend)


def test_an_exponential_macro_stops_at_the_statement_limit(monkeypatch):
    monkeypatch.setattr(limits, "MAX_STATEMENTS", 1000)
    src = "".join(f".macro m{i}\nm{i + 1}\nm{i + 1}\n.endm\n" for i in range(40))
    with pytest.raises(AsmLimitError, match="more than 1,000 statements"):
        assemble_text(src + ".macro m40\nnop\n.endm\n.text\nm0\n", filename="exp.S")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("directive", [".skip 0x10000000000", ".fill 0x7fffffff, 8, 0",
                                       ".zero 0x7fffffffffffffff"])
def test_the_image_limit_is_checked_before_any_byte_is_allocated(backend, directive):
    # GNU as writes the object first: its output bound (docs/limits.md) may stop it sooner.
    with pytest.raises(AsmLimitError, match=r"64 MiB image limit|object file passed 192 MiB"):
        assemble_text(f".data\n{directive}\n", filename="huge.S", backend=backend)


def test_the_image_limit_error_names_the_line():
    with pytest.raises(AsmLimitError, match=r"huge.S:3: `.space` of 1,099,511,627,776 bytes"):
        assemble_text(".data\n.byte 1\n.space 1<<40\n", filename="huge.S")


def test_a_16_mib_space_is_inside_the_limits():
    image = assemble_text(".data\nbuf:\n.space 1<<24\n", filename="big.S")
    assert len(image.sections[0].data) == 1 << 24


def test_expression_nesting_has_a_limit_and_long_chains_need_none():
    depth = limits.MAX_EXPR_NESTING
    assert code(".text\nmovq $" + "(" * depth + "7" + ")" * depth + ", %rax\n") == \
        bytes.fromhex("48c7c007000000")
    with pytest.raises(AsmError, match=r"deep.S:2: .*nested more "
                                                                     r"than 100 levels"):
        assemble_text(".text\nmovq $" + "(" * (depth + 1) + "7" + ")" * (depth + 1) + ", %rax\n",
                      filename="deep.S")
    # 5,000 terms: a left-deep tree evaluated in a loop (recursion stopped near 1,000).
    assert code(".text\nmovq $(" + "+".join(["1"] * 5000) + "), %rax\n") == \
        bytes.fromhex("48c7c088130000")


def test_if_arithmetic_is_64_bit():
    assert evaluate_c(parse("(1 << 63) > 0", True)) == 1
    assert evaluate_c(parse("+".join(["1"] * 20_000), True)) == 20_000
    for text, why in (("1 << 64", "shift by 64"), ("(1 << 62) * 8", "overflows 64 bits"),
                      ("1 << 100000000000", "shift by 100000000000")):
        with pytest.raises(ExprError, match=why):
            evaluate_c(parse(text, True))
    with pytest.raises(ExprError, match="nested more than 100 levels"):
        parse("1 ? " * 101 + "1" + " : 0" * 101, True)


def test_a_logical_line_has_a_limit_and_an_open_macro_call_is_linear():
    with pytest.raises(AsmLimitError, match=r"long.S:2: a logical line of more than 64 KiB"):
        preprocess_text(".text\nnop" + " " * (64 << 10) + "\n", "long.S")
    # A call left open for 40,000 lines: refused at the line limit, one scan per line joined.
    src = "#define F(x) x\n.text\nF(\n" + "a,\n" * 40_000
    with pytest.raises(AsmLimitError, match=r"open.S:3: .*a macro call left open"):
        preprocess_text(src, "open.S")


def test_a_c_macro_that_grows_the_line_stops_at_the_token_limit():
    src = ("#define A" + " B" * 1000 + "\n#define B" + " C" * 1000 + "\n#define C" + " D" * 1000
           + "\nA\n")
    with pytest.raises(AsmError, match=r"wide.S:4: macro expansion of [ABC] grows the line past "
                                       r"100,000 tokens"):
        preprocess_text(src, "wide.S")


def test_sources_are_read_bounded(tmp_path):
    main = tmp_path / "inc.S"
    main.write_text('#include "/dev/zero"\n')
    with pytest.raises(AsmLimitError, match=r"inc.S:1: #include `/dev/zero`: .*larger than 1 MiB"):
        preprocess_text(main.read_text(), str(main))
