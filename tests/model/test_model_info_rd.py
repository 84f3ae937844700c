# SPDX-License-Identifier: MIT
"""TDH.SYS.INFO, TDH.SYS.RD and TDH.SYS.RDALL: what the module reports, byte for byte."""

from __future__ import annotations

import pytest
from model_bench import CMRINFO_PA, PAGE_PA, SYSINFO_PA, Bench, make_platform

from seamemu.arch import metadata as md
from seamemu.arch.status import TdxStatus as S
from seamemu.arch.status import with_operand
from seamemu.arch.sysinfo import CMR_INFO_ENTRY, CPUID_CONFIG, CPUID_CONFIG_OFFSET, TDSYSINFO_STRUCT
from seamemu.model import reported_values
from seamemu.model.leaves import sys_rd
from seamemu.platform.facts import Cmr, GiB, MiB, ModuleInfo

NULL = (1 << 64) - 1
INFO_REGS = dict(rcx=SYSINFO_PA, rdx=1024, r8=CMRINFO_PA, r9=32)


def cmrs_reported(b):
    raw = b.mem.read(CMRINFO_PA, 512)
    return [tuple(CMR_INFO_ENTRY.unpack(raw[16 * i:16 * i + 16]).values()) for i in range(32)]


def test_sys_info_reports_cmrs_exactly(make_bench):
    cmrs = (Cmr(0, 0x3C000000), Cmr(4 * GiB, GiB), Cmr(5 * GiB + 4 * MiB, GiB - 4 * MiB))
    b = make_bench(abi="1.0", cmrs=cmrs)
    b.bring_up(until="lp_init")
    reply = b.call(0, "TDH.SYS.INFO", **INFO_REGS)
    assert reply.regs == {"rax": 0, "rdx": 1024, "r9": 32}
    assert cmrs_reported(b) == [(c.base, c.size) for c in cmrs] + [(0, 0)] * 29
    assert (CMRINFO_PA, 512) in reply.record.memory_written


def test_sys_info_struct_contents(bench):
    bench.bring_up(until="lp_init")
    bench.call(0, "TDH.SYS.INFO", **INFO_REGS)
    raw = bench.mem.read(SYSINFO_PA, 1024)
    v = TDSYSINFO_STRUCT.unpack(raw)
    info = bench.platform.module
    assert (v["vendor_id"], v["major_version"], v["minor_version"]) == (0x8086, info.major,
                                                                          info.minor)
    assert (v["build_num"], v["build_date"]) == (info.build_num, info.build_date)
    assert (v["max_tdmrs"], v["max_reserved_per_tdmr"], v["pamt_entry_size"]) == (64, 16, 16)
    assert v["sys_rd"] == (1 if bench.abi == "1.5" else 0)
    n = v["num_cpuid_config"]
    assert 0 < n <= 37
    first = CPUID_CONFIG.unpack(raw[CPUID_CONFIG_OFFSET:CPUID_CONFIG_OFFSET + 24])
    assert first["leaf"] == 1
    assert raw[CPUID_CONFIG_OFFSET + 24 * n:] == bytes(1024 - CPUID_CONFIG_OFFSET - 24 * n)


def test_sys_info_zeroes_the_struct_before_the_r8_r9_checks(bench):
    bench.bring_up(until="lp_init")
    bench.mem.write(SYSINFO_PA, b"\xAA" * 1024)
    reply = bench.call(0, "TDH.SYS.INFO", **dict(INFO_REGS, r9=31))
    assert reply.regs == {"rax": with_operand(S.TDX_OPERAND_INVALID, "R9"), "rdx": 0, "r9": 0}
    assert bench.mem.read(SYSINFO_PA, 1024) == bytes(1024)
    # ... but an RDX failure comes before the zeroing.
    bench.mem.write(SYSINFO_PA, b"\xAA" * 1024)
    bench.call(0, "TDH.SYS.INFO", **dict(INFO_REGS, rdx=1000))
    assert bench.mem.read(SYSINFO_PA, 1024) == b"\xAA" * 1024


