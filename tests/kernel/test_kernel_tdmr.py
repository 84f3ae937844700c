# SPDX-License-Identifier: MIT
"""TDMR construction on its own: the kernel's rounding, merging, limits and PAMT placement."""

import dataclasses

import pytest

from seamemu.kernel.klog import KernelFailure, KernelLog
from seamemu.kernel.tdmr import (
    V5_STYLE,
    PamtAllocator,
    TdxMemblock,
    build_tdx_memlist,
    construct_tdmrs,
    fill_out_tdmrs,
    populate_rsvd_areas,
)
from seamemu.platform import load_platform
from seamemu.platform.facts import MemoryRegion

GiB, MiB = 1 << 30, 1 << 20


def blocks(*spans, nid=0):
    return [TdxMemblock(s, e, nid) for s, e in spans]


def test_blocks_sharing_a_gib_share_a_tdmr_and_later_ones_skip_the_covered_part():
    log = KernelLog()
    mem = blocks((MiB, 512 * MiB), (768 * MiB, GiB + 256 * MiB), (3 * GiB, 3 * GiB + MiB))
    assert fill_out_tdmrs(mem, 64, log) == [[0, GiB], [GiB, GiB], [3 * GiB, GiB]]


def test_running_out_of_tdmrs_is_enospc_with_the_kernel_s_warning():
    log = KernelLog()
    mem = blocks(*[(i * 2 * GiB, i * 2 * GiB + MiB) for i in range(3)])
    with pytest.raises(KernelFailure) as exc:
        fill_out_tdmrs(mem, 2, log)
    assert exc.value.errno == -28
    assert log.texts() == ["virt/tdx: initialization failed: TDMRs exhausted."]


def test_nearly_exhausted_tdmrs_warn():
    log = KernelLog()
    fill_out_tdmrs(blocks((0, GiB)), 4, log)
    assert log.texts() == ["virt/tdx: consumed TDMRs reaching limit: 1 used out of 4"]


def test_reserved_areas_beyond_the_limit_are_enospc():
    log = KernelLog()
    mem = blocks(*[(i * 64 * MiB, i * 64 * MiB + 32 * MiB) for i in range(16)])
    with pytest.raises(KernelFailure) as exc:
        populate_rsvd_areas(0, GiB, mem, [], 4, log)
    assert exc.value.errno == -28
    assert log.texts() == ["virt/tdx: initialization failed: TDMR [0x0, 0x40000000): reserved "
                           "areas exhausted."]


def test_pamt_falls_back_to_another_node_and_then_runs_out():
    mem = [TdxMemblock(0, 4 * MiB, 0), TdxMemblock(GiB, GiB + 64 * MiB, 1)]
    alloc = PamtAllocator(mem, avoid=[(0, 4 * MiB)])        # node 0 has nothing left
    assert alloc.alloc(16 * MiB, 0) == GiB + 48 * MiB       # top of node 1
    assert alloc.alloc(64 * MiB, 1) is None


def test_no_room_for_a_pamt_is_enomem():
    mem = blocks((GiB, GiB + MiB))
    with pytest.raises(KernelFailure) as exc:
        construct_tdmrs(mem, max_tdmrs=64, max_reserved=16, entry_sizes=(16, 16, 16),
                        allocator=PamtAllocator(mem), log=KernelLog())
    assert exc.value.errno == -12


def test_memlist_skips_the_first_mib_and_merges_one_node_s_neighbours():
    p = load_platform()
    p = dataclasses.replace(p, memory=(
        MemoryRegion(0, 512 * MiB), MemoryRegion(512 * MiB, 512 * MiB),
        MemoryRegion(GiB, GiB, node=1), MemoryRegion(2 * GiB, MiB, kind="reserved")))
    got = build_tdx_memlist(p)
    assert got == [TdxMemblock(MiB, GiB, 0), TdxMemblock(GiB, 2 * GiB, 1)]


def test_the_v5_series_runs_out_silently_with_e2big():
    """[PATCH v5 14/22] create_tdmrs() and 16/22 tdmr_add_rsvd_area(): -E2BIG, no message, and
    no early warning near the limit."""
    log = KernelLog("tdx: ")
    mem = blocks(*[(i * 2 * GiB, i * 2 * GiB + MiB) for i in range(3)])
    with pytest.raises(KernelFailure) as exc:
        fill_out_tdmrs(mem, 2, log, V5_STYLE)
    assert exc.value.errno == -7 and log.texts() == []
    fill_out_tdmrs(blocks((0, GiB)), 4, log, V5_STYLE)
    assert log.texts() == []
    many = blocks(*[(i * 64 * MiB, i * 64 * MiB + 32 * MiB) for i in range(16)])
    with pytest.raises(KernelFailure) as exc:
        populate_rsvd_areas(0, GiB, many, [], 4, log, V5_STYLE)
    assert exc.value.errno == -7 and log.texts() == []
