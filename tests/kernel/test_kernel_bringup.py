# SPDX-License-Identifier: MIT
"""Each generation's bring-up through its own stub reaches SYS_READY; what it built, by hand."""

import re
from itertools import pairwise

from seamemu.arch.sysinfo import TDMR_INFO, TDMR_INFO_SIZE

GiB, MiB, PAGE = 1 << 30, 1 << 20, 4096


def tdx_memory(platform):
    """Usable RAM above the first MiB, adjacent ranges of one node merged: (start, end, node)."""
    out = []
    for m in sorted(platform.memory, key=lambda r: r.base):
        if m.kind != "usable" or m.end <= MiB:
            continue
        start = max(m.base, MiB)
        if out and out[-1][1] == start and out[-1][2] == m.node:
            out[-1] = (out[-1][0], m.end, m.node)
        else:
            out.append((start, m.end, m.node))
    return out


def subtract(ranges, holes):
    out = []
    for s, e in ranges:
        pieces = [(s, e)]
        for hs, he in holes:
            pieces = [p for a, b in pieces for p in ((a, min(b, hs)), (max(a, he), b))
                      if p[0] < p[1]]
        out += pieces
    return sorted(out)


def intersect(ranges, lo, hi):
    return [(max(s, lo), min(e, hi)) for s, e in ranges if max(s, lo) < min(e, hi)]