@pytest.mark.parametrize("regs, operand", [
    (dict(rcx=SYSINFO_PA + 512), "RCX"),
    (dict(rcx=1 << 52), "RCX"),
    (dict(rcx=SYSINFO_PA | 32 << 46), "RCX"),     # a private KeyID in the HKID bits (51:46)
    (dict(rdx=0), "RDX"),
    (dict(r8=CMRINFO_PA + 16), "R8"),
    (dict(r8=0x3C000000), "R8"),                   # SEAMRR
    (dict(r9=0), "R9"),
])
def test_sys_info_operand_checks(bench, regs, operand):
    bench.bring_up(until="lp_init")
    reply = bench.call(0, "TDH.SYS.INFO", **dict(INFO_REGS, **regs))
    assert reply.regs["rax"] == with_operand(S.TDX_OPERAND_INVALID, operand)
    assert reply.regs["rdx"] == reply.regs["r9"] == 0


def test_shared_keyid_in_hkid_bits_is_accepted(bench):
    bench.bring_up(until="lp_init")
    # KeyID 5 is an MKTME (shared) KeyID; the model reads through the address it was given.
    reply = bench.call(0, "TDH.SYS.INFO", **dict(INFO_REGS, rcx=SYSINFO_PA | 5 << 46))
    assert reply.regs["rax"] == S.TDX_SUCCESS
    assert "not backed" in reply.record.note


def rd(b, fid, lp=0):
    r = b.call(lp, "TDH.SYS.RD", rdx=fid)
    return r.regs["rax"], r.regs["r8"], r.regs["rdx"]


def walk(b):
    status, _, fid = rd(b, NULL)
    assert status == S.TDX_METADATA_FIRST_FIELD_ID_IN_CONTEXT
    out = {}
    while fid != NULL:
        status, value, nxt = rd(b, fid)
        assert status == S.TDX_SUCCESS
        out[md.field_id_name(fid)] = value
        fid = nxt
    return out


def test_sys_rd_walks_every_element_and_reports_the_platform(make_bench):
    cmrs = (Cmr(0, 0x3C000000), Cmr(4 * GiB, 2 * GiB))
    b = make_bench(abi="1.5", cmrs=cmrs)
    b.bring_up(until="lp_init")
    values = walk(b)
    fields = [md.global_field(n) for n in b.tdx.profile.fields]
    assert len(values) == sum(f.num_fields * f.num_elements for f in fields)
    info = b.platform.module
    assert values["MAJOR_VERSION"] == info.major and values["MINOR_VERSION"] == info.minor
    assert values["UPDATE_VERSION"] == info.update
    # local_attestation (bit 8): the platform's SEAMOPS has SEAMVERIFYREPORT (metadata_sys.c).
    assert values["TDX_FEATURES0"] == info.tdx_features0 | 1 << 8
    assert values["NUM_CMRS"] == 32
    assert [values[f"CMR_BASE[{i}]"] for i in range(3)] == [0, 4 * GiB, 0]
    assert [values[f"CMR_SIZE[{i}]"] for i in range(3)] == [0x3C000000, 2 * GiB, 0]
    assert values["MAX_TDMRS"] == 64 and values["MAX_RESERVED_PER_TDMR"] == 16
    assert values["NUM_PKGS"] == b.platform.packages
    n = values["NUM_CPUID_CONFIG"]
    assert values[f"CPUID_CONFIG_LEAVES[{n}]"] == NULL          # past the list: all ones
    assert values[f"CPUID_CONFIG_VALUES[{n}][1]"] == 0


