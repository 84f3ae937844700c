# SPDX-License-Identifier: MIT
"""The TDX fact tables: sorted, unique, internally consistent, and decoding as the spec says."""

from __future__ import annotations

from itertools import pairwise

import pytest

from seamemu.arch import leaves, metadata, status, sysinfo
from seamemu.arch.status import TdxStatus, status_name, with_info, with_operand


def _strictly_sorted(keys):
    return all(a < b for a, b in pairwise(keys))


def test_status_table_sorted_and_unique():
    assert _strictly_sorted([s.value for s in status.TDX_STATUSES])
    assert len({s.name for s in status.TDX_STATUSES}) == len(status.TDX_STATUSES)
    assert _strictly_sorted([s.value for s in status.SEAMLDR_STATUSES])
    assert len({s.name for s in status.SEAMLDR_STATUSES}) == len(status.SEAMLDR_STATUSES)


def test_status_values_have_no_details_and_known_kinds():
    for s in status.TDX_STATUSES:
        assert s.value & status.STATUS_DETAILS_MASK == 0, s.name
        assert s.detail in status.DETAIL_KINDS, s.name
        assert status.status_class(s.value) in status.STATUS_CLASS_NAMES, s.name


def test_operand_ids_sorted_unique():
    nums = [n for n, _ in status.OPERAND_IDS]
    assert _strictly_sorted(nums)
    assert len(set(status.OPERAND_NAMES.values())) == len(nums)
    assert _strictly_sorted([c for c, _ in status.STATUS_CLASSES])


def test_intenum_matches_table():
    values = list(dict.fromkeys(s.value for s in status.ALL_TDX_STATUSES))
    assert [m.value for m in TdxStatus] == values
    # Every status of both module generations has a name (Intel's tables, arch.status_tables).
    from seamemu.arch.status_tables import M10_STATUSES, M15_STATUSES
    assert [n for n, v in M15_STATUSES if status_name(v).split("(")[0] != n] == []
    assert [n for n, v in M10_STATUSES if status_name(v, table="M10").split("(")[0] != n] == []
    assert _strictly_sorted([v for _n, v in M15_STATUSES]) and \
        _strictly_sorted([v for _n, v in M10_STATUSES])
    assert TdxStatus.TDX_OPERAND_INVALID == 0xC000010000000000
    assert TdxStatus.TDX_SYS_BUSY == 0x8000020200000000


@pytest.mark.parametrize("value, name", [
    (0, "TDX_SUCCESS"),
    (0xC000010000000000, "TDX_OPERAND_INVALID(RAX)"),
    (0xC000010000000001, "TDX_OPERAND_INVALID(RCX)"),
    (0xC000010000000009, "TDX_OPERAND_INVALID(R9)"),
    (0x80000200000000BB, "TDX_OPERAND_BUSY(KET)"),
    (0x8000020300000000, "TDX_RND_NO_ENTROPY"),
    (0xC000050C00000000, "TDX_SYS_CONFIG_NOT_PENDING"),
    (0x0000081500000000, "TDX_KEY_CONFIGURED"),
    (0xC0000A0000000003, "TDX_INVALID_TDMR(tdmr=3)"),
    (0xC0000A1000000201, "TDX_INVALID_PAMT(tdmr=1, pamt=1G)"),
    (0xC0000A1200010000, "TDX_PAMT_OVERLAP(tdmr=0, pamt=4K, other tdmr=1)"),
    (0xC0000A2100000502, "TDX_NON_ORDERED_RESERVED_IN_TDMR(tdmr=2, rsvd=5)"),
    (0x00000C0B00000000, "TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT"),
    (0xC000050500000007, "TDX_SYS_NOT_READY(0x7)"),
])
def test_status_name_decodes_details(value, name):
    assert status_name(value) == name


def test_status_name_never_raises_on_unknown():
    assert status_name(0x1234567800000000).startswith("UNKNOWN_STATUS(0x1234567800000000")
    assert status_name(-1).startswith("UNKNOWN_STATUS")
    assert status_name(0x8000000000030001, loader=True) == "PSEAMLDR_ENOENTROPY"
    assert status_name(0x8000000000000009, loader=True).startswith("UNKNOWN_SEAMLDR_STATUS")


