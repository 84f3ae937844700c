# SPDX-License-Identifier: MIT
"""`seamemu cmr`, `seamemu boot` and the bench additions as a user runs them."""

import json

import pytest

from seamemu.cli import main
from seamemu.platform import load_platform


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def hex_cmrs(platform):
    return [{"base": f"0x{c.base:016x}", "size": f"0x{c.size:016x}"} for c in platform.cmrs]


@pytest.mark.parametrize("abi, method", [("1.0", "TDH.SYS.INFO"), ("1.5", "TDH.SYS.RD")])
def test_cmr_json_is_exactly_the_platform_cmrs(capsys, abi, method):
    code, out, _ = run(capsys, "cmr", "--abi", abi, "--json")
    doc = json.loads(out)
    p = load_platform()
    assert code == 0 and (doc["abi"], doc["method"]) == (abi, method)
    assert doc["cmrs"] == hex_cmrs(p)
    assert [m["base"] for m in doc["memory_map"]] == [f"0x{m.base:016x}" for m in
                                                      sorted(p.memory, key=lambda r: r.base)]


def test_cmr_json_marks_which_memory_is_convertible(capsys):
    doc = json.loads(run(capsys, "cmr", "--json")[1])
    by_kind = {(m["kind"], m["base"]): (m["cmrs"], m["covered"]) for m in doc["memory_map"]}
    assert by_kind[("usable", "0x0000000000000000")] == ([0], "full")
    assert by_kind[("persistent", "0x0000000200000000")] == ([], "none")


def test_cmr_text_shows_cmrs_beside_the_memory_map(capsys):
    code, out, _ = run(capsys, "cmr", "--platform", "one-socket")
    assert code == 0
    assert "CMR[1]  [0x0000000100000000, 0x0000000200000000)" in out
    assert "usable     node 0  in CMR[1]" in out and "outside every CMR" in out


def test_cmr_without_a_module_is_a_one_line_error(capsys):
    code, _, err = run(capsys, "cmr", "--platform", "no-module")
    assert code == 2 and err.startswith("seamemu cmr: error: TDH.SYS.INIT: VMfailInvalid")


def test_boot_json_and_call_log(capsys, tmp_path):
    log = tmp_path / "calls.jsonl"
    code, out, _ = run(capsys, "boot", "--json", "--log", str(log))
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["state"] == "SYS_READY" and doc["errno"] == 0
    assert doc["kernel"] == "mainline"
    assert doc["keyids"]["global_keyid"] == load_platform().mktme_keyids + 1
    assert doc["pamt_kb"] * 1024 == sum(int(t[f"pamt_{ps}"]["size"], 16)
                                        for t in doc["tdmrs"] for ps in ("4k", "2m", "1g"))
    assert {"virt/tdx: TDX-Module initialized"} <= {line["text"] for line in doc["log"]}
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == doc["seamcalls"]["total"] == len(doc["calls"])
    first = lines[0]
    assert (first["leaf_name"], first["leaf"], first["lp"]) == ("TDH.SYS.INIT", 33, 0)
    assert (first["state_before"], first["state_after"]) == ("SYSINIT_PENDING", "SYSINIT_DONE")
    assert first["status_name"] == "TDX_SUCCESS" and "inputs" in first and "outputs" in first


def test_boot_text_on_1_0_ends_in_sys_ready(capsys):
    code, out, _ = run(capsys, "boot", "--abi", "1.0", "--platform", "one-socket",
                       "--kernel", "v5-2022")
    assert code == 0
    # one-socket describes a 1.5 module; run as 1.0 it reports a 1.0 version.
    assert "vendor_id 0x8086, major_version 1, minor_version 0," in out
    assert "result: module initialized (0); module state SYS_READY" in out


def test_boot_inject_shows_the_kernel_s_error_path(capsys):
    code, out, _ = run(capsys, "boot", "--inject",
                       "leaf=TDH.SYS.KEY.CONFIG,lp=0:status=TDX_KEY_GENERATION_FAILED")
    assert code == 1
    assert "virt/tdx: SEAMCALL (0x000000000000001f) failed: 0x8000080000000000" in out
    assert "virt/tdx: TDX-Module initialization failed (-5)" in out
    assert "module state SYSCONFIG_DONE" in out


