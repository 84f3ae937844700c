# SPDX-License-Identifier: MIT
"""Each module release serves its own metadata table through TDH.SYS.RD / RDALL."""

from __future__ import annotations

import pytest
from model_bench import PAGE_PA, Bench, make_platform

from seamemu.arch import metadata as md
from seamemu.arch.module_versions import module_profile
from seamemu.arch.status import TdxStatus as S
from seamemu.platform.facts import ModuleInfo

NULL = (1 << 64) - 1
CONFIG_FLAGS_FIXED0 = 0x9900000300000006
MAX_VCPUS_PER_TD = 0x9900000100000008


def bench(version: str) -> Bench:
    b = Bench(make_platform(abi=None, module=ModuleInfo(version=version)))
    b.bring_up(until="lp_init")
    return b


def rd(b, fid):
    r = b.call(0, "TDH.SYS.RD", rdx=fid)
    return r.regs["rax"], r.regs["r8"], r.regs["rdx"]


def walk_ids(b):
    status, _, fid = rd(b, NULL)
    assert status == S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT
    seen = []
    while fid != NULL:
        status, value, nxt = rd(b, fid)
        assert status == S.TDX_SUCCESS, hex(fid)
        seen.append((fid, value))
        fid = nxt
    return seen


@pytest.mark.parametrize("version", ["1.5.01", "1.5.05"])
def test_config_flags_fixed0_reads_gpaw_flexible_pending_ve_no_rbp_mod(version):
    # metadata_sys.c: global_data->config_flags_fixed0 = CONFIG_FLAGS_FIXED0 (bits 0..2).
    status, value, nxt = rd(bench(version), CONFIG_FLAGS_FIXED0)
    assert (status, value) == (S.TDX_SUCCESS, 0x7)
    assert nxt == 0x9900000300000007                      # CONFIG_FLAGS_FIXED1 next


@pytest.mark.parametrize("version, count", [("1.5.01", 65), ("1.5.05", 66), ("2.0.08", 72)])
def test_the_walk_visits_every_entry_of_the_release_in_table_order(version, count):
    seen = walk_ids(bench(version))
    entries = []
    for fid, _ in seen:
        name = md.field_id_name(fid).split("[")[0]
        if not entries or entries[-1] != name:
            entries.append(name)
    assert entries == list(module_profile(version).fields) and len(entries) == count
    total = sum(md.global_field(n).num_fields * md.global_field(n).num_elements
                for n in module_profile(version).fields)
    assert len(seen) == total


def test_max_vcpus_per_td_exists_from_1_5_05_on():
    assert rd(bench("1.5.01"), MAX_VCPUS_PER_TD) == (S.TDX_METADATA_FIELD_ID_INCORRECT, 0, NULL)
    b = bench("1.5.05")
    assert rd(b, MAX_VCPUS_PER_TD) == (S.TDX_SUCCESS, 576, 0x9900000300000400)
    # 1.5.01's walk steps from CONFIG_FLAGS_FIXED1 straight to CPUID_CONFIG_LEAVES.
    assert rd(bench("1.5.01"), 0x9900000300000007)[2] == 0x9900000300000400
    assert rd(b, 0x9900000300000007)[2] == MAX_VCPUS_PER_TD


def test_next_id_keeps_the_caller_s_size_code_inside_an_entry():
    # md_get_next_item_with_iterator steps the caller's own ID's field code within an entry.
    b = bench("1.5.05")
    cmr0_as_16bit = md.set_bits(0x9000000300000080, md.ELEMENT_SIZE_CODE, 1)
    status, _, nxt = rd(b, cmr0_as_16bit)
    assert status == S.TDX_SUCCESS and nxt == cmr0_as_16bit + 1
    last = md.global_field("CMR_BASE").element_id(31)
    assert rd(b, md.set_bits(last, md.ELEMENT_SIZE_CODE, 1))[2] == 0x9000000300000100


def test_cpuid_config_values_differ_between_releases_as_intel_s_code_does():
    # 1.5.01 TDH.SYS.RD: CONFIG_DIRECT only; 1.5.05: | ALLOW_DIRECT (the model's CPU has all).
    leaf7 = md.global_field("CPUID_CONFIG_VALUES").element_id(5, 0)      # CPUID(7,0) EBX:EAX
    assert rd(bench("1.5.01"), leaf7)[1] == 0
    assert rd(bench("1.5.05"), leaf7)[1] == 0xDC2B9B18 << 32
    n = md.global_field("NUM_CPUID_CONFIG").field_id
    assert [rd(bench(v), n)[1] for v in ("1.5.01", "1.5.05")] == [12, 18]


