# SPDX-License-Identifier: MIT
"""Hypothesis strategies for one AT&T instruction line, valid and not, for the GNU-as comparisons.

`valid_lines()` draws forms both assemblers encode the same way (register, immediate, memory
operands of every size; boundary immediates and displacements; SIB and RIP-relative forms;
the prefixes that belong).  `any_lines()` adds what GNU as rejects or warns about and
keystone 0.9.2 used to mis-encode: %rsp as an index, RIP with an index, %ah beside a REX
register, immediates and displacements one past their field, numbers of more than 64 bits,
LOCK/REP/NOTRACK/XACQUIRE on instructions that cannot take them (in the statement or as a
statement of their own), opcodes that are invalid in 64-bit mode.
"""

from __future__ import annotations

from hypothesis import strategies as st

REGS = {
    "q": ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
          "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"],
    "l": ["eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp",
          "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"],
    "w": ["ax", "bx", "cx", "dx", "si", "di", "bp", "sp",
          "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"],
    "b": ["al", "bl", "cl", "dl", "sil", "dil", "bpl", "spl",
          "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"],
}
HIGH = ["ah", "bh", "ch", "dh"]
BITS = {"b": 8, "w": 16, "l": 32, "q": 64}
ALU = ["add", "sub", "and", "or", "xor", "cmp", "adc", "sbb", "mov", "test"]
UNARY = ["inc", "dec", "neg", "not", "mul", "imul", "div", "idiv"]
SHIFTS = ["shl", "sal", "shr", "sar", "rol", "ror", "rcl", "rcr"]
LOCKABLE_RMW = ["add", "sub", "and", "or", "xor", "adc", "sbb"]
INVALID_64 = ["into", "aaa", "aas", "daa", "das", "aam", "aad", "salc", "pusha", "popa",
              "push %cs", "push %ds", "pop %es", "les (%rax), %eax", "lds (%rbx), %ecx",
              "bound %eax, (%rax)", "arpl %ax, %bx", "pushl %eax", "popfl", "jmp *%eax"]
PREFIX_WORDS = ["lock", "rep", "repe", "repne", "notrack", "xacquire", "xrelease", "data16",
                "addr32", "rex64", "cs", "ds", "fs", "gs"]


def _number(v: int, draw) -> str:
    """`v` written in decimal or hex, as a user might."""
    if draw(st.booleans()):
        return str(v)
    return f"0x{v:x}" if v >= 0 else f"-0x{-v:x}"


@st.composite
def immediates(draw, bits: int, valid: bool = True, sign: str = "either") -> str:
    """`$n` for a field of `bits` read as `sign` ("signed", "unsigned" or "either"):
    boundary values, or (not `valid`) one past them and numbers of more than 64 bits."""
    lo = 0 if sign == "unsigned" else -(1 << (bits - 1))
    hi = (1 << (bits - 1)) - 1 if sign == "signed" else (1 << bits) - 1
    edges = [0, 1, lo, hi, 0x12] + ([-1, (1 << (bits - 1)) - 1] if lo < 0 else [])
    if not valid:
        edges += [lo - 1, hi + 1, 1 << 64, (1 << 64) + 5, 99999999999999999999999]
    v = draw(st.sampled_from(edges) | st.integers(lo, hi))
    return "$" + _number(v, draw)