def test_with_operand_and_info_build_the_status_words():
    assert with_operand(TdxStatus.TDX_OPERAND_INVALID, "R8") == 0xC000010000000008
    assert with_info(TdxStatus.TDX_PAMT_OVERLAP, 1, 2, 0) == 0xC0000A1200000201
    assert status.is_error(TdxStatus.TDX_SYS_BUSY)
    assert not status.is_error(TdxStatus.TDX_TDMR_ALREADY_INITIALIZED)


def test_leaf_tables_sorted_unique_and_named_by_spec():
    nums = [leaf.number for leaf in leaves.SEAMCALL_LEAVES]
    assert _strictly_sorted(nums)
    assert len({leaf.name for leaf in leaves.SEAMCALL_LEAVES}) == len(nums)
    assert _strictly_sorted([leaf.rax for leaf in leaves.SEAMLDR_LEAVES])
    for leaf in leaves.SEAMCALL_LEAVES:
        assert leaf.name.startswith("TDH."), leaf.name
        assert set(leaf.generations) <= set(leaves.ABI_GENERATIONS)
    for leaf in leaves.SEAMLDR_LEAVES:
        assert leaf.rax & leaves.SEAMLDR_MODE_BIT


def test_leaf_lookup_by_name_and_generation():
    assert leaves.leaf_by_name("TDH.SYS.INFO").number == 32
    assert leaves.leaf_by_name("tdh_sys_config").number == 45
    assert leaves.leaf_info(34, "1.0") is None          # TDH.SYS.RD is 1.5 only
    assert leaves.leaf_info(34, "1.5").name == "TDH.SYS.RD"
    assert leaves.leaf_by_name("TDH.SYS.INFO").c_name == "TDH_SYS_INFO"
    admitted = {leaf.name for leaf in leaves.SEAMCALL_LEAVES if leaf.before_ready}
    assert "TDH.SYS.TDMR.INIT" not in admitted
    assert {"TDH.SYS.INIT", "TDH.SYS.LP.INIT", "TDH.SYS.CONFIG", "TDH.SYS.KEY.CONFIG",
            "TDH.SYS.INFO", "TDH.SYS.RD", "TDH.SYS.RDALL"} <= admitted
    assert [leaf.name for leaf in leaves.SEAMCALL_LEAVES if leaf.in_shutdown] == [
        "TDH.SYS.LP.SHUTDOWN"]


