# SPDX-License-Identifier: MIT
"""MOV SS found by the loader, so a session's SEAMCALL in its shadow raises #GP(0)."""

from __future__ import annotations

import pytest

from seamemu.frontend import assemble_text
from seamemu.session import Session
from seamemu.session.msr_sites import find_mov_ss_sites

SOURCE = """
#define seamcall .byte 0x66,0x0f,0x01,0xcf
.text
.globl f
f:
	movq	%rdi, %rax
	movw	$0x18, %cx
	movw	%cx, %ss
	seamcall
	ret
	movabsq	$0xd18ed18ed18e, %rax	/* 8e d1 inside an immediate: not a MOV SS */
	ret
	.quad	0xd18e			/* data in .text */
"""


@pytest.mark.parametrize("backend", ["keystone", "gnu"])
def test_the_loader_finds_mov_ss_at_instruction_boundaries(backend):
    img = assemble_text(SOURCE, backend=backend)
    assert find_mov_ss_sites(img) == (img.symbols["f"] + 7,)


def test_a_session_seamcall_in_the_shadow_raises_gp0(tmp_path):
    src = tmp_path / "movss.S"
    src.write_text(SOURCE)
    s = Session([src])
    r = s.call("f", convention="raw", leaf=0x21, inputs={"rdi": 0x21})
    assert r.outcome == "#GP"
    assert "MOV SS" in r.rule and r.calls == ()
