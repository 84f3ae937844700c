# SPDX-License-Identifier: MIT
"""Every cell of the hotplug decision table, against an expected table written out by hand.

The situation for each cell is stated here, not taken from the engine: TDX enabled by BIOS on
the default platform; use_tdx=on means the module was initialised with the boot RAM as its TDX
memory, use_tdx=off means it never was; the CMRs were read at boot only under cmr-aware.
"""

import dataclasses
import itertools
import json

import pytest

from seamemu.errors import InputError
from seamemu.kernel.hotplug import get_policy
from seamemu.kernel.hotplug_policies import POLICIES
from seamemu.kernel.hotplug_table import decision_table, format_table
from seamemu.platform import Event, Situation, load_platform, place_of
from seamemu.platform import decide as engine_decide


def decide(policy, event, place, situation):
    return engine_decide(get_policy(policy), event, place, situation)

MB128 = 128 << 20
G = 1 << 30
# Sample ranges on the default platform: the last CMR is [10G, 14G), an empty slot is [14G, 16G).
RANGES = {
    "inside": (14 * G - MB128, MB128),
    "outside": (14 * G, MB128),
    "partial": (14 * G - MB128 // 2, MB128),
}
BOOT_RAM = ((0, 0x78000000), (4 * G, 4 * G), (10 * G, 4 * G))

# policy      event              place    use_tdx verdict severity  rule (after "<policy>/")
EXPECTED = """
# v5-2022 as posted: every check hangs on platform_tdx_enabled() alone; 6.8: the memory
# notifier, and no kexec in a TDX host build.
v5-2022      acpi-mem-add       inside   on   reject  error     mem-add
v5-2022      acpi-mem-add       outside  on   reject  error     mem-add
v5-2022      acpi-mem-add       partial  on   reject  error     mem-add
v5-2022      acpi-mem-remove    inside   on   allow   critical  mem-remove
v5-2022      acpi-mem-remove    outside  on   allow   critical  mem-remove
v5-2022      acpi-mem-remove    partial  on   allow   critical  mem-remove
v5-2022      driver-mem-add     inside   on   reject  warning   driver-add
v5-2022      driver-mem-add     outside  on   reject  warning   driver-add
v5-2022      driver-mem-add     partial  on   reject  warning   driver-add
v5-2022      driver-mem-remove  inside   on   allow   info      driver-remove
v5-2022      driver-mem-remove  outside  on   allow   info      driver-remove
v5-2022      driver-mem-remove  partial  on   allow   info      driver-remove
v5-2022      acpi-cpu-add       -        on   reject  error     cpu-add
v5-2022      acpi-cpu-remove    -        on   allow   critical  cpu-remove
v5-2022      kexec              -        on   allow   info      kexec
v5-2022      acpi-mem-add       inside   off  reject  error     mem-add
v5-2022      acpi-mem-add       outside  off  reject  error     mem-add
v5-2022      acpi-mem-add       partial  off  reject  error     mem-add
v5-2022      acpi-mem-remove    inside   off  allow   critical  mem-remove
v5-2022      acpi-mem-remove    outside  off  allow   critical  mem-remove
v5-2022      acpi-mem-remove    partial  off  allow   critical  mem-remove
v5-2022      driver-mem-add     inside   off  reject  warning   driver-add
v5-2022      driver-mem-add     outside  off  reject  warning   driver-add
v5-2022      driver-mem-add     partial  off  reject  warning   driver-add
v5-2022      driver-mem-remove  inside   off  allow   info      driver-remove
v5-2022      driver-mem-remove  outside  off  allow   info      driver-remove
v5-2022      driver-mem-remove  partial  off  allow   info      driver-remove
v5-2022      acpi-cpu-add       -        off  reject  error     cpu-add
v5-2022      acpi-cpu-remove    -        off  allow   critical  cpu-remove
v5-2022      kexec              -        off  allow   info      kexec

6.8          acpi-mem-add       inside   on   allow   info      online-in-tdx-block
6.8          acpi-mem-add       outside  on   reject  warning   online-outside-tdx
6.8          acpi-mem-add       partial  on   reject  warning   online-outside-tdx
6.8          acpi-mem-remove    inside   on   allow   warning   remove-unchecked
6.8          acpi-mem-remove    outside  on   allow   info      remove
6.8          acpi-mem-remove    partial  on   allow   warning   remove-unchecked
6.8          driver-mem-add     inside   on   allow   info      online-in-tdx-block
6.8          driver-mem-add     outside  on   reject  warning   online-outside-tdx
6.8          driver-mem-add     partial  on   reject  warning   online-outside-tdx
6.8          driver-mem-remove  inside   on   allow   info      remove
6.8          driver-mem-remove  outside  on   allow   info      remove
6.8          driver-mem-remove  partial  on   allow   info      remove
6.8          acpi-cpu-add       -        on   allow   warning   cpu-left-to-bios
6.8          acpi-cpu-remove    -        on   allow   warning   cpu-left-to-bios
6.8          kexec              -        on   reject  warning   kexec-not-built
6.8          acpi-mem-add       inside   off  allow   info      online-any-uninit
6.8          acpi-mem-add       outside  off  allow   info      online-any-uninit
6.8          acpi-mem-add       partial  off  allow   info      online-any-uninit
6.8          acpi-mem-remove    inside   off  allow   info      remove
6.8          acpi-mem-remove    outside  off  allow   info      remove
6.8          acpi-mem-remove    partial  off  allow   info      remove
6.8          driver-mem-add     inside   off  allow   info      online-any-uninit
6.8          driver-mem-add     outside  off  allow   info      online-any-uninit
6.8          driver-mem-add     partial  off  allow   info      online-any-uninit
6.8          driver-mem-remove  inside   off  allow   info      remove
6.8          driver-mem-remove  outside  off  allow   info      remove
6.8          driver-mem-remove  partial  off  allow   info      remove
6.8          acpi-cpu-add       -        off  allow   warning   cpu-left-to-bios
6.8          acpi-cpu-remove    -        off  allow   warning   cpu-left-to-bios
6.8          kexec              -        off  reject  warning   kexec-not-built

first-stage  acpi-mem-add       inside   on   reject  warning   add-reject
first-stage  acpi-mem-add       outside  on   reject  warning   add-reject
first-stage  acpi-mem-add       partial  on   reject  warning   add-reject
first-stage  acpi-mem-remove    inside   on   allow   info      remove-nothing
first-stage  acpi-mem-remove    outside  on   allow   info      remove-nothing
first-stage  acpi-mem-remove    partial  on   allow   info      remove-nothing
first-stage  driver-mem-add     inside   on   reject  warning   add-reject
first-stage  driver-mem-add     outside  on   reject  warning   add-reject
first-stage  driver-mem-add     partial  on   reject  warning   add-reject
first-stage  driver-mem-remove  inside   on   allow   info      remove-nothing
first-stage  driver-mem-remove  outside  on   allow   info      remove-nothing
first-stage  driver-mem-remove  partial  on   allow   info      remove-nothing
first-stage  acpi-cpu-add       -        on   reject  error     cpu-add-bios-bug
first-stage  acpi-cpu-remove    -        on   allow   error     cpu-remove-bios-bug
first-stage  kexec              -        on   allow   warning   kexec-after-init
first-stage  acpi-mem-add       inside   off  allow   info      use-tdx-off
first-stage  acpi-mem-add       outside  off  allow   info      use-tdx-off
first-stage  acpi-mem-add       partial  off  allow   info      use-tdx-off
first-stage  acpi-mem-remove    inside   off  allow   info      use-tdx-off
first-stage  acpi-mem-remove    outside  off  allow   info      use-tdx-off
first-stage  acpi-mem-remove    partial  off  allow   info      use-tdx-off
first-stage  driver-mem-add     inside   off  allow   info      use-tdx-off
first-stage  driver-mem-add     outside  off  allow   info      use-tdx-off
first-stage  driver-mem-add     partial  off  allow   info      use-tdx-off
first-stage  driver-mem-remove  inside   off  allow   info      use-tdx-off
first-stage  driver-mem-remove  outside  off  allow   info      use-tdx-off
first-stage  driver-mem-remove  partial  off  allow   info      use-tdx-off
first-stage  acpi-cpu-add       -        off  reject  error     cpu-add-bios-bug
first-stage  acpi-cpu-remove    -        off  allow   error     cpu-remove-bios-bug
first-stage  kexec              -        off  allow   info      kexec

cmr-aware    acpi-mem-add       inside   on   reject  critical  cmr-add-attack
cmr-aware    acpi-mem-add       outside  on   reject  warning   non-cmr-add
cmr-aware    acpi-mem-add       partial  on   reject  critical  cmr-add-attack
cmr-aware    acpi-mem-remove    inside   on   allow   error     cmr-remove-bios-bug
cmr-aware    acpi-mem-remove    outside  on   allow   info      non-cmr-remove
cmr-aware    acpi-mem-remove    partial  on   allow   error     cmr-remove-bios-bug
cmr-aware    driver-mem-add     inside   on   allow   info      driver-add-cmr
cmr-aware    driver-mem-add     outside  on   reject  warning   driver-add-non-cmr
cmr-aware    driver-mem-add     partial  on   reject  warning   driver-add-non-cmr
cmr-aware    driver-mem-remove  inside   on   allow   info      driver-remove
cmr-aware    driver-mem-remove  outside  on   allow   info      driver-remove
cmr-aware    driver-mem-remove  partial  on   allow   info      driver-remove
cmr-aware    acpi-cpu-add       -        on   reject  error     cpu-add-bios-bug
cmr-aware    acpi-cpu-remove    -        on   allow   error     cpu-remove-bios-bug
cmr-aware    kexec              -        on   allow   warning   kexec-after-init
cmr-aware    acpi-mem-add       inside   off  allow   info      use-tdx-off
cmr-aware    acpi-mem-add       outside  off  allow   info      use-tdx-off
cmr-aware    acpi-mem-add       partial  off  allow   info      use-tdx-off
cmr-aware    acpi-mem-remove    inside   off  allow   info      use-tdx-off
cmr-aware    acpi-mem-remove    outside  off  allow   info      use-tdx-off
cmr-aware    acpi-mem-remove    partial  off  allow   info      use-tdx-off
cmr-aware    driver-mem-add     inside   off  allow   info      use-tdx-off
cmr-aware    driver-mem-add     outside  off  allow   info      use-tdx-off
cmr-aware    driver-mem-add     partial  off  allow   info      use-tdx-off
cmr-aware    driver-mem-remove  inside   off  allow   info      use-tdx-off
cmr-aware    driver-mem-remove  outside  off  allow   info      use-tdx-off
cmr-aware    driver-mem-remove  partial  off  allow   info      use-tdx-off
cmr-aware    acpi-cpu-add       -        off  reject  error     cpu-add-bios-bug
cmr-aware    acpi-cpu-remove    -        off  allow   error     cpu-remove-bios-bug
cmr-aware    kexec              -        off  allow   info      kexec

upstream     acpi-mem-add       inside   on   allow   info      online-in-tdx-block
upstream     acpi-mem-add       outside  on   reject  warning   online-outside-tdx
upstream     acpi-mem-add       partial  on   reject  warning   online-outside-tdx
upstream     acpi-mem-remove    inside   on   allow   warning   remove-unchecked
upstream     acpi-mem-remove    outside  on   allow   info      remove
upstream     acpi-mem-remove    partial  on   allow   warning   remove-unchecked
upstream     driver-mem-add     inside   on   allow   info      online-in-tdx-block
upstream     driver-mem-add     outside  on   reject  warning   online-outside-tdx
upstream     driver-mem-add     partial  on   reject  warning   online-outside-tdx
upstream     driver-mem-remove  inside   on   allow   info      remove
upstream     driver-mem-remove  outside  on   allow   info      remove
upstream     driver-mem-remove  partial  on   allow   info      remove
upstream     acpi-cpu-add       -        on   allow   warning   cpu-left-to-bios
upstream     acpi-cpu-remove    -        on   allow   warning   cpu-left-to-bios
upstream     kexec              -        on   allow   warning   kexec-disable
upstream     acpi-mem-add       inside   off  allow   info      online-any-uninit
upstream     acpi-mem-add       outside  off  allow   info      online-any-uninit
upstream     acpi-mem-add       partial  off  allow   info      online-any-uninit
upstream     acpi-mem-remove    inside   off  allow   info      remove
upstream     acpi-mem-remove    outside  off  allow   info      remove
upstream     acpi-mem-remove    partial  off  allow   info      remove
upstream     driver-mem-add     inside   off  allow   info      online-any-uninit
upstream     driver-mem-add     outside  off  allow   info      online-any-uninit
upstream     driver-mem-add     partial  off  allow   info      online-any-uninit
upstream     driver-mem-remove  inside   off  allow   info      remove
upstream     driver-mem-remove  outside  off  allow   info      remove
upstream     driver-mem-remove  partial  off  allow   info      remove
upstream     acpi-cpu-add       -        off  allow   warning   cpu-left-to-bios
upstream     acpi-cpu-remove    -        off  allow   warning   cpu-left-to-bios
upstream     kexec              -        off  allow   info      kexec
"""


def expected_rows():
    rows = []
    for line in EXPECTED.strip().splitlines():
        if line.strip() and not line.startswith("#"):
            policy, event, place, use_tdx, verdict, severity, rule = line.split()
            rows.append((policy, event, place, use_tdx == "on", verdict == "allow", severity,
                         f"{policy}/{rule}"))
    return rows


def situation(policy, use_tdx, **changes):
    s = Situation(tdx_enabled_by_bios=True, module_initialized=use_tdx, use_tdx=use_tdx,
                  cmrs_read_at_boot=policy == "cmr-aware",
                  tdx_memory=BOOT_RAM if use_tdx else ())
    return dataclasses.replace(s, **changes)


def event_for(kind, place):
    if place == "-":
        return Event(kind, lp=1) if kind.startswith("acpi-cpu") else Event(kind)
    return Event(kind, *RANGES[place])


def test_expected_table_covers_every_cell():
    rows = expected_rows()
    cells = {(p, e, pl, u) for p, e, pl, u, *_ in rows}
    assert len(cells) == len(rows) == 5 * 2 * (4 * 3 + 3)


@pytest.mark.parametrize("row", expected_rows(), ids=lambda r: "-".join(map(str, r[:4])))
def test_decision_cell(row):
    policy, kind, place, use_tdx, allow, severity, rule = row
    event = event_for(kind, place)
    d = decide(policy, event, place, situation(policy, use_tdx))
    assert (d.allow, d.severity, d.rule) == (allow, severity, rule)
    assert d.source and (d.message or d.note)
    if place != "-" and policy != "v5-2022":
        assert f"[mem 0x{event.base:016x}-0x{event.end - 1:016x}]" in d.note


@pytest.mark.parametrize("place", ["inside", "outside", "partial"])
def test_sample_ranges_lie_where_the_table_says(place):
    p = load_platform()
    assert place_of(p.cmrs, Event("acpi-mem-add", *RANGES[place])) == place


def test_printed_table_matches_the_expected_table():
    """What `hotplug --table` prints (text and JSON) is the table above, row for row."""
    rows = decision_table(load_platform())
    text = format_table(rows, "text").splitlines()
    assert text[0].split()[:7] == ["policy", "event", "place", "use_tdx", "decision", "severity",
                                   "rule"]
    printed = []
    for line in text[1:]:
        policy, event, place, use_tdx, verdict, severity, rule = line.split()[:7]
        printed.append((policy, event, place, use_tdx == "on", verdict == "allow", severity, rule))
    assert sorted(printed) == sorted(expected_rows())
    as_json = json.loads(format_table(rows, "json"))
    assert sorted((r["policy"], r["event"], r["place"], r["use_tdx"], r["allow"], r["severity"],
                   r["rule"]) for r in as_json) == sorted(expected_rows())
    memory_row = next(r for r in as_json if r["place"] == "inside")
    assert memory_row["range"] == ["0x0000000378000000", "0x0000000380000000"]
    md = format_table(rows, "markdown").splitlines()
    assert md[0].startswith("| policy | event |") and len(md) == 2 + len(rows)


def test_unknown_table_format():
    with pytest.raises(InputError, match="unknown table format"):
        format_table([], "yaml")


# Cells beyond the main table: other situations the rules distinguish.

@pytest.mark.parametrize("policy, rule", [
    ("first-stage", "first-stage/bios-off"), ("cmr-aware", "cmr-aware/bios-off"),
    ("upstream", "upstream/not-tdx-host"), ("6.8", "6.8/not-tdx-host"),
    ("v5-2022", "v5-2022/bios-off"),
])
def test_tdx_disabled_by_bios_allows_everything(policy, rule):
    for kind, place in itertools.product(
            ["acpi-mem-add", "acpi-mem-remove", "driver-mem-add", "driver-mem-remove"], RANGES):
        d = decide(policy, event_for(kind, place), place,
                   situation(policy, True, tdx_enabled_by_bios=False))
        assert (d.allow, d.severity, d.rule) == (True, "info", rule)
    for kind in ["acpi-cpu-add", "acpi-cpu-remove", "kexec"]:
        d = decide(policy, event_for(kind, "-"), "-",
                   situation(policy, False, tdx_enabled_by_bios=False))
        assert (d.allow, d.severity, d.rule) == (True, "info", rule)


@pytest.mark.parametrize("use_tdx", [True, False])
def test_upstream_kexec_disables_the_module_even_on_the_pw_mce_erratum(use_tdx):
    # 5b25f249be32 dropped machine_kexec_prepare()'s X86_BUG_TDX_PW_MCE refusal; tdx_shutdown()
    # calls TDH.SYS.DISABLE (69), which 1.5.01/1.5.05 answer TDX_OPERAND_INVALID(RAX).
    d = decide("upstream", Event("kexec"), "-", situation("upstream", use_tdx, pw_mce_bug=True))
    assert d.allow
    assert (d.message == "virt/tdx: TDH.SYS.DISABLE failed: 0xc000010000000000") is use_tdx
    # The 2022 discussion predates the erratum check: kexec still goes ahead there.
    old = situation("first-stage", use_tdx, pw_mce_bug=True)
    d = decide("first-stage", Event("kexec"), "-", old)
    assert d.allow


@pytest.mark.parametrize("kind, allow, rule", [
    ("acpi-mem-add", False, "cmr-aware/cmrs-unknown-add"),
    ("driver-mem-add", False, "cmr-aware/cmrs-unknown-add"),
    ("acpi-mem-remove", True, "cmr-aware/cmrs-unknown-remove"),
])
def test_cmr_aware_without_cmrs_falls_back_to_the_first_stage(kind, allow, rule):
    d = decide("cmr-aware", event_for(kind, "inside"), "inside",
               situation("cmr-aware", True, cmrs_read_at_boot=False))
    assert (d.allow, d.rule) == (allow, rule)


def test_upstream_online_needs_one_tdx_block_not_just_cmr_memory():
    s = situation("upstream", True)
    whole = Event("driver-mem-add", 4 * G, 4 * G)
    assert decide("upstream", whole, "inside", s).rule == "upstream/online-in-tdx-block"
    # All inside cmr[1], but across two TDX memory blocks (e.g. two nodes' memblocks): refused.
    split = situation("upstream", True, tdx_memory=((4 * G, 2 * G), (6 * G, 2 * G)))
    d = decide("upstream", Event("acpi-mem-add", 5 * G, 2 * G), "inside", split)
    assert (d.allow, d.rule) == (False, "upstream/online-outside-tdx")


def test_upstream_module_not_initialised_lets_anything_online():
    d = decide("upstream", Event("acpi-mem-add", *RANGES["outside"]), "outside",
               situation("upstream", True, module_initialized=False, tdx_memory=()))
    assert (d.allow, d.rule) == (True, "upstream/online-any-uninit")


def test_every_rule_of_every_policy_can_decide():
    """No dead rules: each rule wins for some event in some situation."""
    hit = set()
    flags = ["tdx_enabled_by_bios", "module_initialized", "use_tdx", "cmrs_read_at_boot",
             "pw_mce_bug"]
    for values in itertools.product([False, True], repeat=len(flags)):
        s = Situation(**dict(zip(flags, values)), tdx_memory=BOOT_RAM if values[1] else ())
        for policy in POLICIES:
            for kind in ["acpi-mem-add", "acpi-mem-remove", "driver-mem-add", "driver-mem-remove"]:
                for place in RANGES:
                    hit.add(decide(policy, event_for(kind, place), place, s).rule)
            for kind in ["acpi-cpu-add", "acpi-cpu-remove", "kexec"]:
                hit.add(decide(policy, event_for(kind, "-"), "-", s).rule)
    assert hit == {r.id for pol in POLICIES.values() for r in pol.rules}


def test_unknown_policy_and_bad_events():
    with pytest.raises(InputError, match="did you mean 'upstream'"):
        decide("upstraem", Event("kexec"), "-", situation("upstream", True))
    with pytest.raises(InputError, match="unknown hotplug event"):
        Event("acpi-mem-replace", 0, 4096)
    with pytest.raises(InputError, match="not 4 KiB aligned"):
        Event("acpi-mem-add", 0x1000, 0x800)
    with pytest.raises(InputError, match="positive size"):
        Event("driver-mem-remove", 0x1000, 0)
    with pytest.raises(InputError, match="needs the logical CPU"):
        Event("acpi-cpu-add")
