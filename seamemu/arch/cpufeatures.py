# SPDX-License-Identifier: MIT
"""The kernel's alternatives: struct alt_instr layouts and which X86_FEATURE_* words are CPUID.

A feature number is word * 32 + bit (X86_FEATURE_*).  Some words copy a CPUID register as the
kernel reads it (get_cpu_cap()); the others are Linux's own (synthetic bits it sets from what
it decides: mitigations, quirks, vendor-specific leaves), and the numbers past the last word
are X86_BUG_* bits.  Only the CPUID words can be decided from a CPU; the table says which,
and since which struct alt_instr layout the word meant that register.

Spec: Linux arch/x86/include/asm/cpufeatures.h (the word comments: "CPUID level 0x00000007:0
(EBX), word 9" ...) and arch/x86/kernel/cpu/common.c get_cpu_cap() (each word read only when
the CPU's highest basic or extended leaf reaches it, leaf 7 sub-leaf 1 only when leaf 7
EAX >= 1), both at v6.12 (adc218676eef25575469234709c2d87185ca223a);
arch/x86/include/asm/alternative.h (struct alt_instr, ALT_FLAG_NOT, ALT_FLAG_DIRECT_CALL) at
06d07429858317ded2db7986113a9e0129cd599b; the layout changes in commits 23c1ad538f4f
("x86/alternatives: Optimize optimize_nops()", v5.13: padlen dropped, 12-byte entries) and
5d1dd961e743 ("x86/alternatives: Add alt_instr.flags", v6.3: u32 ft_flags, 14-byte entries).
"""

from __future__ import annotations

from dataclasses import dataclass

X86_FEATURE_ALWAYS = 3 * 32 + 21      # "Always-present feature": set on every CPU
ALT_FLAG_NOT = 1 << 0                 # patch when the feature is absent
ALT_FLAG_DIRECT_CALL = 1 << 1         # the replacement's call target comes from the original


@dataclass(frozen=True)
class AltLayout:
    """One release range's struct alt_instr: field offsets in an entry of `size` bytes."""

    size: int
    kernels: str            # the releases that write it
    cpuid: int              # u16 feature number
    flags: int | None       # u16 ALT_FLAG_* (None: the NOT flag is bit 15 of `cpuid`)
    instrlen: int
    replacementlen: int


# By entry size. Before v5.13 entries were 13 bytes (a padlen byte); seamemu reads none.
ALT_LAYOUTS: dict[int, AltLayout] = {
    12: AltLayout(12, "Linux v5.13 to v6.2", cpuid=8, flags=None, instrlen=10, replacementlen=11),
    14: AltLayout(14, "Linux v6.3 on", cpuid=8, flags=10, instrlen=12, replacementlen=13),
}
ALTINSTR_FLAG_INV = 1 << 15           # the 12-byte layout's NOT flag, in `cpuid`


@dataclass(frozen=True)
class FeatureWord:
    """Word `word` of x86_capability is CPUID(`leaf`, `subleaf`).`register`."""

    word: int
    leaf: int
    subleaf: int
    register: str           # "eax", "ebx", "ecx", "edx"
    since_layout: int       # the smallest ALT_LAYOUTS size whose kernels all read it so


# Sorted by word.  Words 2 (Transmeta), 3, 7, 8, 11 and 21 (Linux-defined), 5 (Centaur) are
# absent: no CPUID register on this CPU says what the kernel puts there.  Words 19 and 20 were
# other things (bug words) in some kernels with 12-byte entries, so only 14-byte entries
# (v6.3 on, where NCAPINTS >= 21) name them.
FEATURE_WORDS: tuple[FeatureWord, ...] = (
    FeatureWord(0, 0x00000001, 0, "edx", 12),
    FeatureWord(1, 0x80000001, 0, "edx", 12),
    FeatureWord(4, 0x00000001, 0, "ecx", 12),
    FeatureWord(6, 0x80000001, 0, "ecx", 12),
    FeatureWord(9, 0x00000007, 0, "ebx", 12),
    FeatureWord(10, 0x0000000D, 1, "eax", 12),
    FeatureWord(12, 0x00000007, 1, "eax", 12),
    FeatureWord(13, 0x80000008, 0, "ebx", 12),
    FeatureWord(14, 0x00000006, 0, "eax", 12),
    FeatureWord(15, 0x8000000A, 0, "edx", 12),
    FeatureWord(16, 0x00000007, 0, "ecx", 12),
    FeatureWord(17, 0x80000007, 0, "ebx", 12),
    FeatureWord(18, 0x00000007, 0, "edx", 12),
    FeatureWord(19, 0x8000001F, 0, "eax", 14),
    FeatureWord(20, 0x80000021, 0, "eax", 14),
)
WORDS_BY_NUMBER: dict[int, FeatureWord] = {w.word: w for w in FEATURE_WORDS}


def feature_name(feature: int) -> str:
    """`word*32+bit`, as the kernel's alternatives debug output spells a feature."""
    return f"{feature >> 5}*32+{feature & 31}"


__all__ = [
    "ALTINSTR_FLAG_INV",
    "ALT_FLAG_DIRECT_CALL",
    "ALT_FLAG_NOT",
    "ALT_LAYOUTS",
    "AltLayout",
    "FEATURE_WORDS",
    "FeatureWord",
    "WORDS_BY_NUMBER",
    "X86_FEATURE_ALWAYS",
    "feature_name",
]