@st.composite
def memory(draw, valid: bool = True) -> str:
    """A memory operand: base, index, scale, displacement, RIP-relative or absolute."""
    disps = [0, 8, -8, 0x7F, 0x80, -0x80, -0x81, 0x7FFFFFFF, -0x80000000, 4096]
    if not valid:
        disps += [0x100000000, -0x80000001]
    disp = draw(st.sampled_from(disps))
    text = _number(disp, draw) if disp or draw(st.booleans()) else ""
    form = draw(st.sampled_from(["base", "sib", "index", "rip", "abs"]))
    index_regs = [r for r in REGS["q"] if valid is False or r != "rsp"]
    scales = [1, 2, 4, 8] + ([3, 16] if not valid else [])
    if form == "base":
        return f"{text}(%{draw(st.sampled_from(REGS['q']))})"
    if form == "sib":
        return (f"{text}(%{draw(st.sampled_from(REGS['q']))},%{draw(st.sampled_from(index_regs))},"
                f"{draw(st.sampled_from(scales))})")
    if form == "index":
        return f"{text or '0'}(,%{draw(st.sampled_from(index_regs))},{draw(st.sampled_from(scales))})"
    if form == "rip":
        if not valid and draw(st.booleans()):
            return f"{text or '0'}(%rip,%{draw(st.sampled_from(REGS['q']))},1)"
        return f"{text or '0'}(%rip)"
    absolute = draw(st.sampled_from([0x1000, 0x7FFFFFF0] + ([0x80000000] if not valid else [])))
    return _number(absolute, draw)


@st.composite
def _register(draw, size: str, valid: bool) -> str:
    names = REGS[size] + (HIGH if size == "b" and not valid else [])
    return "%" + draw(st.sampled_from(names))


@st.composite
def _alu(draw, valid: bool) -> str:
    size = draw(st.sampled_from("qlwb"))
    op = draw(st.sampled_from(ALU))
    # 64-bit forms take a sign-extended imm32 (a MOV to a register may take 64 bits).
    imm = immediates(32, valid, "signed") if size == "q" else immediates(BITS[size], valid)
    reg = _register(size, valid)
    shape = draw(st.sampled_from(["rr", "ir", "mr", "rm", "im"]))
    if op == "test" and shape == "mr":
        shape = "rm"
    a, b = {"rr": (reg, reg), "ir": (imm, reg), "mr": (memory(valid), reg),
            "rm": (reg, memory(valid)), "im": (imm, memory(valid))}[shape]
    return f"{op}{size} {draw(a)}, {draw(b)}"


@st.composite
def _unary_or_shift(draw, valid: bool) -> str:
    size = draw(st.sampled_from("qlwb"))
    target = draw(_register(size, valid) | memory(valid))
    if draw(st.booleans()):
        return f"{draw(st.sampled_from(UNARY))}{size} {target}"
    count = draw(st.sampled_from(["", "$1, ", "$3, ", "%cl, ", "$31, "]))
    return f"{draw(st.sampled_from(SHIFTS))}{size} {count}{target}"


@st.composite
def _misc(draw, valid: bool) -> str:
    choices = [
        lambda: f"lea {draw(memory(valid))}, %{draw(st.sampled_from(REGS['q'] + REGS['l']))}",
        lambda: f"movabs {draw(immediates(64, valid))}, %{draw(st.sampled_from(REGS['q']))}",
        lambda: f"mov {draw(immediates(64, valid))}, %{draw(st.sampled_from(REGS['q']))}",
        lambda: f"mov {draw(immediates(32, valid))}, %{draw(st.sampled_from(REGS['l']))}",
        lambda: f"push{draw(st.sampled_from(['', 'q']))} {draw(_register('q', valid) | memory(valid))}",
        lambda: f"pop %{draw(st.sampled_from(REGS['q']))}",
        lambda: f"movzbl {draw(_register('b', valid) | memory(valid))}, %{draw(st.sampled_from(REGS['l']))}",
        lambda: f"movsbq {draw(_register('b', valid))}, %{draw(st.sampled_from(REGS['q']))}",
        lambda: f"imulq {draw(immediates(8, valid, 'signed'))}, %rax, %rbx",
        lambda: f"imull {draw(immediates(32, valid))}, {draw(memory(valid))}, %ecx",
        lambda: f"xchg %{draw(st.sampled_from(REGS['q']))}, {draw(memory(valid))}",
        lambda: f"cmpxchgq %rcx, {draw(memory(valid))}",
        lambda: f"btsq {draw(immediates(8, True, 'signed'))}, {draw(memory(valid))}",
        lambda: f"ret {draw(immediates(16, valid, 'unsigned'))}",
        lambda: f"int {draw(immediates(8, valid, 'unsigned'))}",
        lambda: f"enter {draw(immediates(16, valid, 'unsigned'))}, {draw(immediates(8, valid, 'unsigned'))}",
        lambda: draw(st.sampled_from(["rep movsb", "rep stosq", "repe cmpsb", "repne scasb",
                                      "ret", "nop", "cpuid", "lfence", "pause", "cltq"])),
        lambda: f"{draw(st.sampled_from(['call', 'jmp']))} *{draw(_register('q', valid) | memory(valid))}",
    ]
    return draw(st.sampled_from(choices))()


