# SPDX-License-Identifier: MIT
"""`--kernel GEN` as a user types it: the issue's "done when" checks, one test each."""

import json

import pytest

from seamemu.arch.metadata import global_field
from seamemu.cli import main
from seamemu.kernel import GENERATIONS
from tests.kernel.conftest import LEAN

CMR_FIELD_IDS = {global_field("NUM_CMRS").field_id} | {
    global_field(name).field_id + i for name in ("CMR_BASE", "CMR_SIZE") for i in range(32)}
COMMANDS = ("run", "matrix", "trace", "explain", "fuzz", "boot", "cmr", "detect", "hotplug", "demo")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def lean_toml(tmp_path_factory):
    """The kernel tests' small platform (one TDMR.INIT per 4 MiB makes the default slow)."""
    path = tmp_path_factory.mktemp("platform") / "lean.toml"
    path.write_text(LEAN)
    return str(path)


def boot_json(capsys, lean_toml, *argv):
    code, out, _ = run(capsys, "boot", "--platform", lean_toml, "--json", *argv)
    return code, json.loads(out)


def test_boot_v5_2022_reads_the_cmrs_with_tdh_sys_info_and_reaches_sys_ready(capsys, lean_toml):
    code, doc = boot_json(capsys, lean_toml, "--kernel", "v5-2022")
    leaves = [c["leaf_name"] for c in doc["calls"]]
    assert code == 0 and doc["kernel"] == "v5-2022" and doc["state"] == "SYS_READY"
    assert leaves.count("TDH.SYS.INFO") == 1 and "TDH.SYS.RD" not in leaves
    assert {c["entry"] for c in doc["calls"]} == {"__seamcall"}
    # what the 2022 kernel printed of them, in its own words and prefix
    said = [line["text"] for line in doc["log"] if line["origin"] == "kernel"]
    assert [t for t in said if "CMR" in t] == [
        "tdx: Kernel-checked-CMR : [0x0, 0x78000000)",
        "tdx: Kernel-checked-CMR : [0x100000000, 0x140000000)"]


def test_boot_mainline_uses_tdh_sys_rd_and_reads_no_cmr_field(capsys, lean_toml):
    code, doc = boot_json(capsys, lean_toml, "--kernel", "mainline")
    reads = [int(c["inputs"]["rdx"], 16) for c in doc["calls"] if c["leaf_name"] == "TDH.SYS.RD"]
    assert code == 0 and doc["kernel"] == "mainline" and doc["state"] == "SYS_READY"
    assert reads and not CMR_FIELD_IDS & set(reads)
    assert "TDH.SYS.INFO" not in {c["leaf_name"] for c in doc["calls"]}


def test_boot_defaults_to_mainline_on_a_module_it_accepts(capsys, lean_toml):
    code, doc = boot_json(capsys, lean_toml)
    assert code == 0 and doc["kernel"] == "mainline" and doc["ok"]


def test_boot_mainline_fails_like_the_kernel_on_a_module_lacking_a_field(capsys, lean_toml):
    code, doc = boot_json(capsys, lean_toml, "--kernel", "mainline", "--module-version", "1.5.01")
    assert code == 1 and doc["state"] == "SYSINIT_DONE" and doc["errno_name"] == "-EIO"
    last = doc["calls"][-1]
    assert last["leaf_name"] == "TDH.SYS.RD" and last["status_name"] == "TDX_METADATA_FIELD_ID_INCORRECT"


def test_run_v5_2022_with_seamrr_off_is_an_unhandled_gp(capsys):
    code, out, _ = run(capsys, "run", "--kernel", "v5-2022", "--seamrr", "off", "--json")
    doc = json.loads(out)
    assert doc["kernel"] == "v5-2022" and doc["entry"] == "__seamcall"
    assert doc["outcome"] == "#GP" and doc["fault"]["handled"] is False
    assert doc["abi"]["returned"] is False
    code, out, _ = run(capsys, "run", "--kernel", "v5-2022", "--seamrr", "off")
    assert code == 0 and "UNHANDLED" in out and "oops" in out


def test_run_mainline_with_seamrr_off_is_a_handled_gp_and_an_errno(capsys):
    code, out, _ = run(capsys, "run", "--seamrr", "off", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["kernel"] == "mainline" and doc["fault"]["handled"] is True
    assert doc["rax_name"] == "TDX_SEAMCALL_GP"
    _, out, _ = run(capsys, "run", "--seamrr", "off")
    assert "kernel mainline returns -EOPNOTSUPP (-95)" in out


def test_run_boot_brings_up_with_the_chosen_generation(capsys, lean_toml):
    code, out, _ = run(capsys, "run", "--kernel", "v5-2022", "--boot", "--platform", lean_toml,
                       "--leaf", "TDH.SYS.INFO", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["boot"]["kernel"] == "v5-2022" and doc["boot"]["state"] == "SYS_READY"
    assert doc["boot"]["result"] == "tdx: TDX module initialized."


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_kernel_is_a_one_line_error(capsys, command):
    code, out, err = run(capsys, command, "--kernel", "v4.20")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"seamemu {command}: error: --kernel 'v4.20': unknown kernel generation "
        f"(known: {', '.join(sorted(GENERATIONS))})"]


@pytest.mark.parametrize("gen", list(GENERATIONS))
def test_matrix_and_cmr_json_name_the_kernel(capsys, gen, lean_toml):
    _, out, _ = run(capsys, "cmr", "--kernel", gen, "--platform", lean_toml, "--json")
    doc = json.loads(out)
    assert doc["kernel"] == gen
    assert doc["read_by"] == ("kernel" if gen == "v5-2022" else "seamemu")


@pytest.mark.parametrize("gen, policy", [("v5-2022", "v5-2022"), ("6.8", "6.8"),
                                         ("mainline", "upstream")])
def test_hotplug_uses_the_generation_s_own_policy(capsys, gen, policy):
    code, out, _ = run(capsys, "hotplug", "--kernel", gen, "add", "0x400000000", "1G", "--json")
    doc = json.loads(out)
    assert code == 0 and (doc["kernel"], doc["policy"]) == (gen, policy)


def test_hotplug_boot_brings_up_with_the_generation_s_stub(capsys):
    code, out, _ = run(capsys, "hotplug", "--kernel", "v5-2022", "kexec", "--boot", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["kernel"] == "v5-2022"
    assert {v["page_type"] for v in doc["after"]["pamt"]} >= {"PT_NDA"}


def test_demo_json_names_the_kernel_and_its_oops(capsys):
    code, out, _ = run(capsys, "demo", "--kernel", "v5-2022", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["kernel"] == "v5-2022" and doc["stub"]["entry"] == "__seamcall"
    by_outcome = {o["outcome"]: o["errno"] for o in doc["outcomes"]}
    assert by_outcome["#GP"] is None and by_outcome["VMfailInvalid"] == "-ENODEV"
