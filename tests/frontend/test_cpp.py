# SPDX-License-Identifier: MIT
"""The C preprocessor: includes, macros, conditionals, comments, line tracking."""

from __future__ import annotations

import pytest
from fe_helpers import code, section

from seamemu.errors import AsmError
from seamemu.frontend import DEFAULT_INCLUDE_DIR, assemble, assemble_text
from seamemu.frontend.cpp import preprocess_file, preprocess_text, with_line_markers


def _text(src: str, **kw) -> list[str]:
    """Non-blank output lines with runs of blanks collapsed."""
    return [" ".join(ln.text.split()) for ln in preprocess_text(src, **kw).lines if ln.text.strip()]


def test_object_and_function_like_macros():
    src = """
#define ZERO 0
#define TWICE(x) ((x) * 2)
#define ADD(a, b) (a + b)
.byte ZERO, TWICE(3), ADD(TWICE(1), (2, 3)[0] - 0 + 1)
"""
    assert _text(src) == [".byte 0, ((3) * 2), (((1) * 2) + (2, 3)[0] - 0 + 1)"]


def test_macro_values_reach_the_assembler():
    src = "#define N 5\n#define SQ(x) ((x) * (x))\n.data\n.byte N, SQ(N), SQ(N + 1)\n"
    assert section(assemble_text(src), ".data").data == bytes([5, 25, 36])


def test_stringify_paste_and_variadic():
    src = """
#define STR(x) #x
#define CAT(a, b) a ## b
#define FIRST(a, rest...) a
#define ALL(...) __VA_ARGS__
.ascii STR(hello world)
CAT(no, p)
.byte FIRST(7, 8, 9), ALL(1, 2)
"""
    assert _text(src) == ['.ascii "hello world"', "nop", ".byte 7, 1, 2"]


def test_macro_does_not_expand_inside_itself():
    src = "#define foo foo + 1\n#define a b\n#define b a\n.long foo, a\n"
    assert _text(src) == [".long foo + 1, a"]


def test_undef():
    assert _text("#define X 1\n#undef X\n#ifdef X\nyes\n#else\nno\n#endif\n") == ["no"]


def test_conditionals_with_defined_and_arithmetic():
    src = """
#define LEVEL 3
#if defined(LEVEL) && LEVEL > 2
a
#elif LEVEL == 2
b
#else
c
#endif
#if !defined LEVEL || (LEVEL << 2) != 12
d
#elif 0x10 / 4 == 4 ? 1 : 0
e
#endif
#ifndef NOPE
#if 0
#bogus directives and #if junk in a skipped group are ignored
#endif
f
#endif
"""
    assert _text(src) == ["a", "e", "f"]


def test_command_line_defines_and_predefined_assembly():
    src = ".byte VALUE\n#ifdef FLAG\n.byte 1\n#endif\n#ifdef __ASSEMBLY__\n.byte 2\n#endif\n"
    assert _text(src, defines={"VALUE": "9", "FLAG": ""}) == [".byte 9", ".byte 1", ".byte 2"]


def test_comments_and_strings():
    src = 'nop /* a\n b */ ; ret // gone\n.ascii "/* kept */ // kept"\n'
    assert _text(src) == ["nop ; ret", '.ascii "/* kept */ // kept"']
    image = assemble_text(src)
    assert section(image, ".text").data[:2] == b"\x90\xc3"
    assert b"/* kept */ // kept" in section(image, ".text").data


def test_line_continuation():
    assert _text("#define LONG 1 + \\\n 2\n.byte LONG\n") == [".byte 1 + 2"]


def test_function_like_call_across_lines():
    src = "#define PAIR(a, b) .byte a, b\nPAIR(1,\n     2)\nnop\n"
    out = preprocess_text(src).lines
    assert [(" ".join(ln.text.split()), ln.line) for ln in out if ln.text.strip()] == [
        (".byte 1, 2", 2), ("nop", 4)]


def test_hash_lines_that_are_not_directives_are_gas_comments():
    assert code("# this is a comment\n#  1 \"file\"\nnop # trailing\n") == b"\x90"


def test_include_search_order(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "local.h").write_text("#define WHICH 1\n")
    (tmp_path / "inc" / "local.h").write_text("#define WHICH 2\n")
    (tmp_path / "inc" / "only_dir.h").write_text("#define OTHER 3\n")
    main = tmp_path / "sub" / "main.S"
    main.write_text('#include "local.h"\n#include <local.h>\n.data\n.byte WHICH\n'
                    '#include "only_dir.h"\n.byte OTHER\n')
    image = assemble([main], include_dirs=[tmp_path / "inc"])
    # "x" looks beside the including file first; <x> only in the include dirs.
    assert section(image, ".data").data == bytes([2, 3])


