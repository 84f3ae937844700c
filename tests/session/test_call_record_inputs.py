# SPDX-License-Identifier: MIT
"""A call record holds every register the SEAMCALL ABI carries, and marks the ones the leaf read."""

import json

from seamemu.arch.registers import ABI_ORDER
from seamemu.cli import main
from seamemu.session import Session

# A kernel-style stub with one bug: R10 is loaded from R11's slot of struct tdx_module_args.
WRONG_OFFSET = """
#define seamcall .byte 0x66,0x0f,0x01,0xcf
.text
.globl wrong_r10
wrong_r10:
	movq	%rdi, %rax
	movq	0x00(%rsi), %rcx
	movq	0x08(%rsi), %rdx
	movq	0x10(%rsi), %r8
	movq	0x18(%rsi), %r9
	movq	0x28(%rsi), %r10	/* should be 0x20 */
	movq	0x28(%rsi), %r11
	seamcall
	ret
"""
TDH_SYS_RD = 34
INPUTS = {"rdx": 0x0800000100000004, "r10": 0x1010, "r11": 0x1111}


def test_a_register_loaded_from_the_wrong_offset_shows_in_the_record(tmp_path):
    src = tmp_path / "wrong.S"
    src.write_text(WRONG_OFFSET)
    rec = Session([src]).call("wrong_r10", leaf=TDH_SYS_RD, inputs=INPUTS).calls[-1]
    assert tuple(rec.inputs) == ABI_ORDER
    assert rec.inputs["r10"] == 0x1111          # not the 0x1010 the caller put in the struct
    assert rec.consumed == ("rax", "rdx") and rec.consumed_inputs["rdx"] == INPUTS["rdx"]


def test_run_json_lists_every_input_and_which_were_consumed(tmp_path, capsys):
    src = tmp_path / "wrong.S"
    src.write_text(WRONG_OFFSET)
    assert main(["run", "--asm", str(src), "--entry", "wrong_r10", "--leaf", "TDH.SYS.RD",
                 "--rdx", "0x0800000100000004", "--r10", "0x1010", "--r11", "0x1111",
                 "--json"]) == 0
    call = json.loads(capsys.readouterr().out)["calls"][0]
    assert call["inputs"]["r10"] == "0x0000000000001111"
    assert set(call["inputs"]) == set(ABI_ORDER)
    assert call["consumed"] == ["rax", "rdx"]
