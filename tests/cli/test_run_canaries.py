# SPDX-License-Identifier: MIT
"""`seamemu run` starts callee-saved registers at canaries, so a stub that zeroes one is caught."""

import json

import pytest

from seamemu.cli import main

STUB = """
.text
.globl zero_rbx, swap_r12_r13, keep_all
zero_rbx:
	xorl	%ebx, %ebx
	ret
swap_r12_r13:
	xchgq	%r12, %r13
	ret
keep_all:
	pushq	%rbx
	movq	$1, %rbx
	popq	%rbx
	ret
"""


def run_json(capsys, src, entry, *extra):
    assert main(["run", "--asm", str(src), "--entry", entry, "--convention", "raw", "--json",
                 *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "callee.S"
    path.write_text(STUB)
    return path


def test_a_zeroed_callee_saved_register_is_reported_clobbered(capsys, src):
    abi = run_json(capsys, src, "zero_rbx")["abi"]
    assert abi["clobbered"] == ["rbx"] and abi["preserved"] is False


def test_swapped_callee_saved_registers_are_both_reported(capsys, src):
    assert run_json(capsys, src, "swap_r12_r13")["abi"]["clobbered"] == ["r12", "r13"]


def test_a_stub_that_saves_and_restores_passes(capsys, src):
    assert run_json(capsys, src, "keep_all")["abi"]["preserved"] is True


def test_a_register_the_user_gives_keeps_its_value(capsys, src):
    doc = run_json(capsys, src, "keep_all", "--rbx", "0x42")
    assert doc["regs"]["rbx"] == "0x0000000000000042"


def test_the_text_names_the_canary_and_what_the_stub_left(capsys, src):
    assert main(["run", "--asm", str(src), "--entry", "zero_rbx", "--convention", "raw"]) == 0
    out = capsys.readouterr().out
    assert "clobbered: RBX 0xca11ee5afe000003 -> 0x0" in out
