# SPDX-License-Identifier: MIT
"""The TOML platform schema: keys, types and defaults, read into a `Platform` draft.

Every mistake is collected as one line naming its field path (`cpu.packages`, `memory[2].base`,
`seamrr.override[0].core`); nothing here raises.  Semantic checks (overlaps, alignment, CMRs
backed by memory, KeyID space) run afterwards in `validate.py`.  docs/platform.md documents it.
"""

from __future__ import annotations

import builtins
import difflib
from pathlib import Path
from typing import Any

from seamemu.arch.leaves import ABI_GENERATIONS
from seamemu.arch.module_versions import find_profile, profile_names
from seamemu.arch.msrs import seamrr_base_msr, seamrr_mask_msr
from seamemu.platform.facts import MEMORY_KINDS, Cmr, MemoryRegion, ModuleInfo, NumaNode, Platform, Seamrr
from seamemu.platform.schema_lp import read_lp_values
from seamemu.platform.units import parse_size

TOP_KEYS = ("bios", "cmr", "cpu", "cpuid", "description", "errata", "extends", "keyids",
            "memory", "module", "msr", "name", "numa", "pseamldr", "seamops", "seamrr", "smrr")
CPU_KEYS = ("absent_lps", "cores_per_package", "max_pa", "packages", "threads_per_core")
NUMA_KEYS = ("id", "packages")
MEMORY_KEYS = ("base", "kind", "node", "size")
CMR_KEYS = ("base", "size")
SEAMRR_VALUE_KEYS = ("base", "base_msr", "configured", "locked", "mask_msr", "size", "valid")
SEAMRR_KEYS = SEAMRR_VALUE_KEYS + ("override",)
OVERRIDE_KEYS = SEAMRR_VALUE_KEYS + ("core", "lp")
KEYID_KEYS = ("bits", "mktme", "tdx")
BIOS_KEYS = ("mcheck_ok", "mtrrcap_seamrr", "tdx_enabled")
MODULE_KEYS = ("abi", "binary", "build_date", "build_num", "present", "tdx_features0",
               "vendor_id", "version")
PSEAMLDR_KEYS = ("present",)
ERRATA_KEYS = ("tdx_pw_mce",)

_MISSING = object()


