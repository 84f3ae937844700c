# SPDX-License-Identifier: MIT
"""keystone and GNU as backends build the same program from the same kernel-style source.

Where both pick the same encodings the images must be byte-identical.  Where keystone picks
another valid encoding, both are disassembled and compared instruction by instruction, with
branch and RIP-relative targets resolved to positions in the instruction stream (lengths may
differ, which shifts addresses).
"""

from __future__ import annotations

import re
from pathlib import Path

import capstone
import pytest

from seamemu.errors import AsmError, AsmWarning, EngineError
from seamemu.frontend import assemble, assemble_text, gnu

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = sorted((HERE / "corpus").glob("*.S"))
# The shipped stubs (asm/tdxcall.S, asm/seamcall.S, ...), whatever exists when the tests run.
STUBS = sorted((REPO / "asm").glob("*.S"))

_RIP = re.compile(r"\[rip ([+-]) (0x[0-9a-f]+|\d+)\]")


def _decode(section) -> list:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.skipdata = True
    return list(md.disasm(section.data, section.address))


def _is_padding(insn) -> bool:
    return insn.mnemonic.startswith("nop") or (insn.mnemonic == "xchg" and insn.op_str == "ax, ax")


class _Program:
    """A backend's image seen as instruction streams: addresses become stream positions."""

    def __init__(self, image):
        self.image = image
        self.code = {s.name: [i for i in _decode(s) if not _is_padding(i)]
                     for s in image.sections if s.executable}

    def anchor(self, address: int) -> tuple:
        sec = self.image.section_at(address)
        if sec is None:
            # One past the end of a section (a label at its end) still names that section.
            sec = next((s for s in self.image.sections if s.end == address), None)
            if sec is None:
                return ("abs", address)
        if sec.name not in self.code:
            return (sec.name, address - sec.address)
        stream = self.code[sec.name]
        for k, insn in enumerate(stream):
            if insn.address >= address:
                return (sec.name, k, insn.address - address)
        return (sec.name, len(stream), 0)

    def instructions(self, name: str) -> list[str]:
        out = []
        for insn in self.code[name]:
            text = insn.op_str
            if insn.mnemonic.startswith(("j", "call", "loop")):
                if re.fullmatch(r"0x[0-9a-f]+", text):
                    text = str(self.anchor(int(text, 16)))
            m = _RIP.search(text)
            if m:
                disp = int(m.group(2), 0) * (-1 if m.group(1) == "-" else 1)
                text = text[:m.start()] + f"[{self.anchor(insn.address + insn.size + disp)}]" \
                    + text[m.end():]
            out.append(f"{insn.mnemonic} {text}")
        return out


def assert_same_program(ks, gnu_image) -> None:
    assert [(s.name, s.flags) for s in ks.sections] == [(s.name, s.flags) for s in gnu_image.sections]
    assert set(ks.symbols) == set(gnu_image.symbols)
    assert ks.globals == gnu_image.globals
    assert len(ks.extable) == len(gnu_image.extable)
    if [(s.address, s.data) for s in ks.sections] == [(s.address, s.data) for s in gnu_image.sections]:
        assert dict(ks.symbols) == dict(gnu_image.symbols)
        assert ks.extable == gnu_image.extable
        return
    a, b = _Program(ks), _Program(gnu_image)
    for name in a.code:
        assert a.instructions(name) == b.instructions(name), name
    for sym in ks.symbols:
        assert a.anchor(ks.symbols[sym]) == b.anchor(gnu_image.symbols[sym]), sym
    for x, y in zip(ks.extable, gnu_image.extable):
        assert (a.anchor(x.fault), a.anchor(x.fixup), x.type) == \
            (b.anchor(y.fault), b.anchor(y.fixup), y.type)
    for s, t in zip(ks.sections, gnu_image.sections):
        if not s.executable:
            assert len(s.data) == len(t.data), s.name


