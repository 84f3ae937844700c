# SPDX-License-Identifier: MIT
"""SYSCALL and SYSENTER on a CPU whose system-call MSRs are not set up."""

from __future__ import annotations

from seamemu.traps.cpu_state import CpuState
from seamemu.traps.syscall import decide_syscall, decide_sysenter, execute_syscall, execute_sysenter

HOST = CpuState()


def test_syscall_is_ud_because_efer_sce_is_clear():
    d = decide_syscall(HOST)
    assert (d.kind, d.check, d.vector) == ("#UD", "ud_sce_clear", 6)
    assert "IA32_EFER.SCE = 0" in d.rule
    assert decide_syscall(HOST.with_(long_mode=False)).check == "ud_not_64bit"
    assert execute_syscall(HOST, 2).fault == (6, None)


def test_sysenter_is_gp0_because_sysenter_cs_is_zero():
    d = decide_sysenter(HOST)
    assert (d.kind, d.vector, d.error_code) == ("#GP", 13, 0)
    assert "IA32_SYSENTER_CS" in d.rule
    assert execute_sysenter(HOST, 2).fault == (13, 0)
