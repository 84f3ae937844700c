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
    assert {module_profile(v).abi for v in DEFAULT_FOR_ABI.values()} == {"1.0", "1.5", "2.0"}
    assert find_profile("1.5.5") is find_profile("1.5.05")
    assert find_profile("2.0.8") is find_profile("2.0.08") is module_profile(DEFAULT_FOR_ABI["2.0"])
    assert find_profile("1.5.7") is None
    assert find_profile("2.0.02") is None           # be44324 (2.0.02) is not modelled
    with pytest.raises(KeyError, match=r"known: 1\.0, 1\.5\.01, 1\.5\.05, 2\.0\.08"):
        module_profile("2.9")


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_every_profile_field_is_a_known_entry_in_table_order(profile):
    table = [f.name for f in md.GLOBAL_FIELDS]
    assert list(profile.fields) == [n for n in table if n in profile.fields]
    assert len(set(profile.fields)) == len(profile.fields)
    assert profile.guesses, "every profile says which of its values are guesses"


def test_field_counts_match_intel_s_lookup_tables():
    # MAX_NUM_GLOBAL_SYS_LOOKUP: 65 at TDX_1.5.01, 66 at e98d963 (1.5.05), 72 at 1666adc
    # (2.0.08, include/auto_gen_2_0); 1.0 has no TDH.SYS.RD.
    assert len(module_profile("1.5.01").fields) == 65
    assert len(module_profile("1.5.05").fields) == 66
    assert len(module_profile("2.0.08").fields) == 72
    assert set(module_profile("2.0.08").fields) - set(module_profile("1.5.05").fields) == {
        "PAMT_PAGE_BITMAP_ENTRY_BITS", "MIN_DYNAMIC_PAMT_NUM_HKID_BITS", "MIN_VIRT_MAXPA",
        "MAX_EVENT_FILTERS", "GUEST_GPA_ATTR_MASK", "TDX_CONNECT_FEATURES"}
    assert module_profile("1.0").fields == ()


def test_1_5_05_and_2_0_08_have_every_field_mainline_reads():
    by_id = {f.field_id: f.name for f in md.GLOBAL_FIELDS}
    wanted = {by_id[fid] for fid in MAINLINE_READS}
    assert wanted <= set(module_profile("1.5.05").fields)
    assert wanted <= set(module_profile("2.0.08").fields)
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


def test_the_2_0_08_constants_intel_s_sources_give():
    # intel/tdx-module 1666adc: BUILD.md, proj_defs.mk, td_control_structures.h,
    # tdx_api_defs.h, metadata_sys.c, include/auto_gen_2_0/cpuid_configurations{.c,_defines.h}.
    p = module_profile("2.0.08")
    assert (p.major, p.minor, p.update, p.build_date, p.build_num) == (2, 0, 8, 20250325, 882)
    assert p.constant("MAX_VCPUS_PER_TD") == 1376
    assert p.constant("TDCS_BASE_SIZE") == 9 * 4096             # MIN_NUM_TDCS_PAGES 9
    assert p.constant("ATTRIBUTES_FIXED0") == 0x8000000078010041  # TPA (62) off: no TDX-IO
    assert p.constant("CONFIG_FLAGS_FIXED0") == 0x1F
    assert p.constant("TDX_CONNECT_FEATURES") == 0x1281
    features = p.constant("TDX_FEATURES0")
    assert features & (1 << 18) and features & (1 << 36)       # NO_RBP_MOD, DYNAMIC_PAMT
    assert not features & (1 << 6 | 1 << 32)                    # TDX_IO, TDX_CONNECT_PARTITIONING
    assert len(p.cpuid_configs) == 28
    assert p.cpuid_configs[27].leaf_subleaf == 0x18 | 8 << 32
    assert [name for name, _why in p.unpinned] == ["MIN_VIRT_MAXPA"]


def test_values_the_cpu_decides_are_declared_guesses():
    # metadata_sys.c ANDs TDX_XFAM_FIXED0 with the CPU's XCR0/XSS support (every release);
    # e98d963 tdh_sys_init() clears LASS (bit 27) from ATTRIBUTES_FIXED0 on a CPU without it.
    for p in PROFILES:
        assert any("XFAM_FIXED0" in what for what, _why in p.guesses), p.name
    p05 = module_profile("1.5.05")
    assert p05.constant("ATTRIBUTES_FIXED0") & (1 << 27)
    assert any("ATTRIBUTES_FIXED0" in what and "LASS" in what for what, _why in p05.guesses)


def test_tdx_1_0_and_1_5_statuses_differ_where_the_sources_do():
    # qizhangz/tdx-module 9359de5 vs intel/tdx-module 72d8cff
    # include/auto_gen/tdx_error_codes_defs.h: 1.5 adds the FATAL bit (61) and moves
    # WRONG_APIC_MODE into the non-recoverable class.
    from seamemu.arch.status import status_table
    m10, m15 = status_table("M10"), status_table("M15")
    assert (m10["TDX_NON_RECOVERABLE_TD"], m15["TDX_NON_RECOVERABLE_TD"]) == \
        (0x4000000200000000, 0x6000000200000000)
    assert (m10["TDX_TD_FATAL"], m15["TDX_TD_FATAL"]) == (0xC000060400000000, 0xE000060400000000)
    assert (m10["TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE"],
            m15["TDX_NON_RECOVERABLE_TD_WRONG_APIC_MODE"]) == \
        (0xC000000700000000, 0xE000000700000000)
    assert (len(m10), len(m15)) == (92, 164)
    assert "TDX_BOOT_NT4_SET" in m10 and "TDX_LIMIT_CPUID_MAXVAL_SET" in m15


def test_tdx_2_0_keeps_every_1_5_status_and_adds_its_own():
    # intel/tdx-module 1666adc include/auto_gen_2_0/tdx_error_codes_defs.h against 72d8cff's.
    from seamemu.arch.status import status_name, status_table, status_value
    m15, m20 = status_table("M15"), status_table("M20")
    assert {n: m20.get(n) for n in m15} == dict(m15) and len(m20) == 265
    assert module_profile("2.0.08").statuses == "M20"
    # Dynamic PAMT's TDX_HPA_RANGE_NOT_FREE is a 2.0 name; a 1.5 module has no such status.
    assert status_name(0xC000030400000000, table="M20") == "TDX_HPA_RANGE_NOT_FREE"
    assert status_name(0xC000030400000000).startswith("UNKNOWN_STATUS")
    assert status_value("TDX_IOMMU_ECMD_TIMEOUT", table="M20") == 0x80000F5100000000


def test_every_p_seamldr_error_code_is_named():
    # intel/tdx-loader p-seam-loader/include/pseamldr_api_defs.h (81bf312): twelve PSEAMLDR_*
    # codes, EUNSUPPORTED (0x...06) among them.
    from seamemu.arch.status import SEAMLDR_STATUSES, status_name
    assert len(SEAMLDR_STATUSES) == 13            # the twelve errors and PSEAMLDR_SUCCESS
    assert status_name(0x8000000000000006, loader=True) == "PSEAMLDR_EUNSUPPORTED"
