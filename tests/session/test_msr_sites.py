# SPDX-License-Identifier: MIT
"""RDMSR/WRMSR found at real instruction boundaries, and the Session wiring them to the platform."""

from __future__ import annotations

import pytest

from seamemu.frontend import assemble_text
from seamemu.platform import load_platform
from seamemu.session import Session
from seamemu.session.msr_sites import find_msr_sites, platform_msr_tables

SOURCE = """
.macro READ_MSR msr
	movl	$\\msr, %ecx
	rdmsr
.endm
.text
.globl f
f:
	READ_MSR 0x87
	movabsq	$0x320f320f320f, %rax	/* 0f 32 inside an immediate: not an RDMSR */
	.byte	0x0f, 0x30		/* WRMSR spelled as bytes, kernel style */
	ret
	.quad	0x0000320f0000320f	/* data in .text */
"""


@pytest.mark.parametrize("backend", ["keystone", pytest.param("gnu", marks=pytest.mark.gnu_as)])
def test_only_real_instructions_are_found(backend):
    img = assemble_text(SOURCE, backend=backend)
    f = img.symbols["f"]
    assert find_msr_sites(img) == ((f + 5, "rdmsr"), (f + 17, "wrmsr"))


def test_a_session_runs_rdmsr_against_the_platform(tmp_path):
    src = tmp_path / "rd.S"
    src.write_text(".text\n.globl rd\nrd:\n\tmovl %edi, %ecx\n\trdmsr\n\tshlq $32, %rdx\n"
                   "\torq %rdx, %rax\n\tret\n")
    p = load_platform(preset="inconsistent-seamrr")
    s = Session([src], platform=p)
    assert s.machine.call("rd", [0x1400], lp=0).rax == p.seamrr[0].base_msr
    assert s.machine.call("rd", [0x1400], lp=7).rax == p.seamrr[7].base_msr != p.seamrr[0].base_msr
    s.set_state(lp=0, seamrr=False)               # what SEAMCALL sees, RDMSR sees
    assert not s.machine.call("rd", [0x1401], lp=0).rax & (1 << 11)


def test_lps_beyond_the_topology_get_lp0s_values():
    p = load_platform(preset="one-socket")
    tables = platform_msr_tables(p, p.num_lps + 2)
    assert len(tables) == 6 and tables[5] == tables[0]
