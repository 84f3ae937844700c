# SPDX-License-Identifier: MIT
"""Malformed platform files: one clear line per problem, naming the field; never a traceback."""

import pytest

from seamemu.errors import InputError, PlatformError
from seamemu.platform import load_platform, load_platform_text

# A sound base the cases below break in one or more places.
GOOD = """
[cpu]
packages = 1
cores_per_package = 2
threads_per_core = 2

[[memory]]
base = 0
size = "2G"

[[memory]]
base = "2G"
size = "64M"
kind = "reserved"

[[cmr]]
base = 0
size = "2G"

[seamrr]
base = "2G"
size = "64M"

[keyids]
bits = 6
mktme = 31
tdx = 32

[module]
abi = "1.5"
version = "1.5.1"
"""


def problems(text, name="bad.toml"):
    with pytest.raises(PlatformError) as info:
        load_platform_text(text, name)
    err = info.value
    assert err.file == name
    # The message is exactly one "file: problem" line per problem.
    assert str(err).splitlines() == [f"{name}: {p}" for p in err.problems]
    return err.problems


def test_good_base_loads():
    p = load_platform_text(GOOD, "good.toml")
    assert p.tdx_enabled_by_bios and p.num_lps == 4


CASES = {
    "typos and wrong types": ("""
[cpu]
packges = 2
cores_per_package = "two"
[[memory]]
base = 0
size = "1G"
kind = "usabel"
[[cmr]]
base = 0
size = "1G"
[keyids]
bits = 99
[modul]
abi = "1.5"
""", [
        "top level: unknown key 'modul' (did you mean 'module'?)",
        "cpu: unknown key 'packges' (did you mean 'packages'?)",
        "cpu.cores_per_package: expected an integer, got string 'two'",
        "memory[0].kind: 'usabel' is not one of acpi, hotplug, persistent, reserved, usable "
        "(did you mean 'usable'?)",
        "keyids.bits: 99 is out of range (0..15)",
    ]),
    "bad sizes and missing fields": ("""
[[memory]]
base = "lots"
size = true
[[cmr]]
size = "1G"
""", [
        "memory[0].base: cannot read 'lots' as an address or size (write e.g. 0x100000000, 4G, "
        "512M or 4096)",
        "memory[0].size: expected an address or size, got boolean true",
        "cmr[0].base: missing (required)",
    ]),
    "cmr mistakes": ("""
[[memory]]
base = 0
size = "8G"
[[memory]]
base = "8G"
size = "1G"
kind = "hotplug"
[[cmr]]
base = 0
size = "2G"
[[cmr]]
base = "1G"
size = "2G"
[[cmr]]
base = "0x100000800"
size = "1G"
[[cmr]]
base = "7G"
size = "2G"
""", [
        "cmr[1]: [0x0000000040000000, 0x00000000c0000000) overlaps cmr[0] "
        "[0x0000000000000000, 0x0000000080000000)",
        "cmr[2]: base 0x0000000100000800 is not 4 KiB aligned",
        "cmr[3]: [0x00000001c0000000, 0x0000000240000000) is not backed by memory (nothing "
        "present at [0x0000000200000000, 0x0000000240000000); MCHECK requires CMR memory to be "
        "present at boot)",
    ]),
    "cmrs out of order": ("""
[[memory]]
base = 0
size = "8G"
[[cmr]]
base = "4G"
size = "1G"
[[cmr]]
base = 0
size = "1G"
""", [
        "cmr[1]: base 0x0000000000000000 is below cmr[0]'s: MCHECK lists CMRs sorted by base",
    ]),
    "memory mistakes": ("""
[[numa]]
id = 0
packages = [0]
[[memory]]
base = 0
size = "1G"
[[memory]]
base = "512M"
size = "1G"
node = 3
[[memory]]
base = "0x40000100"
size = "4K"
kind = "reserved"
[[memory]]
base = "64T"
size = "1G"
[[cmr]]
base = 0
size = "1G"
[keyids]
bits = 6
""", [
        "memory[1]: node 3 is not a declared NUMA node (0)",
        "memory[1]: [0x0000000020000000, 0x0000000060000000) overlaps memory[0] "
        "[0x0000000000000000, 0x0000000040000000)",
        "memory[2]: base 0x0000000040000100 is not 4 KiB aligned",
        "memory[2]: [0x0000000040000100, 0x0000000040001100) overlaps memory[1] "
        "[0x0000000020000000, 0x0000000060000000)",
        "memory[3]: [0x0000400000000000, 0x0000400040000000) reaches above 0x0000400000000000: "
        "the top 6 of 52 physical address bits carry the KeyID",
    ]),
    "seamrr and keyids": ("""
[[memory]]
base = 0
size = "2G"
[[cmr]]
base = 0
size = "2G"
[seamrr]
base = "4G"
size = "64M"
[bios]
tdx_enabled = true
[keyids]
bits = 6
mktme = 60
tdx = 8
""", [
        "seamrr: range [0x0000000100000000, 0x0000000104000000) outside memory",
        "keyids: mktme 60 + tdx 8 needs 69 KeyIDs but keyid_bits=6 holds 64",
    ]),
    "seamrr over usable ram": (GOOD.replace('[seamrr]\nbase = "2G"', '[seamrr]\nbase = "1G"'), [
        "seamrr: range [0x0000000040000000, 0x0000000044000000) overlaps usable memory[0]; the "
        "BIOS must reserve the SEAM range (only SEAM software may access it)",
    ]),
    "seamrr encodings": (GOOD.replace('size = "64M"\n\n[keyids]', 'size = "48M"\n\n[keyids]')
                         + '[[seamrr.override]]\ncore = 0\nlp = 1\n', [
        "seamrr: SEAMRR size 0x3000000 is not a power of two of at least 32 MiB",
        "seamrr.override[0]: give exactly one of 'core' (both threads) or 'lp' (one thread)",
    ]),
    "one thread of a core overridden": (GOOD + '[[seamrr.override]]\nlp = 3\nvalid = false\n', [
        "seamrr: lp 2 and lp 3 are threads of core 1 but differ (the SEAMRR MSRs are "
        "core-scoped)",
    ]),
    "tdx disabled but a module": (GOOD.replace("[keyids]", "[bios]\ntdx_enabled = false\n"
                                               "[pseamldr]\npresent = false\n[keyids]"), [
        "module: a TDX module is installed but TDX is disabled by BIOS (the module lives in "
        "SEAMRR)",
        "keyids: tdx 32 but TDX is disabled by BIOS (the BIOS partitions no TDX KeyIDs then)",
    ]),
    "topology": (GOOD.replace("packages = 1", "packages = 1\nabsent_lps = [9]")
                                    + '[[numa]]\nid = 0\npackages = [0, 2]\n'
                                      '[[numa]]\nid = 0\npackages = [0]\n', [
        "cpu.absent_lps: LP 9 does not exist (LPs are 0..3)",
        "numa[0]: package 2 does not exist (packages are 0..0)",
        "numa[1]: node id 0 is declared twice",
        "numa[1]: package 0 is already in numa[0]",
    ]),
    "module version of another generation": (GOOD.replace('version = "1.5.1"', 'version = "1.0"'), [
        "module.abi: '1.5' does not match version 1.0, which serves ABI 1.0 (drop abi, or name "
        "a 1.5 release)",
    ]),
    "unknown module version": (GOOD.replace('version = "1.5.1"', 'version = "1.5.07"'), [
        "module.version: '1.5.07' is not a known TDX module release (known: 1.0, 1.5.01, "
        "1.5.05, 2.0.08) (did you mean '1.5.05'?)",
    ]),
    "tdx enabled without mtrrcap": (GOOD + "[bios]\nmtrrcap_seamrr = false\ntdx_enabled = true\n", [
        "bios: TDX is enabled but IA32_MTRRCAP.SEAMRR (bit 15) is clear",
    ]),
    "no memory at all": ("[cpu]\npackages = 1\n", [
        "memory: no usable region (the emulator needs RAM to run code in)",
    ]),
    "wrong shapes": ('cpu = 3\nmemory = "lots"\n[module]\nabi = "3.0"\nversion = "one"\n', [
        "cpu: expected a table, got int 3",
        "memory: expected an array of tables ([[memory]]), got string 'lots'",
        "module.abi: '3.0' is not one of 1.0, 1.5, 2.0",
        "module.version: 'one' is not a known TDX module release (known: 1.0, 1.5.01, 1.5.05, "
        "2.0.08)",
    ]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_platform(case):
    text, expected = CASES[case]
    assert problems(text) == expected


def test_toml_syntax_error_names_the_line():
    (line,) = problems("[cpu]\npackages = 2\ncores = = 3\n")
    assert line.startswith("TOML syntax error:") and "line 3" in line


def test_missing_file(tmp_path):
    with pytest.raises(PlatformError) as info:
        load_platform(tmp_path / "nope.toml")
    (line,) = info.value.problems
    assert line.startswith("cannot read the platform file: No such file or directory")
    assert "presets: default" in line  # a mistyped preset name gets the list
    assert str(info.value).startswith(str(tmp_path / "nope.toml") + ": ")


def test_binary_file(tmp_path):
    f = tmp_path / "blob.toml"
    f.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(PlatformError, match="not UTF-8 text"):
        load_platform(f)


def test_unknown_preset_suggests():
    with pytest.raises(PlatformError) as info:
        load_platform(preset="one-sokcet")
    assert "did you mean 'one-socket'?" in info.value.problems[0]


def test_extends_an_unknown_preset():
    (line,) = problems('extends = "defualt"\n')
    assert line.startswith("extends: unknown preset 'defualt' (did you mean 'default'?")


def test_platform_error_is_an_input_error():
    with pytest.raises(InputError):
        load_platform_text("[cpu]\npackages = 0\n", "zero.toml")
