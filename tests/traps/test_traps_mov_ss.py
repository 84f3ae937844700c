# SPDX-License-Identifier: MIT
"""MOV SS selector checks (64-bit mode) row by row."""

from __future__ import annotations

import pytest

from seamemu.traps.cpu_state import CpuState
from seamemu.traps.mov_ss import decide_mov_ss, execute_mov_ss

DATA_DPL0 = 0x00CF_9300_0000_FFFF     # writable data, DPL 0, present
CODE_DPL0 = 0x00AF_9B00_0000_FFFF     # 64-bit code
DATA_DPL3 = 0x00CF_F300_0000_FFFF
READONLY = 0x00CF_9100_0000_FFFF      # data, not writable
NOT_PRESENT = DATA_DPL0 & ~(1 << 47)
CPL0, CPL3 = CpuState(), CpuState(cpl=3)


@pytest.mark.parametrize("cpu, selector, descriptor, kind, error_code, check", [
    (CPL0, 0x18, DATA_DPL0, "executed", None, "load"),
    (CPL0, 0x00, None, "executed", None, "null_ok"),
    (CPL3, 0x03, None, "#GP", 0, "gp_null"),
    (CPL0, 0x01, None, "#GP", 0, "gp_null"),
    (CPL0, 0x28, None, "#GP", 0x28, "gp_limit"),
    (CPL0, 0x1C, None, "#GP", 0x1C, "gp_limit"),           # TI = 1: no LDT
    (CPL0, 0x1B, DATA_DPL0, "#GP", 0x18, "gp_rpl"),
    (CPL0, 0x10, CODE_DPL0, "#GP", 0x10, "gp_not_writable"),
    (CPL0, 0x18, READONLY, "#GP", 0x18, "gp_not_writable"),
    (CPL0, 0x18, DATA_DPL3, "#GP", 0x18, "gp_dpl"),
    (CPL0, 0x18, NOT_PRESENT, "#SS", 0x18, "ss_not_present"),
    (CPL3, 0x1B, DATA_DPL3, "executed", None, "load"),
])
def test_mov_ss_rows(cpu, selector, descriptor, kind, error_code, check):
    d = decide_mov_ss(cpu, selector, descriptor)
    assert (d.kind, d.error_code, d.check) == (kind, error_code, check)


def test_effects():
    assert execute_mov_ss(CPL0, 0x18, DATA_DPL0, 3).rip_advance == 3
    assert execute_mov_ss(CPL0, 0x18, NOT_PRESENT, 3).fault == (12, 0x18)