def round4k(n):
    return -(-n // PAGE) * PAGE


def calls_of(b, name):
    return [c for c in b.calls if c.leaf_name == name]


def test_reaches_sys_ready_through_the_stub_on_every_lp(ready):
    p = ready.session.platform
    assert ready.ok and ready.errno == 0 and ready.state == "SYS_READY"
    assert ready.session.module.state_name() == "SYS_READY"
    entries = {"v5-2022": {"__seamcall"}}.get(ready.kernel, {"__seamcall", "__seamcall_ret"})
    assert {c.entry for c in ready.calls} == entries
    assert all(c.record is not None and c.rax == c.record.status == 0 for c in ready.calls)
    assert len(calls_of(ready, "TDH.SYS.INIT")) == 1
    assert sorted(c.lp for c in calls_of(ready, "TDH.SYS.LP.INIT")) == list(range(p.num_lps))
    done = {"v5-2022": "tdx: TDX module initialized.", "6.8": "virt/tdx: module initialized",
            "mainline": "virt/tdx: TDX-Module initialized"}[ready.kernel]
    assert ready.dmesg()[-1] == done


def test_only_v5_reads_the_cmrs_and_only_with_tdh_sys_info(v5, linux68, mainline):
    assert calls_of(v5, "TDH.SYS.INFO") and not calls_of(v5, "TDH.SYS.RD")
    assert v5.sysinfo.method == "TDH.SYS.INFO"
    for b in (linux68, mainline):
        assert calls_of(b, "TDH.SYS.RD") and not calls_of(b, "TDH.SYS.INFO")
        # No CMR field: NUM_CMRS, CMR_BASE[i], CMR_SIZE[i] are class 0x10 (bits 61:56).
        assert not [c for c in calls_of(b, "TDH.SYS.RD") if (c.field_id >> 56) & 0x3F == 0x10]
        assert not any("CMR" in t for t in b.dmesg())


def test_v5_prints_the_cmrs_it_checked(v5):
    p = v5.session.platform
    checked = [t for t in v5.dmesg() if t.startswith("tdx: Kernel-checked-CMR : ")]
    assert checked == [f"tdx: Kernel-checked-CMR : [0x{c.base:x}, 0x{c.end:x})" for c in p.cmrs]
    assert v5.sysinfo.cmrs == tuple((c.base, c.size) for c in p.cmrs)


def test_log_lists_the_keyids(ready):
    p = ready.session.platform
    first = p.mktme_keyids + 1
    line = (f"tdx: TDX private KeyID range: [{first}, {first + p.tdx_keyids})."
            if ready.kernel == "v5-2022" else
            f"virt/tdx: BIOS enabled: private KeyID range [{first}, {first + p.tdx_keyids})")
    assert line in ready.dmesg()
    assert ready.keyids.global_keyid == first


def test_seamemu_notes_never_pass_for_dmesg(ready):
    for line in ready.log:
        assert line.text.startswith("seamemu: ") == (line.origin == "seamemu"), line


def test_tdmrs_cover_tdx_memory_in_whole_gib(ready):
    mem = tdx_memory(ready.session.platform)
    tdmrs = [(t.base, t.end) for t in ready.tdmrs]
    assert all(b % GiB == 0 and e % GiB == 0 and b < e for b, e in tdmrs)
    assert all(e1 <= b2 for (_, e1), (b2, _) in pairwise(tdmrs))        # sorted, disjoint
    assert subtract([(s, e) for s, e, _ in mem], tdmrs) == []                  # all covered
    assert all(intersect([(s, e) for s, e, _ in mem], b, e) for b, e in tdmrs)  # none wasted
    # The log names the same TDMRs, one line each.
    logged = [tuple(int(x, 16) for x in m.groups()) for m in
              (re.match(r"seamemu: TDMR\[\d+\]: \[0x([0-9a-f]+), 0x([0-9a-f]+)\)", t)
               for t in ready.texts()) if m]
    assert logged == tdmrs


def test_tdmrs_are_the_memory_rounded_to_gib(mainline):
    p = mainline.session.platform
    want = []
    for s, e, _ in tdx_memory(p):
        lo, hi = s // GiB * GiB, -(-e // GiB) * GiB
        if want and lo < want[-1][1]:
            lo = want[-1][1]
        if hi > lo:
            want.append((lo, hi))
    assert [(t.base, t.end) for t in mainline.tdmrs] == want
    assert len(p.cmrs) >= 2 and p.packages >= 2


def test_pamt_sizes_are_tdmr_pages_times_16_rounded_to_4k(ready):
    for t in ready.tdmrs:
        sizes = [s for _, s in t.pamt]
        assert sizes == [round4k(t.size // PAGE * 16), round4k(t.size // (2 * MiB) * 16),
                         round4k(t.size // GiB * 16)]
        (b4, s4), (b2, s2), (b1, _) = t.pamt
        assert b2 == b4 + s4 and b1 == b2 + s2 and b4 % PAGE == 0   # one block, 4K part first
    total = sum(s for t in ready.tdmrs for _, s in t.pamt)
    said = (f"tdx: {total // 4096} pages allocated for PAMT." if ready.kernel == "v5-2022"
            else f"virt/tdx: {total // 1024} KB allocated for PAMT")
    assert said in ready.dmesg()


def test_pamts_sit_in_tdx_memory_of_the_tdmr_node_clear_of_the_emulator(ready):
    p = ready.session.platform
    mem = tdx_memory(p)
    blocks = sorted((t.pamt_base, t.pamt_base + t.pamt_size, t.nid) for t in ready.tdmrs)
    assert all(e1 <= b2 for (_, e1, _), (b2, _, _) in pairwise(blocks))
    for b, e, nid in blocks:
        assert any(s <= b and e <= me and node == nid for s, me, node in mem)
        assert any(c.base <= b and e <= c.end for c in p.cmrs)
        assert b >= ready.session.machine.memory.scratch_end
    for t in ready.tdmrs:   # the node of the first memory block reaching into the TDMR
        assert t.nid == next(node for _, e, node in mem if e > t.base)


def test_reserved_areas_are_exactly_the_holes_and_the_pamts(ready):
    mem = [(s, e) for s, e, _ in tdx_memory(ready.session.platform)]
    pamts = [(t.pamt_base, t.pamt_base + t.pamt_size) for t in ready.tdmrs]
    for t in ready.tdmrs:
        rsvd = [(t.base + off, t.base + off + size) for off, size in t.reserved]
        assert rsvd == sorted(rsvd) and all(size % PAGE == 0 for _, size in t.reserved)
        usable = subtract(intersect(mem, t.base, t.end), pamts)
        assert subtract([(t.base, t.end)], rsvd) == usable


def test_config_gets_the_kernel_s_array_and_the_global_keyid(ready):
    s, p = ready.session, ready.session.platform
    (cfg,) = calls_of(ready, "TDH.SYS.CONFIG")
    assert cfg.inputs["rcx"] % 512 == 0 and cfg.inputs["rdx"] == len(ready.tdmrs)
    assert cfg.lp == 0
    assert cfg.inputs["r8"] == p.mktme_keyids + 1
    assert (cfg.state_before, cfg.state_after) == ("SYSINIT_DONE", "SYSCONFIG_DONE")
    mem = s.machine.memory
    for i, t in enumerate(ready.tdmrs):
        pa = mem.read_u64(cfg.inputs["rcx"] + 8 * i)
        assert pa % 512 == 0
        info = TDMR_INFO.unpack(mem.read(pa, TDMR_INFO_SIZE))
        assert (info["base"], info["size"]) == (t.base, t.size)
        assert (info["pamt_4k_base"], info["pamt_4k_size"]) == t.pamt[0]
    assert [(x.base, x.size) for x in s.module.state.tdmrs] == [(t.base, t.size)
                                                                 for t in ready.tdmrs]


def test_key_config_once_per_package_on_an_lp_of_that_package(ready):
    p = ready.session.platform
    keys = calls_of(ready, "TDH.SYS.KEY.CONFIG")
    assert sorted(p.lp_package(c.lp) for c in keys) == list(range(p.packages))
    assert keys[-1].state_after == "SYS_READY"
    assert all(c.state_after == "SYSCONFIG_DONE" for c in keys[:-1])


def test_every_tdmr_is_initialised_4_mib_per_call(ready):
    inits = calls_of(ready, "TDH.SYS.TDMR.INIT")
    for t in ready.tdmrs:
        mine = [c for c in inits if c.inputs["rcx"] == t.base]
        assert len(mine) == t.size // (4 * MiB)
        assert mine[-1].outputs["rdx"] == t.end
    assert all(x.initialized for x in ready.session.module.state.tdmrs)


def test_call_records_carry_what_a_reader_needs(mainline):
    c = calls_of(mainline, "TDH.SYS.RD")[0]
    doc = c.to_json()
    assert doc["leaf"] == 34 and doc["leaf_name"] == "TDH.SYS.RD" and doc["lp"] == 0
    assert doc["status_name"] == "TDX_SUCCESS" and doc["inputs"]["rdx"].startswith("0x")
    assert set(doc["outputs"]) == {"r8", "rdx"}
    assert doc["state_before"] == doc["state_after"] == "SYSINIT_DONE"
    assert [x.seq for x in mainline.calls] == list(range(1, len(mainline.calls) + 1))