class Reader:
    """Typed access to a parsed TOML document that records a problem instead of raising."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def table(self, value: Any, path: str, keys: tuple[str, ...]) -> dict:
        """`value` as a table; unknown keys are reported with the closest known key."""
        if not isinstance(value, dict):
            self.problem(path, f"expected a table, got {_kind(value)}")
            return {}
        for key in value:
            if key not in keys:
                close = difflib.get_close_matches(key, keys, n=1, cutoff=0.75)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(keys)})"
                self.problem(path or "top level", f"unknown key '{key}'{hint}")
        return value

    def tables(self, value: Any, path: str, keys: tuple[str, ...]) -> list[tuple[int, dict]]:
        """(index, table) for each table of an array of tables (`[[memory]]`).

        A lone table counts as a one-entry array; an entry that is not a table is reported
        and skipped, so it does not also show up as missing every field.
        """
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            self.problem(path, f"expected an array of tables ([[{path}]]), got {_kind(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append((i, self.table(item, f"{path}[{i}]", keys)))
            else:
                self.problem(f"{path}[{i}]", f"expected a table, got {_kind(item)}")
        return out

    def int(self, table: dict, key: str, path: str, default: Any = _MISSING,
            lo: int | None = None, hi: int | None = None) -> Any:
        value = table.get(key, default)
        where = f"{path}.{key}" if path else key
        if value is _MISSING:
            self.problem(where, "missing (required)")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(where, f"expected an integer, got {_kind(value)}")
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            self.problem(where, f"{value} is out of range ({bounds})")
            return None
        return value

    def size(self, table: dict, key: str, path: str, default: Any = _MISSING) -> Any:
        value = table.get(key, default)
        where = f"{path}.{key}" if path else key
        if value is _MISSING:
            self.problem(where, "missing (required)")
            return None
        try:
            return parse_size(value)
        except ValueError as e:
            self.problem(where, str(e))
            return None

    def bool(self, table: dict, key: str, path: str, default: Any) -> Any:
        value = table.get(key, default)
        if not isinstance(value, bool):
            where = f"{path}.{key}" if path else key
            self.problem(where, f"expected true or false, got {_kind(value)}")
            return default
        return value

    def str(self, table: dict, key: str, path: str, default: Any, choices: tuple = ()) -> Any:
        value = table.get(key, default)
        where = f"{path}.{key}" if path else key
        if not isinstance(value, str):
            self.problem(where, f"expected a string, got {_kind(value)}")
            return default
        if choices and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1, cutoff=0.75)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.problem(where, f"'{value}' is not one of {', '.join(choices)}{hint}")
            return default
        return value

    def ints(self, table: dict, key: builtins.str, path: builtins.str,
             default: tuple = ()) -> tuple[builtins.int, ...]:
        value = table.get(key, default)
        where = f"{path}.{key}" if path else key
        if not isinstance(value, (list, tuple)) or any(
                isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in value):
            self.problem(where, f"expected a list of non-negative integers, got {_kind(value)}")
            return tuple(default)
        return tuple(value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return f"string {value!r}"
    return f"{type(value).__name__} {value!r}"


def _seamrr_value(r: Reader, t: dict, path: str, base: Seamrr | None, max_pa: int) -> Seamrr | None:
    """One SEAMRR programming: raw MSR values, or base/size/bits (defaults from `base`)."""
    raw = "base_msr" in t or "mask_msr" in t
    if raw and any(k in t for k in ("base", "size", "configured", "valid", "locked")):
        r.problem(path, "give either base_msr/mask_msr or base/size/configured/valid/locked, "
                  "not both")
        return None
    if raw:
        base_msr = r.size(t, "base_msr", path, base.base_msr if base else 0)
        mask_msr = r.size(t, "mask_msr", path, base.mask_msr if base else 0)
        return None if base_msr is None or mask_msr is None else Seamrr(base_msr, mask_msr)
    prev = base.range(max_pa) if base else None
    addr = r.size(t, "base", path, prev[0] if prev else 0)
    size = r.size(t, "size", path, prev[1] if prev else 0)
    configured = r.bool(t, "configured", path, base.configured if base else True)
    valid = r.bool(t, "valid", path, base.valid if base else True)
    locked = r.bool(t, "locked", path, base.locked if base else True)
    if addr is None or size is None:
        return None
    if size == 0 and addr == 0 and not (configured or valid):
        return Seamrr(0, (1 << 10) if locked else 0)  # BIOS left SEAMRR off
    try:
        return Seamrr(seamrr_base_msr(addr, configured),
                      seamrr_mask_msr(size, max_pa, locked=locked, valid=valid))
    except ValueError as e:
        r.problem(path, str(e))
        return None


def _seamrr(r: Reader, doc: dict, cpu: dict) -> tuple[Seamrr, ...]:
    if "seamrr" not in doc:
        return (Seamrr(0, 0),) * cpu["num_lps"]  # no [seamrr]: the BIOS left SEAMRR off
    t = r.table(doc["seamrr"], "seamrr", SEAMRR_KEYS)
    max_pa = cpu["max_pa"]
    glob = _seamrr_value(r, t, "seamrr", None, max_pa) or Seamrr(0, 0)
    lps = [glob] * cpu["num_lps"]
    tpc = cpu["threads_per_core"]
    for i, o in r.tables(t.get("override", []), "seamrr.override", OVERRIDE_KEYS):
        path = f"seamrr.override[{i}]"
        if ("core" in o) == ("lp" in o):
            r.problem(path, "give exactly one of 'core' (both threads) or 'lp' (one thread)")
            continue
        if "core" in o:
            core = r.int(o, "core", path, lo=0, hi=cpu["num_lps"] // tpc - 1)
            targets = [] if core is None else list(range(core * tpc, core * tpc + tpc))
        else:
            lp = r.int(o, "lp", path, lo=0, hi=cpu["num_lps"] - 1)
            targets = [] if lp is None else [lp]
        value = _seamrr_value(r, {k: v for k, v in o.items() if k not in ("core", "lp")},
                              path, glob, max_pa)
        for lp in targets:
            if value is not None:
                lps[lp] = value
    return tuple(lps)


def _module(r: Reader, doc: dict, source: str) -> ModuleInfo | None:
    """[module]: `version` names a release profile (arch.module_versions); `abi` alone means
    that generation's default release; build_num/build_date/vendor_id/tdx_features0 override
    what the profile reports."""
    if "module" not in doc:
        return None
    t = r.table(doc["module"], "module", MODULE_KEYS)
    if not r.bool(t, "present", "module", True):
        return None
    abi = r.str(t, "abi", "module", "", choices=ABI_GENERATIONS) if "abi" in t else ""
    version = r.str(t, "version", "module", "")
    prof = find_profile(version) if version else None
    if version and prof is None:
        names = profile_names()
        close = difflib.get_close_matches(version, names, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        r.problem("module.version", f"'{version}' is not a known TDX module release "
                  f"(known: {', '.join(names)}){hint}")
        return None
    if prof is not None and abi and abi != prof.abi:
        r.problem("module.abi", f"'{abi}' does not match version {prof.name}, which serves "
                  f"ABI {prof.abi} (drop abi, or name a {abi} release)")
        return None
    over = {}
    for key, hi in (("build_num", 0xFFFF), ("build_date", 99991231), ("vendor_id", 0xFFFFFFFF)):
        if key in t:
            over[key] = r.int(t, key, "module", lo=0, hi=hi)
    if "tdx_features0" in t:
        over["tdx_features0"] = r.size(t, "tdx_features0", "module")
    if None in over.values():
        return None
    return ModuleInfo(version=prof.name if prof else "", abi=abi, **over,
                      binary=_binary(r.str(t, "binary", "module", ""), source))


def _binary(path: str, source: str) -> str:
    """A relative `[module] binary` is relative to the platform file that names it."""
    if not path or Path(path).is_absolute() or not source or source.startswith(("preset ", "<")):
        return path
    return str(Path(source).parent / path)


def read_platform(doc: dict, name: str, source: str = "") -> tuple[Platform | None, list[str]]:
    """Read a parsed TOML document into a Platform draft (memory and CMRs in file order)."""
    r = Reader()
    r.table(doc, "", TOP_KEYS)
    cpu_t = r.table(doc.get("cpu", {}), "cpu", CPU_KEYS)
    cpu = {
        "packages": r.int(cpu_t, "packages", "cpu", 1, lo=1, hi=64),
        "cores_per_package": r.int(cpu_t, "cores_per_package", "cpu", 1, lo=1, hi=256),
        "threads_per_core": r.int(cpu_t, "threads_per_core", "cpu", 1, lo=1, hi=2),
        "max_pa": r.int(cpu_t, "max_pa", "cpu", 52, lo=32, hi=52),
    }
    absent = r.ints(cpu_t, "absent_lps", "cpu")
    topo_ok = None not in cpu.values()
    if topo_ok:
        cpu["num_lps"] = cpu["packages"] * cpu["cores_per_package"] * cpu["threads_per_core"]
    numa = []
    for i, t in r.tables(doc.get("numa", []), "numa", NUMA_KEYS):
        nid = r.int(t, "id", f"numa[{i}]", lo=0, hi=1023)
        numa.append(NumaNode(nid if nid is not None else -1, r.ints(t, "packages", f"numa[{i}]")))
    memory = []
    for i, t in r.tables(doc.get("memory", []), "memory", MEMORY_KEYS):
        p = f"memory[{i}]"
        base, size = r.size(t, "base", p), r.size(t, "size", p)
        kind = r.str(t, "kind", p, "usable", choices=MEMORY_KINDS)
        node = r.int(t, "node", p, 0, lo=0, hi=1023)
        if base is not None and size is not None and node is not None:
            memory.append(MemoryRegion(base, size, kind, node))
    cmrs = []
    for i, t in r.tables(doc.get("cmr", []), "cmr", CMR_KEYS):
        base, size = r.size(t, "base", f"cmr[{i}]"), r.size(t, "size", f"cmr[{i}]")
        if base is not None and size is not None:
            cmrs.append(Cmr(base, size))
    keys = r.table(doc.get("keyids", {}), "keyids", KEYID_KEYS)
    keyid_bits = r.int(keys, "bits", "keyids", 0, lo=0, hi=15)
    mktme = r.int(keys, "mktme", "keyids", 0, lo=0, hi=0xFFFFFFFF)
    tdx = r.int(keys, "tdx", "keyids", 0, lo=0, hi=0xFFFFFFFF)
    seamrr = _seamrr(r, doc, cpu) if topo_ok else ()
    lp_msrs, lp_cpuid, lp_seamops = read_lp_values(r, doc, cpu) if topo_ok else ((), (), ())
    bios = r.table(doc.get("bios", {}), "bios", BIOS_KEYS)
    mtrrcap = r.bool(bios, "mtrrcap_seamrr", "bios", True)
    # Unless said otherwise, TDX counts as enabled by BIOS when LP 0's SEAMRR is fully set up.
    tdx_default = bool(seamrr) and seamrr[0].enabled and mtrrcap
    tdx_enabled = r.bool(bios, "tdx_enabled", "bios", tdx_default)
    mcheck_ok = r.bool(bios, "mcheck_ok", "bios", True)
    module = _module(r, doc, source)
    pseamldr = r.bool(r.table(doc.get("pseamldr", {}), "pseamldr", PSEAMLDR_KEYS),
                      "present", "pseamldr", tdx_enabled)
    pw_mce = r.bool(r.table(doc.get("errata", {}), "errata", ERRATA_KEYS), "tdx_pw_mce", "errata",
                    False)
    plat_name = r.str(doc, "name", "", name)
    description = r.str(doc, "description", "", "")
    if r.problems or not topo_ok or None in (keyid_bits, mktme, tdx):
        return None, r.problems
    return Platform(
        name=plat_name, memory=tuple(memory), cmrs=tuple(cmrs),
        packages=cpu["packages"], cores_per_package=cpu["cores_per_package"],
        threads_per_core=cpu["threads_per_core"], max_pa=cpu["max_pa"],
        mktme_keyids=mktme, tdx_keyids=tdx, keyid_bits=keyid_bits, seamrr=seamrr,
        mtrrcap_seamrr=mtrrcap, tdx_enabled_by_bios=tdx_enabled, mcheck_ok=mcheck_ok,
        module=module, pseamldr=pseamldr, description=description, numa=tuple(numa),
        tdx_pw_mce_bug=pw_mce, absent_lps=frozenset(absent), source=source,
        msrs=lp_msrs, cpuid=lp_cpuid, seamops=lp_seamops,
    ), []


__all__ = [
    "Reader",
    "TOP_KEYS",
    "read_platform",
]