def test_boot_refuses_a_status_the_leaf_never_returns(capsys):
    code, _, err = run(capsys, "boot", "--inject",
                       "leaf=TDH.SYS.KEY.CONFIG:status=TDX_RND_NO_ENTROPY")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "TDH.SYS.KEY.CONFIG never returns TDX_RND_NO_ENTROPY" in err
    assert "TDX_KEY_GENERATION_FAILED" in err


def test_run_boot_reads_a_free_page_on_the_ready_module(capsys):
    argv = ["run", "--leaf", "TDH.PHYMEM.PAGE.RDMD", "--rcx", "0x100000000", "--json"]
    code, out, _ = run(capsys, *argv)
    assert json.loads(out)["rax"] == "0xc000050500000000"          # TDX_SYS_NOT_READY
    code, out, _ = run(capsys, "run", "--boot", *argv[1:])
    doc = json.loads(out)
    assert code == 0 and doc["boot"]["state"] == "SYS_READY" and doc["rax"] == "0x" + "0" * 16
    assert doc["out"]["rcx"] == "0x" + "0" * 16                     # PT_NDA
    assert "page type PT_NDA (free" in doc["calls"][-1]["note"]
    code, out, _ = run(capsys, "run", "--boot", "--leaf", "TDH.PHYMEM.PAGE.RDMD", "--rcx",
                       "0x100000000")
    assert out.startswith("boot (mainline): virt/tdx: TDX-Module initialized; module state SYS_READY")
    assert "[page type PT_NDA (free: no TD owns it)]" in out


def test_run_boot_needs_the_stub(capsys, tmp_path):
    src = tmp_path / "mine.S"
    src.write_text(".globl f\nf:\n    ret\n")
    code, _, err = run(capsys, "run", "--boot", "--asm", str(src), "--entry", "f")
    assert code == 2 and "--boot brings the module up through __seamcall, __seamcall_ret" in err


