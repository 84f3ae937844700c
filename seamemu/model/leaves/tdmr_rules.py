# SPDX-License-Identifier: MIT
"""The per-TDMR rules of TDH.SYS.CONFIG, in the order check_and_set_tdmrs() runs them.

Spec: intel/tdx-module tdx_1.5 src/vmm_dispatcher/api_calls/tdh_sys_config.c
(check_and_set_tdmrs, check_tdmr_area_addresses_and_size, check_tdmr_reserved_areas,
check_pamt_addresses, check_all_pamt_overlap, check_pamt_overlaps_available_areas,
check_pamt_in_cmr, check_tdmr_available_areas).  Status low bytes: byte 0 = TDMR index,
byte 1 = PAMT page size (0 = 4K, 1 = 2M, 2 = 1G) or reserved-area index, byte 2 = the other
TDMR of an overlap.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from seamemu.arch.status import TdxStatus as S
from seamemu.arch.sysinfo import MAX_RESERVED_PER_TDMR, PAMT_ENTRY_SIZE, TDMR_INFO
from seamemu.model.addr import aligned, is_overlap, valid_range
from seamemu.model.context import Call
from seamemu.model.leaf_spec import Check, operand_check

MASK64 = (1 << 64) - 1
GiB, MiB, KiB4 = 1 << 30, 1 << 20, 1 << 12
PT_4K, PT_2M, PT_1G = 0, 1, 2
PAGE_BYTES = {PT_4K: KiB4, PT_2M: 2 * MiB, PT_1G: GiB}
TDMR = "per TDMR (each entry i, in order)"


@dataclass(frozen=True)
class TdmrInfo:
    base: int
    size: int
    pamt: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]   # indexed by PT_*
    reserved: tuple[tuple[int, int], ...]                             # MAX_RESERVED_PER_TDMR

    @classmethod
    def unpack(cls, data: bytes) -> TdmrInfo:
        v = TDMR_INFO.unpack(data)
        return cls(base=v["base"], size=v["size"],
                   pamt=((v["pamt_4k_base"], v["pamt_4k_size"]),
                         (v["pamt_2m_base"], v["pamt_2m_size"]),
                         (v["pamt_1g_base"], v["pamt_1g_size"])),
                   reserved=tuple((v[f"rsvd{j}_offset"], v[f"rsvd{j}_size"])
                                  for j in range(MAX_RESERVED_PER_TDMR)))


# Every rule runs in the loop over the TDMR_INFO entries.
CHECKS = tuple(dataclasses.replace(c, group=TDMR) for c in (
    operand_check("entry_hpa", "RCX", "TDMR_INFO entry PA i is not a 512-byte-aligned shared "
                  "HPA"),
    Check("tdmr_overflow", "base + size overflows 64 bits", S.TDX_INVALID_TDMR),
    Check("tdmr_sorted", "base is below the previous TDMR's base", S.TDX_NON_ORDERED_TDMR),
    Check("tdmr_overlap", "base is below the previous TDMR's end", S.TDX_NON_ORDERED_TDMR),
    Check("tdmr_align", "base or size is not 1 GiB aligned, or size is 0", S.TDX_INVALID_TDMR),
    Check("tdmr_base_pa", "base is not below 2^52 or has HKID bits", S.TDX_INVALID_TDMR),
    Check("tdmr_end_pa", "the last byte is not below 2^52 or has HKID bits", S.TDX_INVALID_TDMR),
    Check("rsvd_null_order", "a null (size 0) reserved area j is followed by a non-null one",
          S.TDX_NON_ORDERED_RESERVED_IN_TDMR),
    Check("rsvd_overflow", "reserved area j: offset + size overflows",
          S.TDX_INVALID_RESERVED_IN_TDMR),
    Check("rsvd_sorted", "reserved area j's offset is below area j-1's",
          S.TDX_NON_ORDERED_RESERVED_IN_TDMR),
    Check("rsvd_overlap", "reserved area j starts before area j-1 ends",
          S.TDX_NON_ORDERED_RESERVED_IN_TDMR),
    Check("rsvd_align", "reserved area j's offset or size is not 4 KiB aligned",
          S.TDX_INVALID_RESERVED_IN_TDMR),
    Check("rsvd_inside", "reserved area j overflows or is not inside the TDMR",
          S.TDX_INVALID_RESERVED_IN_TDMR),
    Check("pamt_valid", "a PAMT (1G, then 2M, then 4K) overflows, is not 4 KiB aligned, is not "
          "below 2^52 / has HKID bits at either end, or is smaller than "
          "(TDMR size / page size) x 16", S.TDX_INVALID_PAMT),
    Check("pamt_pamt_overlap", "a PAMT of TDMR i overlaps a PAMT of an earlier TDMR, or "
          "another PAMT of TDMR i", S.TDX_PAMT_OVERLAP),
    Check("pamt_tdmr_overlap", "a PAMT of TDMR i overlaps a non-reserved part of a TDMR <= i, "
          "or a PAMT of an earlier TDMR overlaps a non-reserved part of TDMR i",
          S.TDX_PAMT_OVERLAP),
    Check("pamt_cmr", "a PAMT (1G, 2M, 4K) is not inside one CMR (adjacent CMRs merge)",
          S.TDX_PAMT_OUTSIDE_CMRS),
    Check("tdmr_cmr", "a non-reserved part of the TDMR is not inside one CMR (TDX 1.0 also "
          "checks the empty stretch after a 16th reserved area that reaches the TDMR's end: "
          "that end must lie in a CMR)", S.TDX_TDMR_OUTSIDE_CMRS),
))


def available_areas(t: TdmrInfo, *, empty_tail: bool = False) -> list[tuple[int, int]]:
    """Non-reserved stretches [start, end) of a TDMR, as the module's loops walk them.

    When every reserved-area slot is used, check_tdmr_available_areas checks the stretch after
    the last one too: TDX 1.5 only when it is not empty, TDX 1.0 (qizhangz/tdx-module
    tdh_sys_config.c) always, so `empty_tail` keeps an empty [end, end) tail for 1.0."""
    out: list[tuple[int, int]] = []
    start, end_of_tdmr = t.base, t.base + t.size
    valid = False
    for off, size in t.reserved:
        r_start = t.base + off
        valid = size != 0
        if start == end_of_tdmr:
            return out
        if valid and start == r_start:
            start = r_start + size
            continue
        end = end_of_tdmr if not valid else r_start
        out.append((start, end))
        if not valid:
            return out
        start = r_start + size
    if valid and (end_of_tdmr > start or empty_tail):
        out.append((start, end_of_tdmr))
    return out


def _pamt_hits_available(t: TdmrInfo, base: int, size: int) -> bool:
    return any(is_overlap(base, size, s, e - s) for s, e in available_areas(t))


def _check_pamt(c: Call, base: int, size: int, page: int, tdmr_size: int) -> bool:
    if not valid_range(base, size) or not aligned(base, KiB4) or not aligned(size, KiB4):
        return False
    last = (base + size - 1) & MASK64
    if not c.rules.pa_ok(base) or not c.rules.pa_ok(last):
        return False
    if page == KiB4 and c.state.dynamic_pamt:
        # 2.0 Dynamic PAMT: the 4K area is a bitmap, one bit per 4 KiB page (intel/tdx-module
        # 1666adc tdh_sys_config.c check_pamt_addresses_and_size)
        return size >= tdmr_size // KiB4 // 8
    return size >= (tdmr_size // page) * PAMT_ENTRY_SIZE


def check_tdmr(c: Call, tdmrs: list[TdmrInfo], i: int) -> None:
    """Run every rule on entry i (entries 0..i-1 already passed); fail through `c.require`."""
    t, rules = tdmrs[i], c.rules
    c.require(valid_range(t.base, t.size), "tdmr_overflow", i)
    if i > 0:
        prev = tdmrs[i - 1]
        c.require(t.base >= prev.base, "tdmr_sorted", i)
        c.require(t.base >= prev.base + prev.size, "tdmr_overlap", i)
    c.require(aligned(t.base, GiB) and aligned(t.size, GiB) and t.size > 0, "tdmr_align", i)
    c.require(rules.pa_ok(t.base), "tdmr_base_pa", i)
    c.require(rules.pa_ok(t.base + t.size - 1), "tdmr_end_pa", i)
    _check_reserved(c, t, i)
    for pt in (PT_1G, PT_2M, PT_4K):
        base, size = t.pamt[pt]
        c.require(_check_pamt(c, base, size, PAGE_BYTES[pt], t.size), "pamt_valid", i, pt)
    _check_pamt_overlaps(c, tdmrs, i)
    for pt in (PT_1G, PT_2M, PT_4K):
        base, size = t.pamt[pt]
        c.require(rules.area_in_cmr(base, base + size), "pamt_cmr", i, pt)
    for start, end in available_areas(t, empty_tail=c.abi == "1.0"):
        c.require(rules.area_in_cmr(start, end), "tdmr_cmr", i)


def _check_reserved(c: Call, t: TdmrInfo, i: int) -> None:
    for j, (off, size) in enumerate(t.reserved):
        if size == 0:
            nxt = t.reserved[j + 1][1] if j + 1 < len(t.reserved) else 0
            c.require(nxt == 0, "rsvd_null_order", i, j)
            continue
        c.require(valid_range(off, size), "rsvd_overflow", i, j)
        if j > 0:
            p_off, p_size = t.reserved[j - 1]
            c.require(off >= p_off, "rsvd_sorted", i, j)
            c.require(off >= p_off + p_size, "rsvd_overlap", i, j)
        c.require(aligned(off, KiB4) and aligned(size, KiB4), "rsvd_align", i, j)
        ok = valid_range(t.base, off) and valid_range(t.base + off, size) and \
            t.base + off + size <= t.base + t.size
        c.require(ok, "rsvd_inside", i, j)


def _check_pamt_overlaps(c: Call, tdmrs: list[TdmrInfo], i: int) -> None:
    t = tdmrs[i]
    for j in range(i):                                  # check_all_pamt_overlap
        for pt in (PT_4K, PT_2M, PT_1G):
            b, s = t.pamt[pt]
            hit = any(is_overlap(b, s, ob, os) for ob, os in tdmrs[j].pamt)
            c.require(not hit, "pamt_pamt_overlap", i, pt, j)
    for a, b_ in ((PT_4K, PT_2M), (PT_4K, PT_1G), (PT_2M, PT_1G)):
        hit = is_overlap(*t.pamt[a], *t.pamt[b_])
        c.require(not hit, "pamt_pamt_overlap", i, a, i)
    for j in range(i + 1):                              # check_pamt_overlaps_available_areas
        for pt in (PT_4K, PT_2M, PT_1G):
            c.require(not _pamt_hits_available(tdmrs[j], *t.pamt[pt]),
                      "pamt_tdmr_overlap", i, pt, j)
        if j < i:
            for pt in (PT_4K, PT_2M, PT_1G):
                c.require(not _pamt_hits_available(t, *tdmrs[j].pamt[pt]),
                          "pamt_tdmr_overlap", j, pt, i)


__all__ = ["CHECKS", "TdmrInfo", "available_areas", "check_tdmr"]
