# SPDX-License-Identifier: MIT
"""The keystone path never says "ok" for an instruction it cannot encode faithfully.

keystone 0.9.2 mis-encoded each line of BAD without a word; now each is an AsmError naming
the file, the line and the reason.  The lines of GOOD (prefixes and idioms the checks must
let through) still come out as GNU as writes them.  A lying keystone shows that the check
is a comparison of every field, not a list of known bugs.
"""

from __future__ import annotations

import pytest
from fe_helpers import gnu_as_line

from seamemu.errors import AsmError
from seamemu.frontend import assemble_text, keystone_worker, layout, pipeline

BAD = [
    # (line, words the reason must contain)
    ("lea (%rax,%rsp,2), %rbx", "%rsp cannot be an index register"),
    ("mov 8(%rsp,%rsp,1), %rax", "%rsp cannot be an index register"),
    ("lea 8(%rip,%rax,1), %rbx", "RIP-relative addressing takes no index register"),
    ("movb %ah, %sil", "%ah, %bh, %ch and %dh cannot be used where a REX prefix is needed"),
    ("add %bh, %dil", "not %bh"),
    ("movabsq $0x1ffffffffffffffff, %rax", "does not fit in 64 bits"),
    ("mov $99999999999999999999999, %rax", "does not fit in 64 bits"),
    ("add $0x100, %al", "immediate 0x0, not 0x100"),
    ("movl $-0x80000001, %eax", "not -0x80000001"),
    ("enter $0x10000, $0", "not 0x10000"),
    ("ret $0x10000", "not 0x10000"),
    ("into", "not a valid x86-64 instruction"),
    ("salc", "not a valid x86-64 instruction"),
    ("lock ret", "`lock` is not allowed on `ret`"),
    ("lock mov %rax, (%rbx)", "`lock` is not allowed on `mov`"),
    ("lock mov %rax, %rbx", "`lock` is not allowed on `mov`"),
    ("lock addq %rax, %rbx", "with a register destination"),
    ("lock cmpxchg %rax, %rbx", "with a register destination"),
    ("rep add %rax, %rbx", "`rep` is only for string instructions"),
    ("repne call *%rax", "`repne` is only for string instructions"),
    ("notrack ret", "`notrack` is only for indirect"),
    ("xacquire addl $1, (%rax)", "`xacquire` needs a `lock`"),
    ("lock lock incl (%rax)", "prefixes of the same kind"),
    ("data16 movw %ax, %bx", "already has a prefix of that kind"),
    ("rex64 mov %rax, %rbx", "already has a REX prefix"),
    ("data16 jmp *%rax", "AMD CPUs"),
    ("lock seamcall", "does not put prefixes on `seamcall`"),
    ("mov %rax, %cr9", "%cr9 does not exist"),
    ("mov %ax, %cs", "MOV to %cs raises #UD"),
    ("bt $1, (%rax)", "does not say its operand size"),
    ("mov 0(,%riz,1), %eax", "`%riz` is not a register GNU as accepts"),
    # A prefix written as a statement of its own applies to the next instruction.
    ("lock; ret", "`lock` applies to `ret`"),
    ("rep; add %rax, %rbx", "`rep` applies to `add %rax, %rbx`"),
    ("rex64; add %ah, %bl", "are `addb %spl, %bl`"),
]


@pytest.mark.parametrize("line, words", BAD, ids=[b[0] for b in BAD])
def test_unfaithful_instructions_are_refused_with_file_line_and_reason(line, words):
    with pytest.raises(AsmError) as err:
        assemble_text(f"nop\n\t{line}\nret\n", filename="net.S")
    assert (err.value.file, err.value.line) == ("net.S", 2)
    assert words in str(err.value)


def test_the_reason_names_the_macro_invocation_too():
    src = ".macro BAD_LEA reg\n lea (%rax,\\reg,2), %rbx\n.endm\nnop\nBAD_LEA %rsp\n"
    with pytest.raises(AsmError) as err:
        assemble_text(src, filename="m.S")
    assert err.value.line == 2 and "in BAD_LEA invoked at m.S:5" in str(err.value)