def test_boot_use_tdx_off_is_refused(capsys):
    code, out, _ = run(capsys, "boot", "--use-tdx", "off", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["refused"] == "use_tdx=off" and doc["calls"] == []


@pytest.mark.parametrize("argv, needle", [
    (["boot", "--inject", "leaf=NOPE:fault=#GP"], "unknown leaf 'NOPE'"),
    (["boot", "--platform", "/nonexistent.toml"], "cannot read the platform file"),
    (["cmr", "--lp", "99"], "--lp 99"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in err and "Traceback" not in err


def test_run_a_leaf_the_model_does_not_implement_says_so(capsys):
    code, out, _ = run(capsys, "run", "--leaf", "TDH.MNG.CREATE", "--json")
    doc = json.loads(out)
    (rec,) = doc["calls"]
    assert code == 0 and doc["outcome"] == "returned"
    assert (rec["leaf_name"], rec["status_name"]) == ("TDH.MNG.CREATE", "TDX_SYS_NOT_READY")
    assert "not modelled" in rec["note"]
    code, out, _ = run(capsys, "run", "--leaf", "TDH.MNG.CREATE")
    assert "TDH.MNG.CREATE -> TDX_SYS_NOT_READY" in out and "not modelled" in out


@pytest.mark.parametrize("rcx, status", [("0x1000", "PSEAMLDR_SUCCESS"),
                                         ("0x1008", "PSEAMLDR_EBADPARAM")])
def test_run_seamldr_info_reaches_the_loader(capsys, rcx, status):
    code, out, _ = run(capsys, "run", "--leaf", "SEAMLDR.INFO", "--rcx", rcx, "--json")
    doc = json.loads(out)
    (rec,) = doc["calls"]
    assert code == 0 and doc["outcome"] == "returned"
    assert (rec["leaf_name"], rec["status_name"], rec["note"]) == ("SEAMLDR.INFO", status, "")
    assert rec["leaf"] == 1 << 63 and "P-SEAMLDR" in doc["rule"]


def test_run_without_a_module_only_the_loader_answers(capsys):
    doc = json.loads(run(capsys, "run", "--leaf", "TDH.SYS.INIT", "--platform", "no-module",
                         "--json")[1])
    assert doc["outcome"] == "VMfailInvalid" and doc["rax_name"] == "TDX_SEAMCALL_VMFAILINVALID"
    doc = json.loads(run(capsys, "run", "--leaf", "SEAMLDR.INFO", "--rcx", "0x1000",
                         "--platform", "no-module", "--json")[1])
    assert doc["outcome"] == "returned" and doc["calls"][0]["status_name"] == "PSEAMLDR_SUCCESS"


def test_bench_reports_sys_rd_through_the_driver_and_bringup_time(capsys):
    code, out, _ = run(capsys, "bench", "--seconds", "0.02", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["rates"]["tdh_sys_rd_via_stub_per_s"] > 0
    assert "tdh_sys_rd_via_stub_per_s_vs_bare" in doc["ratios"] and doc["bringup_s"] > 0


# Each release under a kernel generation that can use it: 1.0 only the TDH.SYS.INFO kernel,
# 1.5.01 not mainline (it lacks MAX_VCPUS_PER_TD).
@pytest.mark.parametrize("version, kernel, method", [("1.0", "v5-2022", "TDH.SYS.INFO"),
                                                     ("1.5.01", "6.8", "TDH.SYS.RD"),
                                                     ("1.5.05", "mainline", "TDH.SYS.RD"),
                                                     ("2.0.08", "mainline", "TDH.SYS.RD")])
def test_boot_module_version_reaches_sys_ready(capsys, version, kernel, method):
    code, out, _ = run(capsys, "boot", "--module-version", version, "--kernel", kernel, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["state"] == "SYS_READY"
    assert doc["sysinfo"]["method"] == method
    major, minor, _update = version.split(".") + ["0"] * (3 - len(version.split(".")))
    if kernel == "6.8":                      # reads the TDMR fields only, no version
        assert doc["sysinfo"]["version"] is None
    else:
        assert doc["sysinfo"]["version"].startswith(f"{major}.{minor}.")


def test_module_version_reaches_the_module_of_run(capsys):
    code, out, _ = run(capsys, "run", "--module-version", "1.0", "--leaf", "TDH.SYS.RD", "--json")
    doc = json.loads(out)
    # 1.0 has no TDH.SYS.RD: before SYS_READY its dispatcher answers TDX_SYS_NOT_READY.
    assert code == 0 and doc["rax"] == "0xc000050500000000"


@pytest.mark.parametrize("argv, needle", [
    (["boot", "--module-version", "1.5.07"], "--module-version '1.5.07': not a known TDX module "
                                              "release (known: 1.0, 1.5.01, 1.5.05, 2.0.08)"),
    (["boot", "--platform", "no-module", "--module-version", "1.0"], "loads no TDX module"),
])
def test_bad_module_version_is_one_line(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_a_bad_bios_is_reproducible_from_the_platform_file(capsys, tmp_path):
    # tdh_sys_lp_init.c check_msrs: another IA32_ARCH_CAPABILITIES on one core stops that LP.
    bad = tmp_path / "bad-bios.toml"
    bad.write_text('extends = "default"\n[[msr]]\nmsr = "IA32_ARCH_CAPABILITIES"\n'
                   'value = 0x20fd7b\ncore = 3\n')
    code, out, _ = run(capsys, "boot", "--platform", str(bad))
    assert code == 1
    assert "virt/tdx: SEAMCALL (0x0000000000000023) failed: 0xc00009200000010a" in out
    assert "tdx_cpu_enable() on LP 6 failed (-EIO)" in out
    code, out, _ = run(capsys, "boot", "--platform", str(bad), "--json")
    lp_inits = [c for c in json.loads(out)["calls"] if c["leaf_name"] == "TDH.SYS.LP.INIT"]
    assert [c["status_name"] for c in lp_inits][-1] == "TDX_INCONSISTENT_MSR(MSR 0x10a)"
