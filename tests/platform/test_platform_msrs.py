# SPDX-License-Identifier: MIT
"""MSR facts table, SEAMRR encodings, and the per-LP MSR values a platform implies."""

import dataclasses

import pytest

from seamemu.arch import msrs as m
from seamemu.platform import load_platform, msr_values, rdmsr_fault, wrmsr_fault


def test_msr_table_is_sorted_unique_and_sourced():
    numbers = [s.number for s in m.MSRS]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == len(numbers)
    assert all(s.source for s in m.MSRS)
    assert all(s.access in (m.ACCESS_RO, m.ACCESS_RW, m.ACCESS_LOCKABLE) for s in m.MSRS)


@pytest.mark.parametrize("name, number", [
    ("IA32_FEATURE_CONTROL", 0x3A), ("IA32_MKTME_KEYID_PARTITIONING", 0x87),
    ("IA32_MTRRCAP", 0xFE), ("IA32_VMX_BASIC", 0x480), ("IA32_VMX_MISC", 0x485),
    ("IA32_VMX_VMCS_ENUM", 0x48A), ("IA32_VMX_TRUE_ENTRY_CTLS", 0x490),
    ("IA32_VMX_VMFUNC", 0x491), ("IA32_VMX_PROCBASED_CTLS3", 0x492),
    ("IA32_TME_CAPABILITY", 0x981), ("IA32_TME_ACTIVATE", 0x982),
    ("IA32_SEAMRR_PHYS_BASE", 0x1400), ("IA32_SEAMRR_PHYS_MASK", 0x1401),
])
def test_msr_numbers(name, number):
    assert m.MSR_BY_NAME[name].number == number
    assert m.msr_name(number) == name


def test_every_vmx_capability_msr_from_0x480_to_0x492_is_named():
    assert all(n in m.MSR_BY_NUMBER for n in range(0x480, 0x493))


@pytest.mark.parametrize("msr, field, lo, hi", [
    ("IA32_MTRRCAP", "SEAMRR", 15, 15),
    ("IA32_FEATURE_CONTROL", "LOCK", 0, 0),
    ("IA32_FEATURE_CONTROL", "VMX_OUTSIDE_SMX", 2, 2),
    ("IA32_SEAMRR_PHYS_BASE", "CONFIGURED", 3, 3),
    ("IA32_SEAMRR_PHYS_MASK", "LOCK", 10, 10),
    ("IA32_SEAMRR_PHYS_MASK", "VALID", 11, 11),
    ("IA32_MKTME_KEYID_PARTITIONING", "NUM_TDX_PRIV_KIDS", 32, 63),
    ("IA32_TME_ACTIVATE", "MK_TME_KEYID_BITS", 32, 35),
    ("IA32_VMX_BASIC", "TRUE_CTLS", 55, 55),
])
def test_field_positions(msr, field, lo, hi):
    f = m.MSR_BY_NAME[msr].field(field)
    assert (f.lo, f.hi) == (lo, hi)


def test_field_get_put_round_trip_and_overflow():
    f = m.MSR_BY_NAME["IA32_TME_ACTIVATE"].field("MK_TME_KEYID_BITS")
    value = f.put(0x1, 6)
    assert value == 0x1 | (6 << 32) and f.get(value) == 6
    with pytest.raises(ValueError, match="does not fit"):
        f.put(0, 16)


def test_seamrr_encode_decode():
    base = m.seamrr_base_msr(0x7C000000)
    mask = m.seamrr_mask_msr(64 << 20, max_pa=46)
    assert base == 0x7C000000 | (1 << 3)
    assert mask & (1 << 10) and mask & (1 << 11)
    assert m.seamrr_range(base, mask, 46) == (0x7C000000, 64 << 20)
    with pytest.raises(ValueError, match="32 MiB"):
        m.seamrr_base_msr(0x7C001000)
    with pytest.raises(ValueError, match="power of two"):
        m.seamrr_mask_msr(48 << 20, max_pa=46)


def test_seamrr_mask_with_a_hole_has_no_range():
    mask = m.seamrr_mask_msr(64 << 20, max_pa=46) & ~(1 << 30)
    assert m.seamrr_range(m.seamrr_base_msr(0x7C000000), mask, 46) is None


def test_default_msr_values_follow_the_platform():
    p = load_platform()
    v = msr_values(p, 5)
    assert v[m.IA32_MKTME_KEYID_PARTITIONING] == (32 << 32) | 31
    assert v[m.IA32_MTRRCAP] & m.MTRRCAP_SEAMRR
    assert v[m.IA32_SEAMRR_PHYS_BASE] == p.seamrr[5].base_msr
    assert m.seamrr_range(v[m.IA32_SEAMRR_PHYS_BASE], v[m.IA32_SEAMRR_PHYS_MASK], 46) == \
        (0x7C000000, 64 << 20)
    act = m.MSR_BY_NAME["IA32_TME_ACTIVATE"]
    assert act.field("MK_TME_KEYID_BITS").get(v[m.IA32_TME_ACTIVATE]) == 6
    assert act.field("TDX_RESERVED_KEYID_BITS").get(v[m.IA32_TME_ACTIVATE]) == 5
    basic = v[m.IA32_VMX_BASIC]
    assert basic >> 54 & 1 and basic >> 55 & 1  # what TDH.SYS.INIT insists on


def test_msr_values_differ_per_lp_on_inconsistent_seamrr():
    p = load_platform(preset="inconsistent-seamrr")
    bases = {lp: msr_values(p, lp)[m.IA32_SEAMRR_PHYS_BASE] for lp in range(p.num_lps)}
    assert bases[6] == bases[7] != bases[0]
    assert len(set(bases.values())) == 2


def test_msr_values_of_tdx_disabled_platform():
    p = load_platform(preset="tdx-disabled")
    v = msr_values(p, 0)
    assert v[m.IA32_SEAMRR_PHYS_MASK] & m.SEAMRR_MASK_VALID == 0
    assert v[m.IA32_MKTME_KEYID_PARTITIONING] >> 32 == 0
    no_cap = dataclasses.replace(p, mtrrcap_seamrr=False)
    assert msr_values(no_cap, 0)[m.IA32_MTRRCAP] & m.MTRRCAP_SEAMRR == 0


def test_msr_values_refuses_a_missing_lp():
    with pytest.raises(ValueError, match="LP 8 does not exist"):
        msr_values(load_platform(), 8)


def test_wrmsr_faults():
    v = msr_values(load_platform(), 0)
    assert "read-only" in wrmsr_fault(v, m.IA32_MKTME_KEYID_PARTITIONING, 0)
    assert "locked" in wrmsr_fault(v, m.IA32_SEAMRR_PHYS_BASE, 0)
    assert "locked" in wrmsr_fault(v, m.IA32_FEATURE_CONTROL, 5)
    unlocked = {**v, m.IA32_SEAMRR_PHYS_MASK: v[m.IA32_SEAMRR_PHYS_MASK] & ~m.SEAMRR_MASK_LOCKED}
    assert wrmsr_fault(unlocked, m.IA32_SEAMRR_PHYS_BASE, 0x80000008) is None
    assert "reserved bits" in wrmsr_fault(unlocked, m.IA32_SEAMRR_PHYS_BASE, 1)
    assert "not implemented" in wrmsr_fault(v, 0x12345, 0)
    assert rdmsr_fault(v, m.IA32_SEAMRR_PHYS_MASK) is None
    assert "not implemented" in rdmsr_fault(v, 0x12345)
