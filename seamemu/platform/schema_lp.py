# SPDX-License-Identifier: MIT
"""The per-LP sections of a platform file: [smrr], [[msr]], [[cpuid]] and [seamops].

These describe what TDH.SYS.INIT and TDH.SYS.LP.INIT sample on each LP, so a BIOS that leaves
an MSR, a CPUID bit, the SMRR or the SEAMOPS capabilities different between LPs (or wrong on
all of them) is reproducible from the file.  An entry names its LPs with one of `lp`, `core`
or `package`, or with none of them for every LP; later entries win.  Problems are collected by
the schema's Reader, one line each naming the field.
"""

from __future__ import annotations

from typing import Any

from seamemu.arch import msrs as m
from seamemu.platform.facts import LpValue

SMRR_KEYS = ("base", "locked", "size", "valid")
MSR_KEYS = ("core", "lp", "msr", "package", "value")
CPUID_KEYS = ("core", "eax", "ebx", "ecx", "edx", "leaf", "lp", "package", "subleaf")
SEAMOPS_KEYS = ("capabilities", "override")
SEAMOPS_OVERRIDE_KEYS = ("capabilities", "core", "lp", "package")
REGS = ("eax", "ebx", "ecx", "edx")
NO_SUBLEAF = 0xFFFFFFFF
SMRR_MASK_LOCK, SMRR_MASK_VALID = 1 << 10, 1 << 11      # smrrs.h smrr_mask_t


_BAD = frozenset({-1})       # an entry whose target was reported as wrong


def _targets(r: Any, t: dict, path: str, cpu: dict) -> frozenset[int] | None:
    """The LPs an entry names (None: every LP); _BAD after a reported problem."""
    given = [k for k in ("lp", "core", "package") if k in t]
    if len(given) > 1:
        r.problem(path, "give at most one of 'lp', 'core' and 'package'")
        return _BAD
    if not given:
        return None
    n = cpu["num_lps"]
    per_core, per_pkg = cpu["threads_per_core"], n // cpu["packages"]
    key = given[0]
    hi = {"lp": n - 1, "core": n // per_core - 1, "package": cpu["packages"] - 1}[key]
    idx = r.int(t, key, path, lo=0, hi=hi)
    if idx is None:
        return _BAD
    width = {"lp": 1, "core": per_core, "package": per_pkg}[key]
    return frozenset(range(idx * width, idx * width + width))


def _msr_number(r: Any, t: dict, path: str) -> int | None:
    value = t.get("msr")
    if isinstance(value, str) and not value[:1].isdigit():
        spec = m.MSR_BY_NAME.get(value.upper())
        if spec is None:
            r.problem(f"{path}.msr", f"unknown MSR name '{value}' (give the number, e.g. 0x10a)")
            return None
        return spec.number
    return r.size(t, "msr", path)


def read_lp_values(r: Any, doc: dict, cpu: dict) -> tuple[tuple[LpValue, ...], ...]:
    """(msrs, cpuid, seamops) entries of `doc`, in file order ([smrr] before [[msr]])."""
    msr_values: list[LpValue] = []
    if "smrr" in doc:
        t = r.table(doc["smrr"], "smrr", SMRR_KEYS)
        base, size = r.size(t, "base", "smrr"), r.size(t, "size", "smrr")
        valid, locked = r.bool(t, "valid", "smrr", True), r.bool(t, "locked", "smrr", True)
        if base is not None and size is not None:
            if size & (size - 1) or size < 4096 or base % size or base + size > 1 << 32:
                r.problem("smrr", f"base 0x{base:x} size 0x{size:x}: the SMRR is a power-of-two "
                          "size of at least 4 KiB, aligned to it, below 4 GiB")
            else:
                mask = (~(size - 1) & 0xFFFFF000) | (SMRR_MASK_VALID if valid else 0) | \
                    (SMRR_MASK_LOCK if locked else 0)
                msr_values += [LpValue(m.IA32_SMRR_PHYSBASE, base | 6),     # write-back
                               LpValue(m.IA32_SMRR_PHYSMASK, mask)]
    for i, t in r.tables(doc.get("msr", []), "msr", MSR_KEYS):
        path = f"msr[{i}]"
        lps = _targets(r, t, path, cpu)
        number, value = _msr_number(r, t, path), r.size(t, "value", path)
        if lps is not _BAD and number is not None and value is not None:
            if value >> 64:
                r.problem(f"{path}.value", "does not fit in 64 bits")
                continue
            msr_values.append(LpValue(number, value, lps))
    cpuid: list[LpValue] = []
    for i, t in r.tables(doc.get("cpuid", []), "cpuid", CPUID_KEYS):
        path = f"cpuid[{i}]"
        lps = _targets(r, t, path, cpu)
        leaf = r.int(t, "leaf", path, lo=0, hi=0xFFFFFFFF)
        sub = r.int(t, "subleaf", path, NO_SUBLEAF, lo=0, hi=0xFFFFFFFF)
        regs = [(j, r.size(t, reg, path)) for j, reg in enumerate(REGS) if reg in t]
        if not regs:
            r.problem(path, "give at least one of eax, ebx, ecx, edx")
        for j, value in regs:
            if lps is _BAD or leaf is None or sub is None or value is None:
                continue
            if value >> 32:
                r.problem(f"{path}.{REGS[j]}", "does not fit in 32 bits")
                continue
            cpuid.append(LpValue(leaf | sub << 32, value, lps, reg=j))
    seamops: list[LpValue] = []
    if "seamops" in doc:
        t = r.table(doc["seamops"], "seamops", SEAMOPS_KEYS)
        if "capabilities" in t:
            caps = r.size(t, "capabilities", "seamops")
            if caps is not None:
                seamops.append(LpValue(0, caps))
        for i, o in r.tables(t.get("override", []), "seamops.override", SEAMOPS_OVERRIDE_KEYS):
            path = f"seamops.override[{i}]"
            lps = _targets(r, o, path, cpu)
            caps = r.size(o, "capabilities", path)
            if lps is not _BAD and caps is not None:
                seamops.append(LpValue(0, caps, lps))
    return tuple(msr_values), tuple(cpuid), tuple(seamops)


__all__ = ["read_lp_values"]
