# SPDX-License-Identifier: MIT
"""Batched runs (fuzz/batch.py): a case the guest driver vouches for is one a run of its own
finds nothing wrong with, on clean and planted stubs alike; the records the driver runs hold
the registers a run of its own enters with; findings of a batched campaign replay alone."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from fuzz_helpers import ARGS, LEGACY, planted

from seamemu.frontend import assemble, assemble_text
from seamemu.fuzz.batch import Batcher, batchable
from seamemu.fuzz.executor import BATCH, BATCH_LOAD, Runner
from seamemu.fuzz.generate import Generator
from seamemu.fuzz.invariants import check
from seamemu.fuzz.oracle import instruction_outcome
from seamemu.fuzz.promises import make_spec

# (stub, entry, convention, kernel); the planted ones break a rule on some of their cases.
# The hand-written stubs below start as __seamcall_ret does: RAX = leaf (RDI), then the
# struct's inputs (RSI) into RCX, RDX and R8..R11.
_LOAD_INPUTS = """\
    movq %rdi, %rax
    movq 0x0(%rsi), %rcx
    movq 0x8(%rsi), %rdx
    movq 0x10(%rsi), %r8
    movq 0x18(%rsi), %r9
    movq 0x20(%rsi), %r10
    movq 0x28(%rsi), %r11
"""

STUBS = [
    (ARGS, "__seamcall_ret", "args", None),
    (ARGS, "__seamcall_saved_ret", "args", None),
    (ARGS, "__seamcall", "args", "6.8"),
    (LEGACY, "__seamcall", "legacy", "v5-2022"),
    ("output_offset", "__seamcall_ret", "args", None),
    ("pop_order", "__seamcall_saved_ret", "args", None),
    ("gp_truncated", "__seamcall_ret", "args", None),
    ("stray_store", "__seamcall_ret", "args", None),
    ("caller_frame", "__seamcall_ret", "args", None),
    ("vmfail_stack", "__seamcall_ret", "args", None),
    ("df_set", "__seamcall_ret", "args", None),
    ("legacy_arg_order", "__seamcall", "legacy", "v5-2022"),
    ("no_clear", "__seamcall_saved_ret", "args", None),
]


def _no_clear(directory: Path) -> str:
    """The shipped stubs with `__seamcall_saved_ret` leaving RDI as the module answered it."""
    for src in Path(ARGS).parent.glob("*.S"):
        text = src.read_text()
        if src.name == "tdxcall.S":
            assert "\txorl\t%edi, %edi\n" in text
            text = text.replace("\txorl\t%edi, %edi\n", "")
        (directory / src.name).write_text(text)
    return str(directory / "seamcall.S")


def _runner(asm: str, entry: str, convention: str, kernel: str | None) -> Runner:
    if asm == "no_clear":
        asm = _no_clear(Path(tempfile.mkdtemp(prefix="seamemu-no-clear-")))
    path = asm if asm.endswith(".S") else planted(asm)
    spec = make_spec(convention, None, entry, kernel)
    return Runner(assemble([path]), spec, entry)


@pytest.mark.parametrize("asm, entry, convention, kernel", STUBS,
                         ids=[f"{a.rsplit('/', 1)[-1]}:{e}" for a, e, _c, _k in STUBS])
def test_a_case_the_batch_vouches_for_breaks_no_rule_when_run_alone(asm, entry, convention,
                                                                    kernel):
    runner = _runner(asm, entry, convention, kernel)
    assert batchable(runner.image)
    batcher = Batcher(runner)
    gen = Generator(runner.spec, 11, runner.addresses)
    vouched = clean = faulted = faulted_vouched = 0
    for _ in range(2):
        cases = gen.batch(BATCH)
        ok = batcher.run(cases)
        for case, good in zip(cases, ok):
            obs = runner.run(case)
            instr = instruction_outcome(case)
            broken = check(runner.spec, case, obs, runner.in_code, instr)
            assert not (good and broken), (case, broken)
            vouched += good
            clean += not broken
            if instr in ("#GP", "#UD") and not broken:
                faulted += 1
                faulted_vouched += good
    if asm == ARGS:   # on the shipped args stubs it vouches for most (else it gains nothing),
        # a SEAMCALL that faults through the exception table included (Delivery.fixup)
        assert vouched >= 0.6 * clean, (vouched, clean)
        assert faulted and faulted_vouched >= 0.6 * faulted, (faulted_vouched, faulted)


@pytest.mark.parametrize("asm, entry, convention, kernel", STUBS[:4],
                         ids=[f"{a.rsplit('/', 1)[-1]}:{e}" for a, e, _c, _k in STUBS[:4]])
def test_records_hold_the_registers_a_run_of_its_own_enters_with(asm, entry, convention,
                                                                  kernel):
    runner = _runner(asm, entry, convention, kernel)
    batcher = Batcher(runner)
    cases = Generator(runner.spec, 5, runner.addresses).batch(64)
    flat = batcher.records(cases)
    n = runner.batch.layout.words
    fast = [flat[i:i + n] for i in range(0, len(flat), n)]
    at = runner.batch.layout.offsets()
    assert len(fast) == len(cases)
    for case, words in zip(cases, fast):
        assert words == batcher.record(case)   # the hot loop computes what the reference does
        before = runner.run(case).res.regs_before
        assert words[:len(BATCH_LOAD)] == [before[r] for r in BATCH_LOAD]
        assert (words[at["rsp"]], words[at["rflags"]]) == (before["rsp"], before["rflags"])


def test_a_batch_resumes_after_a_case_it_leaves_alone():
    # A stub that, for an odd R8 input, stores it just past the struct: each such case stops
    # the batch and runs alone, and the cases after it still run (and are vouched for) in it.
    text = f"""
