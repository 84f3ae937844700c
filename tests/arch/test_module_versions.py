# SPDX-License-Identifier: MIT
"""The release profiles: each names real fields, real constants, and its guesses."""

from __future__ import annotations

import pytest

from seamemu.arch import metadata as md
from seamemu.arch.module_versions import (
    DEFAULT_FOR_ABI,
    DEFAULT_MODULE_VERSION,
    PROFILES,
    find_profile,
    module_profile,
)

# What Linux mainline reads, in its order: arch/x86/virt/vmx/tdx/tdx_global_metadata.c
# (torvalds/linux 01f492e) get_tdx_sys_info_{version,features,tdmr,td_ctrl,td_conf}.
MAINLINE_READS = (
    0x0800000100000003, 0x0800000100000004, 0x0800000100000005, 0x0A00000300000008,
    0x9100000100000008, 0x9100000100000009, 0x9100000100000010, 0x9100000100000011,
    0x9100000100000012, 0x9800000100000000, 0x9800000100000100, 0x9800000100000200,
    0x1900000300000000, 0x1900000300000001, 0x1900000300000002, 0x1900000300000003,
    0x9900000100000004, 0x9900000100000008, 0x9900000300000400, 0x9900000300000500,
)


def test_profiles_are_unique_and_the_defaults_exist():
    names = [p.name for p in PROFILES]
    assert len(set(names)) == len(names)
    assert module_profile(DEFAULT_MODULE_VERSION).abi == "1.5"
    assert {module_profile(v).abi for v in DEFAULT_FOR_ABI.values()} == {"1.0", "1.5"}
    assert find_profile("1.5.5") is find_profile("1.5.05")
    assert find_profile("1.5.7") is None
    with pytest.raises(KeyError, match=r"known: 1\.0, 1\.5\.01, 1\.5\.05"):
        module_profile("2.9")


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_every_profile_field_is_a_known_entry_in_table_order(profile):
    table = [f.name for f in md.GLOBAL_FIELDS]
    assert list(profile.fields) == [n for n in table if n in profile.fields]
    assert len(set(profile.fields)) == len(profile.fields)
    assert profile.guesses, "every profile says which of its values are guesses"


def test_field_counts_match_intel_s_lookup_tables():
    # MAX_NUM_GLOBAL_SYS_LOOKUP: 65 at TDX_1.5.01, 66 at e98d963 (1.5.05); 1.0 has no TDH.SYS.RD.
    assert len(module_profile("1.5.01").fields) == 65
    assert len(module_profile("1.5.05").fields) == 66
    assert module_profile("1.0").fields == ()


def test_only_1_5_05_has_every_field_mainline_reads():
    by_id = {f.field_id: f.name for f in md.GLOBAL_FIELDS}
    wanted = {by_id[fid] for fid in MAINLINE_READS}
    assert wanted <= set(module_profile("1.5.05").fields)
    assert wanted - set(module_profile("1.5.01").fields) == {"MAX_VCPUS_PER_TD"}


def test_the_constants_intel_s_sources_give():
    p01, p05, p10 = (module_profile(n) for n in ("1.5.01", "1.5.05", "1.0"))
    assert p01.constant("CONFIG_FLAGS_FIXED0") == 0x7
    assert p01.constant("ATTRIBUTES_FIXED0") == 0x8000000070000001
    assert p05.constant("ATTRIBUTES_FIXED0") == 0x8000000078000001      # + LASS (bit 27)
    assert p10.constant("ATTRIBUTES_FIXED0") == 0x8000000050000001      # no MIGRATABLE
    assert p05.constant("MAX_VCPUS_PER_TD") == 576
    assert p05.constant("TDX_FEATURES0") & (1 << 18)                    # NO_RBP_MOD
    assert p05.constant("TDX_FEATURES0") ^ p01.constant("TDX_FEATURES0") == 1 << 20
    assert (len(p10.cpuid_configs), len(p01.cpuid_configs), len(p05.cpuid_configs)) == (6, 12, 18)
    assert (p10.constant("TDCS_BASE_SIZE"), p01.constant("TDCS_BASE_SIZE")) == (4 * 4096, 6 * 4096)
    assert (p01.build_date, p01.build_num, p05.build_date, p05.build_num) == \
        (20231008, 595, 20240129, 698)
