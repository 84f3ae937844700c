# SPDX-License-Identifier: MIT
"""[smrr], [[msr]], [[cpuid]] and [seamops]: what each LP reads, and a bad BIOS from the file."""

from __future__ import annotations

import pytest

from seamemu.errors import PlatformError
from seamemu.platform import load_platform_text
from seamemu.platform.cpuid_table import cpuid_table
from seamemu.platform.msr_values import msr_values, seamops_capabilities

BASE = 'extends = "default"\n'


def test_entries_target_lps_cores_packages_and_later_ones_win():
    p = load_platform_text(BASE + """
[[msr]]
msr = "IA32_TSC_ADJUST"
value = 7
[[msr]]
msr = 0x3b
value = 9
core = 1
[[cpuid]]
leaf = 7
subleaf = 0
ebx = 0x55
package = 1
[seamops]
capabilities = 0x7f
[[seamops.override]]
lp = 6
capabilities = 0x0f
""")
    tsc = [msr_values(p, lp)[0x3B] for lp in range(p.num_lps)]
    assert tsc == [7, 7, 9, 9, 7, 7, 7, 7]                     # core 1 = LPs 2 and 3
    plain = cpuid_table(load_platform_text(BASE), 3)[(7, 0)][1]
    assert [cpuid_table(p, lp)[(7, 0)][1] for lp in (3, 4)] == [plain, 0x55]
    assert plain != 0x55
    assert [seamops_capabilities(p, lp) for lp in (5, 6)] == [0x7F, 0x0F]


def test_smrr_becomes_the_smrr_msrs():
    p = load_platform_text(BASE + '[smrr]\nbase = "0x7b000000"\nsize = "16M"\n')
    v = msr_values(p, 5)
    assert (v[0x1F2], v[0x1F3]) == (0x7B000006, 0xFF000C00)


@pytest.mark.parametrize("text, problem", [
    ('[[msr]]\nmsr = "NOPE"\nvalue = 1\n',
     "msr[0].msr: unknown MSR name 'NOPE' (give the number, e.g. 0x10a)"),
    ('[[msr]]\nmsr = 0x10a\nvalue = 1\nlp = 1\ncore = 1\n',
     "msr[0]: give at most one of 'lp', 'core' and 'package'"),
    ('[[msr]]\nmsr = 0x10a\nvalue = 1\nlp = 8\n', "msr[0].lp: 8 is out of range (0..7)"),
    ('[[cpuid]]\nleaf = 7\n', "cpuid[0]: give at least one of eax, ebx, ecx, edx"),
    ('[[cpuid]]\nleaf = 7\neax = 0x100000000\n', "cpuid[0].eax: does not fit in 32 bits"),
    ('[smrr]\nbase = "0x7b000000"\nsize = "24M"\n', "smrr: base 0x7b000000 size 0x1800000: the "
     "SMRR is a power-of-two size of at least 4 KiB, aligned to it, below 4 GiB"),
])
def test_bad_entries_are_one_line_each(text, problem):
    with pytest.raises(PlatformError) as err:
        load_platform_text(BASE + text, "bad.toml")
    assert err.value.problems == [problem]