def rdall_headers(b):
    """The sequence headers of a one-page TDH.SYS.RDALL list from the first field."""
    assert b.call(0, "TDH.SYS.RDALL", rdx=PAGE_PA, r8=NULL).regs["rax"] == 0
    raw = b.mem.read(PAGE_PA, 4096)
    headers = []
    pos, nseq = 8, int.from_bytes(raw[2:4], "little")
    for _ in range(nseq):
        h = int.from_bytes(raw[pos:pos + 8], "little")
        n = (md.get_bits(h, md.LAST_ELEMENT_IN_FIELD) + 1) * \
            (md.get_bits(h, md.LAST_FIELD_IN_SEQUENCE) + 1)
        headers.append(md.set_bits(md.set_bits(h, md.LAST_ELEMENT_IN_FIELD, 0),
                                   md.LAST_FIELD_IN_SEQUENCE, 0))
        pos += 8 + 8 * n
    return headers


def test_rdall_of_each_release_holds_its_own_fields():
    for version in ("1.5.01", "1.5.05"):
        headers = rdall_headers(bench(version))
        assert (MAX_VCPUS_PER_TD in headers) == (version == "1.5.05")


def sixteen_reserved_areas_ending_at_the_tdmr_end() -> bytes:
    """TDMR 0 of the bench ([0, 1 GiB)) with 15 small reserved areas and SEAMRR
    ([960 MiB, 1 GiB)) as the 16th: every slot used, the last one reaching the TDMR's end,
    which lies in no CMR (CMR 0 ends at 960 MiB)."""
    from model_bench import SEAMRR_BASE, SEAMRR_SIZE, good_tdmrs, mutate
    fields = {}
    for j in range(15):
        fields[f"rsvd{j}_offset"], fields[f"rsvd{j}_size"] = (j + 1) << 20, 0x1000
    fields["rsvd15_offset"], fields["rsvd15_size"] = SEAMRR_BASE, SEAMRR_SIZE
    return mutate(good_tdmrs()[0], **fields)


@pytest.mark.parametrize("abi, status", [("1.0", S.TDX_TDMR_OUTSIDE_CMRS), ("1.5", 0)])
def test_1_0_checks_the_empty_tail_after_a_16th_reserved_area(make_bench, abi, status):
    # qizhangz/tdx-module tdh_sys_config.c check_tdmr_available_areas checks [end, end) when
    # every reserved slot is used; TDX_1.5.01 skips an empty tail.
    b = make_bench(abi=abi)
    b.bring_up(until="lp_init")
    assert b.config([sixteen_reserved_areas_ending_at_the_tdmr_end()]) == status


def test_a_1_0_module_names_its_statuses_from_its_own_table():
    from seamemu.arch.status import status_name, status_value
    assert status_name(0x4000000200000000, table="M10") == "TDX_NON_RECOVERABLE_TD"
    assert status_name(0x6000000200000000) == "TDX_NON_RECOVERABLE_TD"
    assert status_value("TDX_TD_FATAL", table="M10") == 0xC000060400000000
    assert status_value("TDX_TD_FATAL") == 0xE000060400000000
    assert status_name(0xC000090100000000, table="M10") == "TDX_BOOT_NT4_SET"
    assert status_name(0xC000090100000000) == "TDX_LIMIT_CPUID_MAXVAL_SET"
    b = bench_10 = Bench(make_platform(abi="1.0"))
    reply = bench_10.call(0, "TDH.SYS.INIT", rcx=1)
    assert reply.record.status_name == "TDX_OPERAND_INVALID(RCX)" and b.tdx.profile.statuses == "M10"


# --- 2.0.08 (intel/tdx-module 1666adc) against 1.5.05 -------------------------------------
TDX_CONNECT_FEATURES = 0x3000000300000000
MIN_DYNAMIC_PAMT_NUM_HKID_BITS = 0x9100000000000014
MIN_VIRT_MAXPA = 0x9900000000000009
TDCS_BASE_SIZE = 0x9800000100000100
SPDM_CREATE = 130                   # a TDX-IO leaf (tdx_api_defs.h TDH_SPDM_CREATE_LEAF)


def test_a_2_0_field_reads_2_0_s_value_and_1_5_05_does_not_have_it():
    # metadata_sys.c: TDX_CONNECT_FEATURES_MASK (tdx_api_defs.h: bits 0, 7, 9, 12); last entry.
    assert rd(bench("2.0.08"), TDX_CONNECT_FEATURES) == (S.TDX_SUCCESS, 0x1281, NULL)
    assert rd(bench("1.5.05"), TDX_CONNECT_FEATURES) == (S.TDX_METADATA_FIELD_ID_INCORRECT, 0,
                                                         NULL)


def test_fields_both_have_read_each_release_s_own_value():
    b20, b15 = bench("2.0.08"), bench("1.5.05")
    # td_control_structures.h: MAX_VCPUS_PER_TD 1376 (576 at e98d963), and the walk goes on to
    # 2.0's MIN_VIRT_MAXPA instead of CPUID_CONFIG_LEAVES; MIN_NUM_TDCS_PAGES 9 (6).
    assert rd(b20, MAX_VCPUS_PER_TD) == (S.TDX_SUCCESS, 1376, MIN_VIRT_MAXPA)
    assert rd(b15, MAX_VCPUS_PER_TD) == (S.TDX_SUCCESS, 576, 0x9900000300000400)
    assert rd(b20, TDCS_BASE_SIZE)[1] == 9 * 4096 and rd(b15, TDCS_BASE_SIZE)[1] == 6 * 4096
    assert rd(b20, CONFIG_FLAGS_FIXED0)[1] == 0x1F        # MAXGPA_VIRT joins (bit 4)
    n = md.global_field("NUM_CPUID_CONFIG").field_id
    assert (rd(b20, n)[1], rd(b15, n)[1]) == (28, 18)
    # MAXPA 52 - MAX_DYNAMIC_PAMT_HKID_START_BIT 48 (metadata_sys.c, pamt_manager.h).
    assert rd(b20, MIN_DYNAMIC_PAMT_NUM_HKID_BITS)[:2] == (S.TDX_SUCCESS, 4)


