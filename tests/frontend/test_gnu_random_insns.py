# SPDX-License-Identifier: MIT
"""Random instructions against GNU as: the same bytes, or a refusal, never a silent difference.

Seeded: decimal and hex numbers, negative displacements, every register size, SIB forms and
RIP-relative literals, the places where keystone's radix and operand bugs would show.
Hypothesis (tests/frontend/asm_strategies.py): valid lines must come out byte for byte as
GNU as writes them; any line, valid or not, gives GNU as's bytes or an AsmError, and every
line GNU as rejects is refused.  Deterministic by default (CI); set
SEAMEMU_ASM_EXAMPLES=N to explore N random examples per test instead.
"""

from __future__ import annotations

import os
import random

import pytest
from asm_strategies import any_lines, valid_lines
from fe_helpers import gnu_as_line
from hypothesis import HealthCheck, given, settings

from seamemu.errors import AsmError
from seamemu.frontend import assemble_text

_EXPLORE = os.environ.get("SEAMEMU_ASM_EXAMPLES")


def _settings(examples: int):
    return settings(max_examples=int(_EXPLORE) if _EXPLORE else examples,
                    derandomize=not _EXPLORE, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _keystone(line: str) -> bytes | AsmError:
    try:
        image = assemble_text(line + "\n", filename="h.S")
    except AsmError as exc:
        return exc
    text = [s for s in image.sections if s.executable]
    return text[0].data if text else b""

REGS = {
    "q": ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
          "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"],
    "l": ["eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp",
          "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"],
    "w": ["ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "r8w", "r9w", "r10w", "r11w"],
    "b": ["al", "bl", "cl", "dl", "sil", "dil", "bpl", "spl", "r8b", "r9b", "r10b", "r15b"],
}
INDEX = [r for r in REGS["q"] if r != "rsp"]
DISPS = ["", "0", "8", "-8", "0x7f", "0x80", "-0x80", "-0x81", "1000", "0x12345", "-4096"]
IMMS = [0, 1, -1, 8, 127, 128, -128, -129, 255, 256, 0x7FFFFFFF, -0x80000000, 1000, -16]


def _imm(rng, size: str) -> str:
    if size in "bw":
        return rng.choice(["$0x12", "$18", "$-3"])
    v = rng.choice(IMMS)
    return f"${v}" if rng.random() < 0.5 else (f"$0x{v:x}" if v >= 0 else f"$-0x{-v:x}")


def _mem(rng) -> str:
    base = rng.choice(REGS["q"] + ["", "rip"])
    disp = rng.choice(DISPS)
    if base == "rip":
        return f"{disp or '0'}(%rip)"
    if not base:
        return f"{disp or '0'}(,%{rng.choice(INDEX)},{rng.choice([1, 2, 4, 8])})"
    if rng.random() < 0.4:
        return f"{disp}(%{base},%{rng.choice(INDEX)},{rng.choice([1, 2, 4, 8])})"
    return f"{disp}(%{base})"


def _insn(rng) -> str:
    size = rng.choice("qlwb")
    reg = lambda: "%" + rng.choice(REGS[size])  # noqa: E731
    kind = rng.randrange(8)
    if kind < 3:
        op = rng.choice(["add", "sub", "and", "or", "xor", "cmp", "adc", "sbb", "mov"]) + size
        return rng.choice([f"{op} {reg()}, {reg()}", f"{op} {_imm(rng, size)}, {reg()}",
                           f"{op} {_mem(rng)}, {reg()}", f"{op} {reg()}, {_mem(rng)}",
                           f"{op} {_imm(rng, size)}, {_mem(rng)}"])
    if kind == 3:
        op = rng.choice(["inc", "dec", "neg", "not", "test", "xchg", "shl", "sar", "ror"]) + size
        if op[:-1] in ("test", "xchg"):
            return f"{op} {reg()}, {reg()}"
        if op[:-1] in ("shl", "sar", "ror"):
            return f"{op} {rng.choice(['$1, ', '$3, ', '%cl, ', ''])}{rng.choice([reg(), _mem(rng)])}"
        return f"{op} {rng.choice([reg(), _mem(rng)])}"
    if kind == 4:
        return f"lea {_mem(rng)}, %{rng.choice(REGS['q'] + REGS['l'])}"
    if kind == 5:
        return f"mov {_imm(rng, 'q')}, %{rng.choice(REGS['q'])}"
    if kind == 6:
        op = rng.choice(["movzbl", "movzwl", "movsbq", "movswq", "movslq", "movzbq", "movsbl"])
        src = REGS[{"b": "b", "w": "w", "l": "l"}[op[4]]]
        dst = REGS["q" if op.endswith("q") else "l"]
        return f"{op} {rng.choice(['%' + rng.choice(src), _mem(rng)])}, %{rng.choice(dst)}"
    size = rng.choice("ql")
    r = lambda: "%" + rng.choice(REGS[size])  # noqa: E731
    return rng.choice([f"imul{size} {_imm(rng, size)}, {r()}, {r()}", f"bts{size} $5, {_mem(rng)}",
                       f"cmovne {_mem(rng)}, {r()}", f"cmpxchg{size} {r()}, {r()}",
                       f"push{'q'} {rng.choice(['%' + rng.choice(REGS['q']), _mem(rng)])}"])


@pytest.mark.gnu_as
def test_random_instructions_encode_identically():
    rng = random.Random(0x5EA3)
    insns = [_insn(rng) for _ in range(400)]
    src = "".join(f"{i}\n" for i in insns)
    ks, gnu = assemble_text(src), assemble_text(src, backend="gnu")

    def per_line(image):
        text = image.sections[0]
        return {ln.line: text.data[ln.address - text.address:][:ln.size] for ln in image.lines}

    a, b = per_line(ks), per_line(gnu)
    assert len(a) == len(b) == len(insns)
    mismatches = [(insns[n - 1], a[n].hex(), b[n].hex()) for n in a if a[n] != b[n]]
    assert mismatches == []


@pytest.mark.gnu_as
@_settings(80)
@given(valid_lines())
def test_valid_lines_encode_as_gnu_as_does(line):
    status, gnu, said = gnu_as_line(line)
    assert status == "ok", f"the strategy drew a line GNU as does not take cleanly: {said}"
    mine = _keystone(line)
    assert not isinstance(mine, AsmError), f"refused a valid line: {mine}"
    assert mine.hex() == gnu.hex()


@pytest.mark.gnu_as
@_settings(160)
@given(any_lines())
def test_every_line_gives_gnu_as_bytes_or_a_refusal(line):
    status, gnu, said = gnu_as_line(line)
    mine = _keystone(line)
    if status == "error":
        assert isinstance(mine, AsmError), f"GNU as: {said}; keystone path: {mine.hex()}"
    elif not isinstance(mine, AsmError):
        assert mine.hex() == gnu.hex(), f"GNU as {status}: {said}"
    if isinstance(mine, AsmError):
        assert (mine.file, mine.line) == ("h.S", 1)