def _instruction(valid: bool):
    return st.one_of(_alu(valid), _unary_or_shift(valid), _misc(valid))


@st.composite
def _locked(draw) -> str:
    """LOCK where it belongs: a read-modify-write instruction with a memory destination."""
    size = draw(st.sampled_from("qlwb"))
    src = draw(st.sampled_from([f"%{REGS[size][2]}", "$1"]))
    return f"lock {draw(st.sampled_from(LOCKABLE_RMW))}{size} {src}, {draw(memory(True))}"


def valid_lines():
    """Instruction lines GNU as takes without a word, in forms keystone must match byte for byte."""
    return st.one_of(_instruction(True), _locked())


@st.composite
def _prefixed(draw) -> str:
    """Any prefix word before any instruction, in its statement or in one of its own."""
    word = draw(st.sampled_from(PREFIX_WORDS))
    insn = draw(_instruction(draw(st.booleans())))
    return f"{word}{draw(st.sampled_from([' ', '; ']))}{insn}"


@st.composite
def _bad_memory(draw) -> str:
    """An address GNU as rejects: %rsp as index, RIP with an index, a bad scale, a wide disp."""
    base = draw(st.sampled_from(REGS["q"]))
    index = draw(st.sampled_from(REGS["q"]))
    mem = draw(st.sampled_from([
        f"(%{base},%rsp,{draw(st.sampled_from([1, 2, 4, 8]))})", f"8(%rip,%{index},1)",
        f"(%{base},%{index},{draw(st.sampled_from([0, 3, 5, 16]))})", f"0x100000000(%{base})",
        f"-0x80000001(%{base},%{index})", f"(%{base},%riz,2)"]))
    return draw(st.sampled_from([f"lea {mem}, %rbx", f"movq {mem}, %rax", f"addl $1, {mem}"]))


@st.composite
def _bad_immediate(draw) -> str:
    """An immediate one past its field, or of more than 64 bits."""
    size = draw(st.sampled_from("qlwb"))
    bits = 32 if size == "q" else BITS[size]
    lo, hi = -(1 << (bits - 1)), (1 << bits) - 1 if size != "q" else (1 << 31) - 1
    v = draw(st.sampled_from([lo - 1, hi + 1, 1 << 64, 99999999999999999999999]))
    op = draw(st.sampled_from(ALU))
    return f"{op}{size} ${_number(v, draw)}, %{draw(st.sampled_from(REGS[size]))}"


@st.composite
def _high_byte_with_rex(draw) -> str:
    """%ah..%dh where the instruction needs a REX prefix (GNU as: "can't encode register")."""
    high = "%" + draw(st.sampled_from(HIGH))
    rex = "%" + draw(st.sampled_from(["sil", "dil", "spl", "bpl", "r8b", "r11b", "r15b"]))
    a, b = draw(st.permutations([high, rex]))
    return draw(st.sampled_from([f"movb {a}, {b}", f"addb {a}, {b}", f"movzbl {high}, %r9d",
                                 f"movsbq {high}, %rax", f"cmpb {a}, {b}"]))


def any_lines():
    """Valid and invalid lines alike: GNU as's bytes or an AsmError, never anything else."""
    return st.one_of(_instruction(True), _instruction(False), _locked(), _prefixed(),
                     _bad_memory(), _bad_immediate(), _high_byte_with_rex(),
                     st.sampled_from(INVALID_64))


__all__ = ["any_lines", "immediates", "memory", "valid_lines"]
