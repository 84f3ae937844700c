# SPDX-License-Identifier: MIT
"""`seamemu detect` and `seamemu hotplug` as a user runs them: output, JSON, exit codes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from seamemu.cli import main

TABLE_TESTS = Path(__file__).resolve().parents[1] / "kernel" / "test_hotplug_table.py"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def expected_rows():
    """The hand-written cell-by-cell table of tests/kernel (loaded by path, not sys.path)."""
    spec = importlib.util.spec_from_file_location("hotplug_table_cells", TABLE_TESTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.expected_rows()


def test_hotplug_table_prints_the_expected_table(capsys):
    code, out, _ = run(capsys, "hotplug", "--table")
    assert code == 0
    lines = out.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("policy "))
    assert "inside: [mem 0x0000000378000000-0x000000037fffffff]" in out  # sample ranges named
    printed = []
    for line in lines[head + 1:]:
        policy, event, place, use_tdx, verdict, severity, rule = line.split()[:7]
        printed.append((policy, event, place, use_tdx == "on", verdict == "allow", severity, rule))
    assert sorted(printed) == sorted(expected_rows())


def test_hotplug_table_json_and_one_policy(capsys):
    code, out, _ = run(capsys, "hotplug", "--table", "--json", "--policy", "cmr-aware")
    rows = json.loads(out)
    want = sorted(r for r in expected_rows() if r[0] == "cmr-aware")
    assert code == 0 and sorted((r["policy"], r["event"], r["place"], r["use_tdx"], r["allow"],
                                 r["severity"], r["rule"]) for r in rows) == want
    code, out, _ = run(capsys, "hotplug", "--table", "--markdown", "--policy", "upstream")
    assert out.startswith("| policy | event |") and out.count("\n") == 2 + len(want)


def test_hotplug_cmr_remove_reports_decision_cmrs_and_the_faulting_access(capsys):
    code, out, _ = run(capsys, "hotplug", "remove", "0x378000000", "128M", "--policy", "cmr-aware")
    assert code == 0
    assert "decision:  ALLOW   severity: error" in out
    # A proposal of the v5 thread: no kernel ever printed it, so no dmesg line, only seamemu's.
    assert "dmesg:     (the kernel prints nothing)" in out
    assert ("seamemu:   proposal: CMR memory [mem 0x0000000378000000-0x000000037fffffff] "
            "hot-removed is a BIOS bug") in out
    assert "kernel:    v5-2022   policy: cmr-aware" in out
    assert "rule:      cmr-aware/cmr-remove-bios-bug" in out and "because:   ML v5 thread" in out
    assert ("TDH.SYS.RD reports the CMRs (static since MCHECK): [0x0000000000000000, "
            "0x0000000078000000), [0x0000000100000000, 0x0000000200000000), "
            "[0x0000000280000000, 0x0000000380000000)") in out
    assert "unhandled #PF" in out and "why: 0x0000000378000000 was hot-removed" in out


def test_hotplug_cmr_remove_then_a_seamcall_into_the_range(capsys):
    code, out, _ = run(capsys, "hotplug", "remove", "0x378000000", "128M", "--policy", "upstream")
    assert code == 0 and "upstream/remove-unchecked" in out
    assert ("TDH.SYS.INFO (TDSYSINFO_STRUCT at 0x0000000378000000, CMR_INFO array at "
            "0x0000000378000400, inside the removed range): RAX 0x0000000000000000 TDX_SUCCESS"
            ) in out
    assert "writes went nowhere" in out and "write of 0x378000400+512 not backed" in out


@pytest.mark.parametrize("argv, verdict, rule", [
    (["add", "0x378000000", "128M", "--policy", "upstream"], "ALLOW",
     "upstream/online-in-tdx-block"),
    (["add", "0x378000000", "128M", "--policy", "cmr-aware"], "REJECT", "cmr-aware/cmr-add-attack"),
    (["cpu", "add", "3", "--policy", "upstream"], "ALLOW", "upstream/cpu-left-to-bios"),
    (["add", "0x378000000", "128M", "--use-tdx", "off"], "ALLOW", "upstream/online-any-uninit"),
])
def test_hot_add_of_what_is_present_at_boot_is_staged(capsys, argv, verdict, rule):
    """A CMR hot-add can only follow a removal: the command takes the range away first."""
    code, out, err = run(capsys, "hotplug", *argv)
    assert code == 0 and err == ""
    assert "setup:" in out and "taken away first" in out
    assert f"decision:  {verdict}" in out and f"rule:      {rule}" in out


def test_hotplug_json(capsys):
    code, out, _ = run(capsys, "hotplug", "add", "14G", "128M", "--kind", "driver",
                       "--policy", "cmr-aware", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["platform"] == "default"
    assert doc["event"]["kind"] == "driver-mem-add" and doc["place"] == "outside"
    assert doc["event"]["range"] == ["0x0000000380000000", "0x0000000388000000"]
    assert (doc["decision"]["allow"], doc["decision"]["rule"]) == \
        (False, "cmr-aware/driver-add-non-cmr")
    assert doc["applied"] is False and doc["after"]["probe"]["outcome"] == "#PF"
    assert len(doc["after"]["cmrs"]["cmrs"]) == 3


def test_use_tdx_off_bring_up_is_refused_and_hotplug_is_applied(capsys):
    code, out, _ = run(capsys, "boot", "--use-tdx", "off")
    assert code == 1 and "refused: use_tdx=off" in out and "SEAMCALLs: 0" in out
    code, out, _ = run(capsys, "hotplug", "add", "14G", "128M", "--use-tdx", "off",
                       "--policy", "first-stage")
    assert code == 0 and "decision:  ALLOW" in out and "first-stage/use-tdx-off" in out
    assert "added to the emulated machine" in out
    assert "probe_read(0x0000000380000000) = 0x0000000000000000" in out
    assert "CMRs not read: use_tdx=off" in out


def test_hotplug_cpu_and_kexec(capsys):
    code, out, _ = run(capsys, "hotplug", "cpu", "add", "1", "--policy", "first-stage")
    assert code == 0 and "REJECT" in out and "first-stage/cpu-add-bios-bug" in out
    code, out, _ = run(capsys, "hotplug", "kexec", "--policy", "upstream", "--json")
    assert json.loads(out)["decision"]["rule"] in ("upstream/kexec", "upstream/kexec-disable")


@pytest.mark.parametrize("argv, message", [
    (["hotplug", "add", "14G", "lots"], "SIZE 'lots': cannot read"),
    (["hotplug", "remove", "0xZZ", "128M"], "BASE '0xZZ'"),
    (["hotplug", "add", "14G", "100"], "not 4 KiB aligned"),
    (["hotplug", "add", "14G"], "needs BASE and SIZE"),
    (["hotplug"], "say what to do"),
    (["hotplug", "cpu", "add", "x"], "CPU 'x' is not a number"),
    (["hotplug", "frobnicate"], "unknown action"),
    (["hotplug", "add", "14G", "128M", "--policy", "bogus"], "unknown hotplug policy 'bogus'"),
    (["hotplug", "--table", "add"], "takes no action"),
    (["hotplug", "remove", "0", "128M", "--use-tdx", "off", "--policy", "first-stage"],
     "emulator cannot apply it"),
    (["hotplug", "remove", "14G", "128M", "--use-tdx", "off", "--policy", "first-stage"],
     "not all of it is present RAM"),
    (["hotplug", "add", "0", "128M"], "is RAM at boot and would have to be taken away first"),
])
def test_bad_input_is_one_clear_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.startswith("seamemu hotplug: error: ")
    assert len(err.strip().splitlines()) == 1


def test_detect_prints_the_kernel_lines_and_sysfs_values(capsys):
    code, out, _ = run(capsys, "detect")
    assert code == 0
    assert "kernel log, mainline (tdx_init()):" in out
    assert "virt/tdx: BIOS enabled: private KeyID range [32, 64)" in out
    assert "/sys/firmware/tdx/bios_enabled: 1" in out
    code, out, _ = run(capsys, "detect", "--kernel", "v5-2022")
    assert "tdx: SEAMRR enabled." in out
    assert "SEAM range: [0x000000007c000000, 0x0000000080000000) (64 MiB)" in out
    code, out, _ = run(capsys, "detect", "--platform", "inconsistent-seamrr", "--json",
                       "--kernel", "v5-2022")
    doc = json.loads(out)
    # v5 01/22 reads the boot CPU's SEAMRR only: the difference is seamemu's note.
    assert doc["bios_enabled"] is True and doc["kernel"] == "v5-2022"
    assert doc["kernel_log"][-1] == "tdx: TDX enabled by BIOS."
    assert any("CPU 6, 7" in n for n in doc["notes"])
    assert [c["cpu"] for c in doc["cpus"] if "SEAMRR_MISMATCH" in c["flags"]] == [6, 7]


def test_detect_with_a_missing_platform_file(capsys):
    code, _, err = run(capsys, "detect", "--platform", "no/such/file.toml")
    assert code == 2 and "cannot read the platform file" in err


def test_hotplug_boot_shows_what_the_module_believes_about_removed_and_kexeced_memory(capsys):
    from seamemu.cli import main
    assert main(["hotplug", "remove", "0x100000000", "0x8000000", "--boot", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["applied"] and doc["after"]["pamt"] == [
        {"pa": "0x0000000100000000", "rax": "0x0000000000000000", "status": "TDX_SUCCESS",
         "page_type": "PT_NDA"}]                      # gone from the machine, free to the module
    assert main(["hotplug", "kexec", "--boot"]) == 0
    out = capsys.readouterr().out
    assert "module's PAMT for 0x0000000100000000: PT_NDA: TDX memory it may hand to a TD" in out
    # Without --boot the module is not READY and no PAMT is read.
    assert main(["hotplug", "kexec", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["after"]["pamt"] == []
