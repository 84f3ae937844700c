# SPDX-License-Identifier: MIT
"""A session's CPUID reports its platform's physical-address width."""

from __future__ import annotations

import dataclasses

from seamemu.platform import load_platform
from seamemu.session import Session

SOURCE = ".text\n.globl pa_bits\npa_bits:\n\tmovl $0x80000008, %eax\n\tcpuid\n\tandl $0xff, %eax\n\tret\n"


def test_cpuid_max_pa_follows_the_platform(tmp_path):
    src = tmp_path / "pa.S"
    src.write_text(SOURCE)
    default = load_platform()
    wide = dataclasses.replace(default, max_pa=52)
    assert Session([src], platform=default).machine.call("pa_bits").rax == default.max_pa == 46
    assert Session([src], platform=wide).machine.call("pa_bits").rax == 52