def test_an_abi_override_reports_a_module_of_that_generation():
    # The platform describes a 1.5.1 module; run as 1.0, TDH.SYS.INFO must not say 1.5.
    b = Bench(make_platform(abi="1.5", module=ModuleInfo(abi="1.5", minor=5, build_num=701)),
              abi="1.0")
    b.bring_up(until="lp_init")
    assert b.status(0, "TDH.SYS.INFO", **INFO_REGS) == S.TDX_SUCCESS
    v = TDSYSINFO_STRUCT.unpack(b.mem.read(SYSINFO_PA, 1024))
    assert (v["major_version"], v["minor_version"], v["sys_rd"]) == (1, 0, 0)
    assert v["build_num"] != 701                 # not the 1.5 module's build either
    # The other way round: a 1.0 platform module run as 1.5 reads back 1.5 through TDH.SYS.RD.
    b = Bench(make_platform(abi="1.0", module=ModuleInfo(abi="1.0", minor=0, tdx_features0=0)),
              abi="1.5")
    b.bring_up(until="lp_init")
    values = walk(b)
    assert (values["MAJOR_VERSION"], values["MINOR_VERSION"]) == (1, 5)
    assert values["TDX_FEATURES0"] != 0          # a 1.5 module has the field populated


def test_sys_rd_ignores_size_and_context_but_masks_to_the_element(bench15):
    bench15.bring_up(until="lp_init")
    major = md.global_field("MAJOR_VERSION")
    as_64 = md.set_bits(major.field_id, md.ELEMENT_SIZE_CODE, 3)
    as_td = md.set_bits(major.field_id, md.CONTEXT_CODE, md.MD_CTX_VP)
    assert rd(bench15, as_64)[:2] == rd(bench15, major.field_id)[:2] == (0, 1)
    assert rd(bench15, as_td)[1] == 1
    nxt = rd(bench15, major.field_id)[2]
    assert md.field_id_name(nxt) == "UPDATE_VERSION" and nxt == 0x0800000100000005


def test_sys_rd_errors_leave_default_outputs(bench15):
    bench15.bring_up(until="lp_init")
    for fid in (0x0800000100000004 | 1 << 38, 0x0800000100000004 | 1 << 24, 0x1F00000100000000):
        assert rd(bench15, fid) == (S.TDX_METADATA_FIELD_ID_INCORRECT, 0, NULL)


def test_sys_rd_records_the_checks_it_evaluated(bench15):
    # A read that succeeds went through every check; one that fails stops at the failing one
    # (the call record's `checks`, which `seamemu call --json` and the logs show). The same
    # field is read twice: the second read must record the same as the first.
    major = md.global_field("MAJOR_VERSION").field_id
    assert bench15.sys_init() == S.TDX_SUCCESS
    assert bench15.call(0, "TDH.SYS.RD", rdx=major).record.checks == ("lp_init",)
    bench15.lp_init_all()
    every = ("lp_init", "null_field", "single_element", "known_field")
    for _ in range(2):
        assert bench15.call(0, "TDH.SYS.RD", rdx=major).record.checks == every
        assert bench15.call(0, "TDH.SYS.RD", rdx=0x1F00000100000000).record.checks == every
        assert bench15.call(0, "TDH.SYS.RD", rdx=major | 1 << 38).record.checks == every[:3]
        assert bench15.call(0, "TDH.SYS.RD", rdx=NULL).record.checks == every[:2]


def test_the_values_table_follows_every_input_it_is_computed_from(platform15):
    # TDH.SYS.RD's values are kept per distinct input: a change of any one of them, from one
    # read to the next, must show in the values read.
    info = ModuleInfo(abi="1.5")
    first = reported_values.cached_global_values(platform15, info)
    assert first["SYS_ATTRIBUTES"] == (0,)
    handoff = reported_values.Handoff(valid=1, hv=7, size=64)
    handed = reported_values.cached_global_values(platform15, info, handoff=handoff)
    assert (handed["HANDOFF_DATA_VALID"], handed["HANDOFF_DATA_HV"]) == ((1,), (7,))
    assert reported_values.cached_global_values(platform15, info)["HANDOFF_DATA_VALID"] == (0,)
    assert reported_values.cached_global_values(platform15, info, 1)["SYS_ATTRIBUTES"] == (1,)
    attested = reported_values.cached_global_values(platform15, info, attestation=True)
    assert attested["TDX_FEATURES0"] != first["TDX_FEATURES0"]
    assert reported_values.cached_global_values(platform15, info) == first