.globl f
f:
{_LOAD_INPUTS}    testq $1, %r8
    jz .Lcall
    movq %r8, 0x68(%rsi)
.Lcall:
    .byte 0x66, 0x0f, 0x01, 0xcf
    ret
"""
    image = assemble_text(text)
    spec = make_spec("args", "plain", "f")
    runner = Runner(image, spec, "f")
    batcher = Batcher(runner)
    cases = Generator(spec, 3, runner.addresses).batch(BATCH)
    ok = batcher.run(cases)
    r8 = spec.inputs.index("r8")
    stray = 0
    for case, good in zip(cases, ok):
        broken = check(spec, case, runner.run(case), runner.in_code)
        assert not (good and broken)
        if case.inputs[r8] & 1:
            stray += 1
            assert not good and "memory-writes" in {v.rule for v in broken}
    assert 0 < stray < len(cases) and sum(ok) > 0.3 * len(cases)


def test_a_store_between_the_return_address_and_the_caller_s_frame_is_never_vouched_for():
    # With a misaligned entry RSP the bytes just above the return address are the caller's:
    # a run of its own compares them with the frame; the driver checks them under a mask.
    text = f"""
.globl f
f:
    movb $1, 8(%rsp)
{_LOAD_INPUTS}    .byte 0x66, 0x0f, 0x01, 0xcf
    ret
"""
    spec = make_spec("args", "plain", "f")
    runner = Runner(assemble_text(text), spec, "f")
    cases = Generator(spec, 9, runner.addresses).batch(BATCH)
    ok = Batcher(runner).run(cases)
    padded = 0
    for case, good in zip(cases, ok):
        broken = check(spec, case, runner.run(case), runner.in_code)
        assert not (good and broken)
        if case.align and instruction_outcome(case) == "module":
            padded += 1   # the byte changed is below the frame words: only the mask sees it
            assert [v.key for v in broken] == ["caller-frame"] and not good
    assert padded


def test_a_return_to_a_non_canonical_address_is_left_alone_and_reported_at_its_ret(tmp_path):
    # A batch runs without the branch watch: the fetch from the non-canonical address stops
    # it, and the case's run of its own, watched again, reports the #GP(0) at the RET.
    text = f"""
.globl f
f:
{_LOAD_INPUTS}    .byte 0x66, 0x0f, 0x01, 0xcf
    testq $1, 0x10(%rsi)
    jz 1f
    movabsq $0x8000000000001000, %r11
    pushq %r11
.globl wild_ret
wild_ret:
    ret
1:
    ret
"""
    from seamemu.fuzz.reproducer import Target
    from seamemu.fuzz.worker import FuzzConfig, Worker

    image = assemble_text(text)
    wild_ret = image.address_of("wild_ret")
    spec = make_spec("args", "plain", "f")
    runner = Runner(image, spec, "f")
    cases = Generator(spec, 4, runner.addresses).batch(BATCH)
    ok = Batcher(runner).run(cases)
    r8 = spec.inputs.index("r8")
    wild = 0
    for case, good in zip(cases, ok):
        obs = runner.run(case)
        broken = check(spec, case, obs, runner.in_code)
        assert not (good and broken)
        if case.inputs[r8] & 1 and instruction_outcome(case) not in ("#GP", "#UD"):
            wild += 1
            fault = obs.res.fault
            assert not good and fault is not None and fault.name == "#GP"
            assert (fault.address, fault.branch_target) == (wild_ret, 0x8000000000001000)
            assert [(v.rule, v.hint) for v in broken] == [("returns", wild_ret)]
    assert wild and sum(ok) > 0.3 * len(cases)
    # The batched campaign finds it there too.
    path = tmp_path / "f.S"
    path.write_text(text)
    worker = Worker(FuzzConfig(Target.of([str(path)], "f"), "args", "plain", seed=2, runs=600,
                               out=str(tmp_path / "out")), 0, image)
    assert worker.batcher is not None
    found = {(f.rule, f.address) for f in worker.run().findings}
    assert ("returns", wild_ret) in found


@pytest.mark.parametrize("insn", ["cpuid", "movq %cr0, %rax", "movq %rax, %dr0",
                                  "movq %xmm0, %rax", "movw %ax, %ds", "wrmsr", "rdrand %rax"])
def test_a_stub_with_other_than_plain_instructions_is_not_batched(insn):
    image = assemble_text(f".globl f\nf:\n    {insn}\n    ret\n")
    assert not batchable(image)


def test_the_fuzzer_batches_random_mode_only(tmp_path):
    from seamemu.fuzz.reproducer import Target
    from seamemu.fuzz.worker import FuzzConfig, Worker

    image = assemble([ARGS])
    target = Target.of([ARGS], "__seamcall_ret")
    for mode, batched in (("random", True), ("coverage", False), ("hypothesis", False)):
        worker = Worker(FuzzConfig(target, "args", mode=mode, out=str(tmp_path)), 0, image)
        assert (worker.batcher is not None) == batched, mode