def test_metadata_field_table_sorted_unique():
    keys = [(f.class_code, f.field_code) for f in metadata.GLOBAL_FIELDS]
    assert _strictly_sorted(keys)
    ids = [f.element_id(k // f.num_elements, k % f.num_elements)
           for f in metadata.GLOBAL_FIELDS for k in range(f.num_fields * f.num_elements)]
    assert len(set(ids)) == len(ids)
    for f in metadata.GLOBAL_FIELDS:
        assert f.field_id & metadata.RESERVED_MASK == 0, f.name
        assert metadata.get_bits(f.field_id, metadata.CONTEXT_CODE) == metadata.MD_CTX_SYS


def test_field_id_encoding_round_trips():
    fid = metadata.make_field_id(0x19, 0x500, 3, non_arch=True)
    assert fid == metadata.global_field("CPUID_CONFIG_VALUES").field_id
    assert metadata.element_bytes(fid) == 8
    assert metadata.global_field("MAJOR_VERSION").element_size == 2
    assert metadata.find_global_field(0x9000000300000085).name == "CMR_BASE"
    assert metadata.field_id_name(0x9000000300000085) == "CMR_BASE[5]"
    assert metadata.field_id_name(0x9900000300000503) == "CPUID_CONFIG_VALUES[1][1]"
    assert metadata.is_null_field_id(0xFFFFFFFFFFFFFFFF)
    assert metadata.is_null_field_id(0xFF8FFFFFFFFFFFFF)     # context bits ignored
    assert not metadata.is_null_field_id(0x7FFFFFFFFFFFFFFF)


def test_kernel_read_field_ids_match_table():
    # IDs Linux tdx_global_metadata.c reads, spelled out there.
    for name, fid in (("MAJOR_VERSION", 0x0800000100000004), ("TDX_FEATURES0", 0x0A00000300000008),
                      ("MAX_TDMRS", 0x9100000100000008), ("NUM_CPUID_CONFIG", 0x9900000100000004),
                      ("CMR_SIZE", 0x9000000300000100)):
        assert metadata.global_field(name).field_id == fid


@pytest.mark.parametrize("layout, size", [
    (sysinfo.TDSYSINFO_STRUCT, 1024), (sysinfo.CMR_INFO_ENTRY, 16), (sysinfo.TDMR_INFO, 320),
    (sysinfo.SEAMLDR_INFO, 256), (sysinfo.SEAMLDR_PARAMS, 4096), (sysinfo.CPUID_CONFIG, 24),
])
def test_struct_layouts_are_packed_sorted_and_complete(layout, size):
    assert layout.size == size
    offsets = [f.offset for f in layout.fields]
    assert _strictly_sorted(offsets)
    end = 0
    for f in layout.fields:
        assert f.offset >= end, f"{layout.name}.{f.name} overlaps"
        end = f.offset + f.size
    assert end <= size


def test_struct_offsets_the_kernel_relies_on():
    assert sysinfo.TDSYSINFO_STRUCT.offset("max_tdmrs") == 32
    assert sysinfo.TDSYSINFO_STRUCT.offset("tdcs_base_size") == 48
    assert sysinfo.TDSYSINFO_STRUCT.offset("attributes_fixed0") == 64
    assert sysinfo.TDSYSINFO_STRUCT.offset("num_cpuid_config") == 128
    assert sysinfo.MAX_CPUID_CONFIGS == 37
    assert sysinfo.SEAMLDR_PARAMS.offset("num_module_pages") == 120
    assert sysinfo.SEAMLDR_PARAMS.offset("mod_pages_pa_list") == 128


def test_pack_unpack_round_trip_and_bad_input():
    blob = sysinfo.pack_tdmr_info(1 << 30, 1 << 30, (0x1000, 0x2000), (0x3000, 0x1000),
                                  (0x4000, 0x1000), reserved=((0x100000, 0x1000),))
    values = sysinfo.TDMR_INFO.unpack(blob)
    assert values["base"] == 1 << 30 and values["rsvd0_size"] == 0x1000
    assert values["pamt_2m_base"] == 0x3000 and values["rsvd1_size"] == 0
    with pytest.raises(ValueError, match="TDMR_INFO: need 320 bytes"):
        sysinfo.TDMR_INFO.unpack(blob[:100])
    with pytest.raises(ValueError, match="17 reserved areas"):
        sysinfo.pack_tdmr_info(0, 0, (0, 0), (0, 0), (0, 0), reserved=((0, 0),) * 17)


@pytest.mark.parametrize("module", [status, leaves, metadata, sysinfo])
def test_exports_sorted_and_present(module):
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name


def test_every_status_member_the_package_names_exists():
    """The status enums are built from the tables, so a type checker cannot see their members:
    a misspelt `TdxStatus.NAME` would only fail when its path runs.  Check every one here."""
    import re
    from pathlib import Path

    from seamemu.arch.status import SeamldrStatus

    root = Path(__file__).resolve().parents[2] / "seamemu"
    used = set()
    for p in root.rglob("*.py"):
        text = p.read_text()
        names = {"TdxStatus": "TdxStatus", "SeamldrStatus": "SeamldrStatus"}
        names |= {m.group(2): m.group(1) for m in re.finditer(
            r"\b(TdxStatus|SeamldrStatus) as (\w+)", text)}
        for alias, enum in names.items():
            used |= {(enum, m.group(1)) for m in re.finditer(
                rf"(?<![\w.]){alias}\.([A-Z][A-Z0-9_]+)\b", text)}
    assert len(used) > 20
    enums = {"TdxStatus": TdxStatus, "SeamldrStatus": SeamldrStatus}
    missing = sorted(f"{e}.{n}" for e, n in used if n not in enums[e].__members__)
    assert not missing, missing