def test_sys_rd_is_1_5_only(bench10):
    bench10.bring_up(until="lp_init")
    assert bench10.status(0, "TDH.SYS.RD", rax=34) == S.TDX_SYS_NOT_READY
    assert bench10.config() == 0
    bench10.key_config_all()
    assert bench10.status(0, "TDH.SYS.RD", rax=34) == with_operand(S.TDX_OPERAND_INVALID, "RAX")


def parse_list(raw):
    size = int.from_bytes(raw[0:2], "little")
    nseq = int.from_bytes(raw[2:4], "little")
    pos, out = 8, {}
    for _ in range(nseq):
        header = int.from_bytes(raw[pos:pos + 8], "little")
        pos += 8
        nelem = md.get_bits(header, md.LAST_ELEMENT_IN_FIELD) + 1
        nfields = md.get_bits(header, md.LAST_FIELD_IN_SEQUENCE) + 1
        base = md.set_bits(header, md.LAST_ELEMENT_IN_FIELD, 0)
        base = md.set_bits(base, md.LAST_FIELD_IN_SEQUENCE, 0)
        code = md.get_bits(base, md.FIELD_CODE)
        for k in range(nfields * nelem):
            fid = md.set_bits(base, md.FIELD_CODE, code + k)
            out[md.field_id_name(fid)] = int.from_bytes(raw[pos:pos + 8], "little")
            pos += 8
    assert pos == size
    return out


def test_rdall_dumps_what_sys_rd_reads(bench15):
    bench15.bring_up(until="lp_init")
    one_by_one = walk(bench15)
    reply = bench15.call(0, "TDH.SYS.RDALL", rdx=PAGE_PA, r8=NULL)
    assert reply.regs == {"rax": 0, "r8": NULL}
    assert parse_list(bench15.mem.read(PAGE_PA, 4096)) == one_by_one


def test_rdall_in_pieces_when_the_buffer_overflows(bench15, monkeypatch):
    bench15.bring_up(until="lp_init")
    everything = walk(bench15)
    monkeypatch.setattr(sys_rd, "RDALL_BUFFER_SIZE", 512)
    got, fid, rounds = {}, NULL, 0
    while True:
        reply = bench15.call(0, "TDH.SYS.RDALL", rdx=PAGE_PA, r8=fid)
        got.update(parse_list(bench15.mem.read(PAGE_PA, 512)))
        rounds += 1
        if reply.regs["rax"] == S.TDX_SUCCESS:
            break
        assert reply.regs["rax"] == S.TDX_METADATA_LIST_OVERFLOW
        fid = reply.regs["r8"]
    assert rounds > 2 and got == everything


def test_rdall_starts_at_a_field_and_rejects_a_mid_field_element(bench15):
    bench15.bring_up(until="lp_init")
    start = md.global_field("CMR_SIZE").element_id(0)
    assert bench15.status(0, "TDH.SYS.RDALL", rdx=PAGE_PA, r8=start) == 0
    dumped = parse_list(bench15.mem.read(PAGE_PA, 4096))
    assert "CMR_BASE[0]" not in dumped and "CMR_SIZE[0]" in dumped
    wrong_size = md.set_bits(start, md.ELEMENT_SIZE_CODE, 1)
    assert bench15.status(0, "TDH.SYS.RDALL", rdx=PAGE_PA, r8=wrong_size) == \
        S.TDX_METADATA_FIELD_ID_INCORRECT
