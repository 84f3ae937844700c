# SPDX-License-Identifier: MIT
"""Loading platforms: the default's promised shape, the presets, `extends`, units."""

import importlib
import re

import pytest

from seamemu.errors import PlatformError
from seamemu.platform import load_platform, load_platform_text, preset_names
from seamemu.platform.facts import GiB, MiB
from seamemu.platform.units import fmt_mem, fmt_size, parse_size

PRESETS = ["default", "inconsistent-seamrr", "no-module", "one-socket", "small", "tdx-disabled",
           "tdx10"]


def _in_cmr(p, base, size):
    return any(c.base <= base and base + size <= c.end for c in p.cmrs)


def test_preset_names():
    assert preset_names() == PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_and_keeps_the_emulator_low_memory_in_a_cmr(name):
    p = load_platform(preset=name)
    assert p.name == name
    assert p.source == f"preset {name}"
    assert len(p.seamrr) == p.num_lps
    first = p.memory[0]
    assert first.kind == "usable" and first.base == 0 and first.size >= 64 * MiB
    assert _in_cmr(p, 0, 64 * MiB)  # code at 0x400000, stacks and buffers below 64 MiB


def test_no_argument_means_the_default_preset():
    assert load_platform() == load_platform(preset="default")


def test_default_platform_shape():
    p = load_platform()
    assert (p.packages, p.cores_per_package, p.threads_per_core) == (2, 2, 2)
    assert p.num_lps == 8
    assert sorted(n.id for n in p.numa) == [0, 1]
    assert [p.lp_node(lp) for lp in range(8)] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert {m.node for m in p.memory} == {0, 1}
    # At least 3 CMRs with holes between them.
    assert len(p.cmrs) >= 3
    assert all(a.end < b.base for a, b in zip(p.cmrs, p.cmrs[1:]))
    kinds = {m.kind for m in p.memory}
    assert {"usable", "reserved", "acpi", "hotplug"} <= kinds
    slot = next(m for m in p.memory if m.kind == "hotplug")
    assert not any(c.base < slot.end and slot.base < c.end for c in p.cmrs)
    # SEAMRR: valid and locked, identical on every LP, inside memory but in no CMR.
    assert len(set(p.seamrr)) == 1 and p.seamrr[0].enabled
    base, size = p.seamrr[0].range(p.max_pa)
    holder = next(m for m in p.memory if m.base <= base and base + size <= m.end)
    assert holder.kind == "reserved"
    assert not any(c.base < base + size and base < c.end for c in p.cmrs)
    assert (p.mktme_keyids, p.tdx_keyids, p.keyid_bits) == (31, 32, 6)
    assert p.first_tdx_keyid == 32
    assert p.module.abi == "1.5" and (p.module.major, p.module.minor) == (1, 5)
    assert p.mcheck_ok and p.pseamldr and p.tdx_enabled_by_bios and p.mtrrcap_seamrr
    assert not p.tdx_pw_mce_bug


def test_memory_map_is_sorted_by_base():
    text = """
        [[memory]]
        base = "4G"
        size = "1G"
        [[memory]]
        base = 0
        size = "1G"
        [[cmr]]
        base = 0
        size = "1G"
    """
    p = load_platform_text(text, "two.toml")
    assert [m.base for m in p.memory] == [0, 4 * GiB]
    assert p.name == "two"


def test_presets_differ_from_the_default_where_they_say():
    d = load_platform()
    assert load_platform(preset="one-socket").num_lps == 4
    off = load_platform(preset="tdx-disabled")
    assert not off.tdx_enabled_by_bios and off.module is None and not off.pseamldr
    assert off.tdx_keyids == 0 and not off.seamrr[0].valid and not off.seamrr[0].locked
    inc = load_platform(preset="inconsistent-seamrr")
    assert [lp for lp in range(8) if inc.seamrr[lp] != d.seamrr[lp]] == [6, 7]
    nomod = load_platform(preset="no-module")
    assert nomod.module is None and nomod.pseamldr and nomod.tdx_enabled_by_bios
    t10 = load_platform(preset="tdx10")
    assert t10.module.abi == "1.0" and t10.module.tdx_features0 == 0
    assert t10.memory == d.memory and t10.cmrs == d.cmrs


def test_extends_merges_tables_and_replaces_arrays(tmp_path):
    f = tmp_path / "host.toml"
    f.write_text('extends = "default"\n[keyids]\nmktme = 15\n[errata]\ntdx_pw_mce = true\n')
    p = load_platform(f)
    assert p.name == "host" and p.source == str(f)
    assert (p.mktme_keyids, p.tdx_keyids, p.keyid_bits) == (15, 32, 6)  # bits/tdx inherited
    assert p.tdx_pw_mce_bug
    assert p.memory == load_platform().memory


def test_bios_tdx_enabled_defaults_from_seamrr():
    base = '[[memory]]\nbase = 0\nsize = "1G"\n[[cmr]]\nbase = 0\nsize = "1G"\n'
    off = load_platform_text(base, "a.toml")
    assert not off.tdx_enabled_by_bios and not off.pseamldr
    on = load_platform_text(base + '[[memory]]\nbase = "1G"\nsize = "32M"\nkind = "reserved"\n'
                            '[seamrr]\nbase = "1G"\nsize = "32M"\n[keyids]\nbits = 2\ntdx = 2\n',
                            "b.toml")
    assert on.tdx_enabled_by_bios and on.pseamldr


@pytest.mark.parametrize("text, value", [
    (0, 0), (4096, 4096), ("4096", 4096), ("0x100000000", 1 << 32), ("4G", 4 << 30),
    ("512M", 512 << 20), ("640K", 640 << 10), ("4GiB", 4 << 30), ("2 GB", 2 << 30),
    ("0x1_0000", 0x10000), ("1T", 1 << 40),
])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["4X", "-1", "", "0xZZ", True, 1.5, -4])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_formatting():
    assert fmt_mem(0x1000, 0x1000) == "[mem 0x0000000000001000-0x0000000000001fff]"
    assert fmt_size(128 * MiB) == "128 MiB" and fmt_size(100) == "100 B"


def test_either_file_or_preset():
    with pytest.raises(PlatformError, match="not both"):
        load_platform("x.toml", preset="default")


def _isort_key(name):
    kind = 0 if re.fullmatch(r"[A-Z0-9_]+", name) else 1 if name[0].isupper() else 2
    return kind, name


@pytest.mark.parametrize("module", [
    "seamemu.platform", "seamemu.platform.events", "seamemu.platform.hotplug_policy",
    "seamemu.platform.load", "seamemu.platform.msr_values", "seamemu.platform.hotplug_rules",
    "seamemu.platform.schema", "seamemu.platform.units",
    "seamemu.platform.validate", "seamemu.arch.msrs",
])
def test_public_names_are_sorted_and_exist(module):
    mod = importlib.import_module(module)
    assert list(mod.__all__) == sorted(mod.__all__)  # the project-wide convention (tests/test_layers.py)
    assert all(hasattr(mod, name) for name in mod.__all__)


def test_platform_package_api_is_pinned():
    import seamemu.platform as platform
    assert set(platform.__all__) >= {
        "Platform", "Event", "Situation", "Decision", "load_platform", "load_platform_text",
        "preset_names", "decide", "apply_hotplug", "present", "convertible", "Policy", "Rule",
        "msr_values", "wrmsr_fault", "validate_platform"}
