# SPDX-License-Identifier: MIT
"""The kernel's struct alt_instr read in both layouts, and CPUID features decided as the
kernel's get_cpu_cap() reads them (frontend/alternatives.py)."""

from __future__ import annotations

import struct

import pytest

from seamemu.arch.cpufeatures import ALT_FLAG_NOT
from seamemu.errors import AsmError
from seamemu.frontend import assemble_text
from seamemu.frontend.alternatives import cpu_has, read_table
from seamemu.platform.cpuid_table import default_cpuid_table


def test_the_entry_size_picks_the_release_layout():
    # v6.3 on: u32 ft_flags (feature, then ALT_FLAG_NOT << 16), then the two lengths.
    new = struct.pack("<iiHHBB", 0x10, 0x20, 9 * 32 + 9, ALT_FLAG_NOT, 5, 3)
    # v5.13 to v6.2: u16 feature with the NOT flag in bit 15, then the lengths.
    old = struct.pack("<iiHBB", 0x10, 0x20, (9 * 32 + 9) | 0x8000, 5, 3)
    for data in (new, old):
        (e,) = read_table(data, 0x1000, 1, "x.o")
        assert (e.instr, e.replacement, e.feature, e.flags, e.instrlen, e.replacementlen) == \
            (0x1010, 0x1024, 9 * 32 + 9, ALT_FLAG_NOT, 5, 3)
    with pytest.raises(AsmError, match="13 bytes for 1 entries is no struct alt_instr layout"):
        read_table(old + b"\0", 0x1000, 1, "x.o")     # the padlen layout before v5.13


def test_features_are_read_as_the_kernel_reads_cpuid():
    table = default_cpuid_table(0)
    assert cpu_has(table, 9 * 32 + 9, 14) is True          # ERMS: CPUID.7.0:EBX[9]
    assert cpu_has(table, 16 * 32 + 16, 14) is False       # LA57: CPUID.7.0:ECX[16] clear
    # Leaf 0x8000000A is above this CPU's highest extended leaf: the word reads 0, not the
    # highest basic leaf CPUID itself would answer with.
    assert cpu_has(table, 15 * 32 + 0, 14) is False
    assert cpu_has(table, 3 * 32 + 21, 12) is True         # X86_FEATURE_ALWAYS
    assert cpu_has(table, 11 * 32 + 12, 14) is None        # Linux-defined
    assert cpu_has(table, 22 * 32, 14) is None             # an X86_BUG_* in v6.10 on
    # Leaf 7 sub-leaf 1 is read only where CPUID.7.0:EAX (its highest sub-leaf) reaches 1.
    no_subleaf_1 = {**table, (7, 0): (0, *table[(7, 0)][1:]), (7, 1): (0xFFFFFFFF,) * 4}
    assert (cpu_has(table, 12 * 32 + 4, 14), cpu_has(no_subleaf_1, 12 * 32 + 4, 14)) == (False, False)
    assert cpu_has({**table, (7, 1): (0x10, 0, 0, 0)}, 12 * 32 + 4, 14) is True
    # Word 19 was a bug word in some kernels that wrote 12-byte entries.
    assert (cpu_has(table, 19 * 32, 12), cpu_has(table, 19 * 32, 14)) == (None, False)


def test_keystone_sources_with_alternatives_are_refused_not_run_unpatched():
    src = ("#include <asm/alternative.h>\n.text\nf:\n"
           "ALTERNATIVE \"movl $1, %eax\", \"movl $2, %eax\", 0\nret\n")
    with pytest.raises(AsmError, match="assemble it with --assembler gnu"):
        assemble_text(src)