@pytest.mark.gnu_as
@pytest.mark.parametrize("path", CORPUS + STUBS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_backends_agree(path):
    assert_same_program(assemble([path]), assemble([path], backend="gnu"))


def test_corpus_is_there():
    assert len(CORPUS) >= 10


@pytest.mark.gnu_as
def test_backends_agree_when_linking_files(tmp_path):
    (tmp_path / "a.S").write_text(
        ".globl start\nstart:\n call helper\n call b_func\n jmp .Lout\n.Lout: ret\n"
        "helper: ret\n.data\n.quad b_func, b_data\n")
    (tmp_path / "b.S").write_text(
        ".p2align 4\n.globl b_func\nb_func: call helper\n.Lout: ret\nhelper: nop\n ret\n"
        ".data\n.globl b_data\nb_data: .long 5\n")
    files = [tmp_path / "a.S", tmp_path / "b.S"]
    ks, gn = assemble(files), assemble(files, backend="gnu")
    assert_same_program(ks, gn)
    # Locals stay in their file: each `call helper` reaches its own file's helper.
    assert ks.symbols["helper"] != ks.symbols["helper@b.S"]


@pytest.mark.gnu_as
def test_the_comparison_sees_a_difference():
    one = assemble_text("f: mov %rax, %rbx\n jmp f\n")
    other = assemble_text("f: mov %rax, %rcx\n jmp f\n", backend="gnu")
    with pytest.raises(AssertionError):
        assert_same_program(one, other)


@pytest.mark.gnu_as
def test_gnu_errors_name_file_and_line():
    with pytest.raises(AsmError) as err:
        assemble_text("nop\n\n bogus_insn %rax\n", filename="g.S", backend="gnu")
    assert (err.value.file, err.value.line) == ("g.S", 3)
    with pytest.raises(AsmError) as err:
        assemble_text("nop\n call nowhere\n", filename="u.S", backend="gnu")
    assert (err.value.file, err.value.line) == ("u.S", 2)
    assert "undefined symbol `nowhere`" in str(err.value)


@pytest.mark.parametrize("backend", ["keystone", pytest.param("gnu", marks=pytest.mark.gnu_as)])
def test_lines_point_at_the_line_that_wrote_each_instruction(tmp_path, backend):
    (tmp_path / "h.h").write_text(".macro TWO\n nop\n nop\n.endm\n")
    main = tmp_path / "m.S"
    main.write_text('#include "h.h"\n ret\n TWO\n int3\n .byte 0x90\n')
    image = assemble([main], backend=backend)
    where = [(Path(ln.file).name, ln.line, ln.size, ln.text) for ln in image.lines]
    # Through the #include and into the macro body (GNU as alone would give the invoking
    # line); data in code on its own line.
    assert where == [("m.S", 2, 1, "ret"), ("h.h", 2, 1, "nop"), ("h.h", 3, 1, "nop"),
                     ("m.S", 4, 1, "int3"), ("m.S", 5, 1, ".byte 0x90")]


def test_missing_gnu_as_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(gnu.shutil, "which", lambda name: None)
    with pytest.raises(EngineError, match="GNU assembler `as` is not on PATH"):
        assemble_text("nop # no as here\n", backend="gnu")


def test_the_comparison_accepts_another_valid_encoding():
    # A short jmp and a hand-made near jmp to the same place are the same program.
    short = assemble_text("f: jmp g\n nop\ng: ret\n")
    near = assemble_text("f: .byte 0xe9\n .long g - . - 4\n nop\ng: ret\n")
    assert short.sections[0].data != near.sections[0].data
    assert_same_program(short, near)


def _random_expr(rng, depth: int = 0) -> str:
    if depth > 3 or rng.random() < 0.3:
        return str(rng.choice([0, 1, 2, 3, 7, 8, 15, 16, 100, 255, 1000, 0x7FFF, 0x12345678]))
    if rng.random() < 0.2:
        return rng.choice(["-", "~", "!"]) + "(" + _random_expr(rng, depth + 1) + ")"
    op = rng.choice(["+", "-", "*", "/", "%", "<<", ">>", "|", "&", "^", "==", "!=", "<", ">",
                     "<=", ">=", "&&", "||", "!"])
    left, right = _random_expr(rng, depth + 1), _random_expr(rng, depth + 1)
    if op in ("/", "%"):
        right = f"(({right}) | 1)"           # never zero
    if op in ("<<", ">>"):
        right = f"(({right}) & 31)"          # a defined shift count
    return f"{left} {op} {right}"


@pytest.mark.gnu_as
def test_expression_evaluation_matches_gnu_as():
    import random
    rng = random.Random(20240501)
    exprs = [_random_expr(rng) for _ in range(300)]
    src = ".data\n" + "".join(f".quad {e}\n" for e in exprs)
    ks = assemble_text(src).sections[0].data
    gn = assemble_text(src, backend="gnu").sections[0].data
    for k, e in enumerate(exprs):
        assert ks[8 * k:8 * k + 8] == gn[8 * k:8 * k + 8], e


@pytest.mark.gnu_as
@pytest.mark.parametrize("backend", ["keystone", "gnu"])
def test_fill_wider_than_8_is_clamped_with_gnu_as_warning(backend):
    """gas/read.c s_fill: a size over 8 becomes 8, with a warning; each repeat holds the value's
    low 4 bytes, zero-extended.  Both backends give GNU as's bytes and its words."""
    src = ".data\n.fill 2, 16, 0x1122334455667788\n.fill 1, 9, -1\n.fill 1, 3, 0x11223344\n"
    with pytest.warns(AsmWarning) as said:
        image = assemble_text(src, filename="fill.S", backend=backend)
    data = next(s.data for s in image.sections if s.name == ".data")
    assert data == bytes.fromhex("8877665500000000" * 2 + "ffffffff00000000" + "443322")
    assert image.warnings == ("fill.S:2: .fill size clamped to 8", "fill.S:3: .fill size clamped to 8")
    assert [str(w.message) for w in said] == list(image.warnings)