def test_a_placeholder_value_says_so():
    b = bench("2.0.08")
    r = b.call(0, "TDH.SYS.RD", rdx=MIN_VIRT_MAXPA)
    assert r.regs["rax"] == S.TDX_SUCCESS
    assert "MIN_VIRT_MAXPA is a placeholder" in r.record.note
    assert "placeholder" not in b.call(0, "TDH.SYS.RD", rdx=MAX_VCPUS_PER_TD).record.note


def test_rdall_of_2_0_08_holds_its_new_fields_in_one_page():
    headers = rdall_headers(bench("2.0.08"))
    assert TDX_CONNECT_FEATURES in headers and MIN_VIRT_MAXPA in headers
    assert TDX_CONNECT_FEATURES not in rdall_headers(bench("1.5.05"))


def test_a_tdx_io_leaf_is_refused_first_on_2_0_and_unknown_on_1_5():
    # 2.0 dispatcher: is_valid_tdx_io_host_call() before the "not SYS_READY" admission.
    b20, b15 = bench("2.0.08"), bench("1.5.05")
    r20, r15 = b20.call(0, SPDM_CREATE), b15.call(0, SPDM_CREATE)
    assert r20.regs["rax"] == S.TDX_OPERAND_INVALID | 0 and "no TDX-IO" in r20.record.note
    assert r15.regs["rax"] == S.TDX_SYS_NOT_READY and "unknown leaf" in r15.record.note


def test_tdh_sys_init_takes_a_version_on_2_0_only():
    fresh20 = Bench(make_platform(abi=None, module=ModuleInfo(version="2.0.08")))
    assert fresh20.call(0, "TDH.SYS.INIT", version=2).regs["rax"] == S.TDX_OPERAND_INVALID
    assert fresh20.tdx.state_name() == "SYSINIT_PENDING"
    # version 1: R8 is the fatal-error configuration; reserved bits 5:0 refuse it, last.
    assert fresh20.call(0, "TDH.SYS.INIT", version=1, r8=1).regs["rax"] == \
        S.TDX_OPERAND_INVALID | 8                           # OPERAND_ID_R8
    no_log = 0x3FFFFFFFFFFF << 6
    assert fresh20.call(0, "TDH.SYS.INIT", version=1, r8=no_log).regs["rax"] == S.TDX_SUCCESS
    fresh15 = Bench(make_platform(abi=None, module=ModuleInfo(version="1.5.05")))
    r = fresh15.call(0, "TDH.SYS.INIT", version=1, r8=no_log)
    assert r.regs["rax"] == S.TDX_OPERAND_INVALID and "version 1" in r.record.note


def test_dynamic_pamt_in_tdh_sys_config_is_2_0_s():
    # tdh_sys_config.c at 1666adc: R8 bit 16 (sys_config_options_t.dynamic_pamt) is allowed,
    # if the KeyID bits start at bit 48 or below; 1.5 reserves it.
    def configured(version: str, **over) -> tuple[int, str, str]:
        b = Bench(make_platform(abi=None, module=ModuleInfo(version=version), **over))
        b.bring_up(until="lp_init")
        status = b.config(hkid=b.hkid | 1 << 16)
        return status, b.tdx.records[-1].checks[-1], b.tdx.records[-1].note

    status, _, note = configured("2.0.08")                    # KeyIDs in bits 51:46
    assert status == S.TDX_SUCCESS and "Dynamic PAMT" in note
    assert configured("1.5.05")[:2] == (S.TDX_OPERAND_INVALID | 8, "r8_hkid")
    assert configured("2.0.08", keyid_bits=2)[:2] == (S.TDX_OPERAND_INVALID | 8,  # bits 51:50
                                                      "dynamic_pamt_hkid")


def test_2_0_puts_the_keyid_bits_below_the_cpu_s_maxpa():
    # tdh_sys_init.c check_key_management_config: 1.5.01 hkid_start_bit = MAX_PA (52) - bits;
    # 1666adc (2.0.08) global_data->max_pa (CPUID MAXPHYADDR) - bits.
    p = make_platform(abi=None, max_pa=48, keyid_bits=2)
    assert Bench(p, abi="1.5").tdx.rules.hkid_start_bit == 50
    rules20 = Bench(p, abi="2.0").tdx.rules
    assert (rules20.hkid_start_bit, rules20.hkid_of(1 << 46)) == (46, 1)