def test_angle_include_falls_back_to_shipped_headers():
    out = preprocess_text("#include <asm/asm-offsets.h>\n.quad TDX_MODULE_rsi\n")
    assert out.lines[-1].text.strip() == ".quad 96"
    assert any(str(DEFAULT_INCLUDE_DIR) in f for f in out.files)


def test_lines_remember_their_file_and_line(tmp_path):
    (tmp_path / "h.h").write_text("\n\nint3\n")
    main = tmp_path / "m.S"
    main.write_text("nop\n#include \"h.h\"\n/* two\nlines */\nret\n")
    out = preprocess_file(main)
    where = [(ln.file.rsplit("/", 1)[-1], ln.line, ln.text.strip()) for ln in out.lines
             if ln.text.strip()]
    assert where == [("m.S", 1, "nop"), ("h.h", 3, "int3"), ("m.S", 5, "ret")]


def test_line_markers_for_gnu_as(tmp_path):
    (tmp_path / "h.h").write_text("int3\n")
    main = tmp_path / "m.S"
    main.write_text("nop\n#include \"h.h\"\nret\n")
    text = with_line_markers(preprocess_file(main).lines)
    assert text.splitlines() == [f'# 1 "{main}"', "nop", f'# 1 "{tmp_path / "h.h"}"', "int3",
                                 f'# 3 "{main}"', "ret"]


@pytest.mark.parametrize("src, line, words", [
    ("nop\n#if 1\nnop\n", 2, "#if without #endif"),
    ("nop\n#endif\n", 2, "#endif without #if"),
    ("#if 1\n#else\n#else\n#endif\n", 3, "#else after #else"),
    ("\n#include \"missing.h\"\n", 2, "missing.h"),
    ("\n\n#include <nowhere/x.h>\n", 3, "not found"),
    ("#error stop here\n", 1, "stop here"),
    ("#if 1 +\n#endif\n", 1, "#if"),
])
def test_preprocessor_errors_name_file_and_line(src, line, words):
    with pytest.raises(AsmError) as err:
        assemble_text(src, filename="pp.S")
    assert (err.value.file, err.value.line) == ("pp.S", line)
    assert words in str(err.value)


def test_error_in_included_file_names_that_file(tmp_path):
    (tmp_path / "bad.h").write_text("#define OK 1\n#if\n#endif\n")
    main = tmp_path / "m.S"
    main.write_text('#include "bad.h"\n')
    with pytest.raises(AsmError) as err:
        assemble([main])
    assert (err.value.file, err.value.line) == (str(tmp_path / "bad.h"), 2)


UNTERMINATED = [
    # (main file, the line of the `/*` that never closes)
    ("nop\n/* never closed\nnop\nret\n", 2),
    ("nop\nret /* at the end of a line\n", 2),
    ("mov \\\n %rax, /* after a continuation\n%rbx\n", 2),
    ("#if 0\n/* even where nothing is emitted\n#endif\nret\n", 2),
    ("/* closed */ nop /* and\n this one too */\n ret /*\n", 3),
]


@pytest.mark.parametrize("backend", ["keystone", pytest.param("gnu", marks=pytest.mark.gnu_as)])
@pytest.mark.parametrize("src, line", UNTERMINATED)
def test_an_unterminated_comment_is_an_error_at_its_opening(backend, src, line):
    # It used to swallow the rest of the file: an empty program that "ran fine".
    with pytest.raises(AsmError) as err:
        assemble_text(src, filename="c.S", backend=backend)
    assert (err.value.file, err.value.line) == ("c.S", line)
    assert "unterminated comment" in str(err.value)


@pytest.mark.parametrize("backend", ["keystone", pytest.param("gnu", marks=pytest.mark.gnu_as)])
@pytest.mark.parametrize("directive", ['#include "inc.h"', '.include "inc.h"'])
def test_an_unterminated_comment_in_an_included_file_names_that_file(tmp_path, backend, directive):
    (tmp_path / "inc.h").write_text("nop\n\n  /* open\nret\n")
    main = tmp_path / "m.S"
    main.write_text(f"{directive}\nret\n")
    with pytest.raises(AsmError) as err:
        assemble([main], backend=backend)
    assert (err.value.file, err.value.line) == (str(tmp_path / "inc.h"), 3)
    assert "unterminated comment" in str(err.value)


def test_closed_comments_still_vanish():
    src = "nop /* a */ ; ret /* b\n c */\nint3 // gone\n"
    assert code(src) == bytes.fromhex("90c3cc")