GOOD = [
    "lock andw $1, (%rax)",          # GNU as's prefix order: operand size before LOCK
    "xacquire lock addl $1, (%rax)",
    "xrelease movq %rax, (%rbx)",
    "lock xchg (%rbx), %rax",
    "lock cmpxchg16b (%rdi)",
    "notrack jmp *%rax",
    "notrack call *(%rax)",
    "gs movq (%rbx), %rax",
    "rep movsb",
    "repne scasb",
    "rep ret",
    "rep nop",
    "lock; incl (%rax)",
    "rep; nop",
    "rep; stosq",
    "cs nop",
    "rex64 nop",
    "data16 mov %rax, %rbx",
    "xchg %rax, %rax",
    "xchg %ax, %ax",
    "xchg %ebx, %eax",
    "int $3",
    "mov %rax, %cr8",
    "imul $3, %rax",
    "shll %cl, (%rax)",
    "rclb %cl, -8(%rdx)",
    "enter $0xffff, $0xff",
    "btsq $-2, 8(%rax)",
    "movabs $0xffffffffffffffff, %rax",
    "mov $-9223372036854775808, %rax",
    "in (%dx), %al",
    "fadd %st(1), %st",
    # The kernel's LOCK_PREFIX (arch/x86/include/asm/alternative.h): a label between.
    '.pushsection .smp_locks,"a"\n.balign 4\n.long 671f - .\n.popsection\n671:\n\tlock; incl (%rdi)',
]


@pytest.mark.gnu_as
@pytest.mark.parametrize("line", GOOD, ids=[g.splitlines()[-1] for g in GOOD])
def test_prefixes_and_idioms_come_out_as_gnu_as_writes_them(line):
    status, gnu, said = gnu_as_line(line)
    assert status == "ok", said
    text = next(s for s in assemble_text(line + "\n").sections if s.executable)
    assert text.data.hex() == gnu.hex()


# keystone's answer replaced by the bytes of another instruction, field by field.
LIES = [
    ("addq %rax, %rbx", "4801c1", "operand 2 is %rcx, not %rbx"),          # register
    ("subq %rax, %rbx", "4801c3", "the mnemonic is `addq`"),               # mnemonic
    ("addl %eax, %ebx", "4801c3", "the mnemonic is `addq`"),               # width
    ("movl $0x12345678, %eax", "b878563400", "immediate 0x345678"),       # immediate
    ("leaq 0x10(%rax,%rbx,4), %rcx", "488d4cd810", "has scale 8, not 4"),  # scale
    ("movq 0x10(%rax), %rbx", "488b5820", "displacement 0x20, not 0x10"),  # displacement
    ("movq 0x10(%rax,%rcx), %rbx", "488b5c0110", "has base register rcx"),  # base, index swapped
    ("movq %gs:0x10(%rax), %rbx", "488b5810", "segment none, not gs"),    # segment dropped
    ("incq (%rax)", "f048ff00", "a `lock` prefix the source does not have"),
    ("movsb", "0fbec0", "2 operand(s) where the source has 0"),           # string op or movsx
    ("stosq", "aa", "the mnemonic is `stosb`"),
    ("cpuid", "ce", "not a valid x86-64 instruction"),                      # invalid in 64-bit
    ("nop", "9090", "more than one instruction"),
    ("pushq %rax", "", "keystone returned no bytes"),
]


class _LyingWorker(keystone_worker.KeystoneWorker):
    """keystone answering each text of LIES with its lie (its own answers remembered apart
    from the shared worker's)."""

    def encode(self, items):
        answers = super().encode(items)
        lies = {text: lie for text, lie, _ in LIES}
        return [a if t not in lies else
                keystone_worker.Encoded(bytes.fromhex(lies[t])) if lies[t] else
                keystone_worker.Refused("keystone returned no bytes")
                for (t, _), a in zip(items, answers)]


@pytest.fixture(scope="module")
def lying_worker():
    worker = _LyingWorker()
    yield worker
    worker.close()


@pytest.mark.parametrize("text, lie, words", LIES, ids=[x[0] for x in LIES])
def test_any_difference_from_what_keystone_was_asked_is_an_error(monkeypatch, lying_worker, text,
                                                                 lie, words):
    monkeypatch.setattr(pipeline, "shared_worker", lambda: lying_worker)
    with pytest.raises(AsmError) as err:
        assemble_text(f"cld\n{text}\n", filename="lie.S")
    assert (err.value.file, err.value.line) == ("lie.S", 2)
    assert words in str(err.value)


def test_the_truthful_keystone_passes_the_same_lines():
    for text, _, _ in LIES:
        assert assemble_text(f"cld\n{text}\n").sections[0].data


def test_branches_seamemu_encodes_itself_are_decoded_back_too(monkeypatch):
    real = layout.encode_branch

    def off_by_one(insn, target, address, near):
        return real(insn, target + 1, address, near)

    monkeypatch.setattr(layout, "encode_branch", off_by_one)
    with pytest.raises(AsmError) as err:
        assemble_text("top: nop\n jne top\n", filename="b.S")
    assert err.value.line == 2 and "not a branch to 0x400000" in str(err.value)
