# SPDX-License-Identifier: MIT
"""One CPUID per LP: the caller's code, the module model's TDH.SYS.INIT sample and the SEAM
CPU (platform/cpuid_table.py) read the same answers, [[cpuid]] entries included."""

from __future__ import annotations

import dataclasses

from seamemu.arch.leaves import TDH_SYS_INIT
from seamemu.arch.status import TdxStatus
from seamemu.model import platform_checks
from seamemu.platform import load_platform, load_platform_text
from seamemu.platform.cpuid_table import cpuid, cpuid_table
from seamemu.session import Session

SOURCE = """.text
.globl cpuid_of
cpuid_of:
\tmovl %edi, %eax
\tmovl %esi, %ecx
\tpushq %rbx
\tcpuid
\tmovq %rbx, %rsi
\tpopq %rbx
\tret
"""


def _guest_cpuid(session: Session, lp: int, leaf: int, subleaf: int = 0):
    r = session.machine.call("cpuid_of", [leaf, subleaf], lp=lp)
    assert r.outcome == "returned", r.faults
    a = r.regs_after
    return a["rax"] & 0xFFFFFFFF, a["rsi"] & 0xFFFFFFFF, a["rcx"] & 0xFFFFFFFF, a["rdx"] & 0xFFFFFFFF


def test_max_pa_is_maxphyaddr_as_cpuid_reports_it(tmp_path):
    """CPUID.80000008H:EAX[7:0] is cpu.max_pa, KeyID bits included: 52 on the presets, the
    width Intel's module requires; the kernel's 46 bits of RAM are what is left."""
    src = tmp_path / "cpuid.S"
    src.write_text(SOURCE)
    default = load_platform()
    assert (default.max_pa, default.keyid_bits) == (52, 6)
    narrow = dataclasses.replace(default, max_pa=46)
    assert _guest_cpuid(Session([src], platform=default), 0, 0x80000008)[0] & 0xFF == 52
    assert _guest_cpuid(Session([src], platform=narrow), 0, 0x80000008)[0] & 0xFF == 46


def test_the_caller_and_the_module_read_the_same_table_with_the_files_entries(tmp_path):
    src = tmp_path / "cpuid.S"
    src.write_text(SOURCE)
    p = load_platform_text('extends = "default"\n'
                           "[[cpuid]]\nleaf = 7\nsubleaf = 0\nebx = 0x55\npackage = 1\n")
    s = Session([src], platform=p)
    for lp in (0, 5):
        table = cpuid_table(p, lp)
        for leaf, sub in ((0, 0), (1, 0), (7, 0), (0xB, 1), (0x1F, 0), (0x80000008, 0)):
            assert _guest_cpuid(s, lp, leaf, sub) == cpuid(table, leaf, sub), (lp, hex(leaf))
        sample = platform_checks.sample(p, lp, "1.5")
        lookup = platform_checks.cpuid_lookup("1.5")
        assert all(regs == cpuid(table, e.leaf, e.sub_leaf) for e, regs in zip(lookup, sample.cpuid))
    assert _guest_cpuid(s, 5, 7)[1] == 0x55 != _guest_cpuid(s, 0, 7)[1]   # LP 5 is package 1


def test_a_cpu_that_reports_fewer_than_52_address_bits_fails_tdh_sys_init():
    """Intel's module checks CPUID.80000008H:EAX[7:0] == 52 (cpuid_lookup[]); so does the model,
    from the same table."""
    narrow = dataclasses.replace(load_platform("small"), max_pa=46)
    r = Session(platform=narrow).call("__seamcall_ret", leaf=TDH_SYS_INIT)
    assert r.rax == TdxStatus.TDX_INCORRECT_CPUID_VALUE
    assert r.calls[-1].outputs["rcx"] == 0xFFFFFFFF_80000008      # the leaf, sub-leaf NA


def test_intels_module_refuses_the_same_cpu(module_binary):
    narrow = dataclasses.replace(load_platform("small"), max_pa=46)
    r = Session(platform=narrow, module_binary=module_binary).call("__seamcall_ret",
                                                                    leaf=TDH_SYS_INIT)
    assert r.rax == TdxStatus.TDX_INCORRECT_CPUID_VALUE
