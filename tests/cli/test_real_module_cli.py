# SPDX-License-Identifier: MIT
"""--module-binary as a user meets it: one-line refusals, the module named in the output,
trace --into-module, and the same matrix as the model's."""

from __future__ import annotations

import json

import pytest

from seamemu.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("cmd", [["boot"], ["cmr"], ["run", "--leaf", "TDH.SYS.INIT"],
                                 ["matrix"], ["trace"], ["explain"]])
def test_a_missing_binary_is_a_one_line_error(capsys, tmp_path, cmd):
    code, out, err = run(capsys, *cmd, "--platform", "small", "--module-binary",
                         str(tmp_path / "libtdx.so"))
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert err.strip().endswith(f"--module-binary {tmp_path / 'libtdx.so'}: cannot read: "
                                "no such file or directory")


def test_not_a_module_is_a_one_line_error(capsys, tmp_path):
    f = tmp_path / "libtdx.so"
    f.write_bytes(b"#!/bin/sh\n")
    code, _, err = run(capsys, "cmr", "--module-binary", str(f))
    assert code == 2 and "not an ELF file, so not a TDX module image" in err


def test_the_environment_variable_and_the_platform_file_are_named(capsys, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("SEAMEMU_MODULE_BINARY", str(tmp_path / "env.so"))
    code, _, err = run(capsys, "cmr", "--platform", "small")
    assert code == 2 and f"$SEAMEMU_MODULE_BINARY {tmp_path / 'env.so'}: cannot read: no such file" in err
    monkeypatch.delenv("SEAMEMU_MODULE_BINARY")
    plat = tmp_path / "p.toml"
    plat.write_text('extends = "small"\n[module]\nversion = "1.5.01"\nbinary = "build/libtdx.so"\n')
    code, _, err = run(capsys, "cmr", "--platform", str(plat))
    assert code == 2
    assert f"{plat}: [module] binary {tmp_path / 'build' / 'libtdx.so'}: cannot read: no such file" in err


def test_into_module_needs_the_binary(capsys):
    code, _, err = run(capsys, "trace", "--platform", "small", "--into-module")
    assert code == 2 and "--into-module needs Intel's module (--module-binary PATH)" in err


def test_run_through_intels_module(capsys, module_binary):
    code, out, _ = run(capsys, "run", "--platform", "small", "--module-binary", module_binary,
                       "--leaf", "TDH.SYS.INIT", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["outcome"] == "returned" and doc["rax"] == "0x0000000000000000"
    assert doc["calls"][0]["note"].startswith("Intel's module")
    assert doc["calls"][0]["state_after"] == "SYSINIT_DONE"


def test_trace_into_module_shows_the_modules_own_code(capsys, module_binary):
    code, out, _ = run(capsys, "trace", "--platform", "small", "--module-binary", module_binary,
                       "--after", "TDH.SYS.INIT", "--leaf", "TDH.SYS.LP.INIT", "--into-module")
    assert code == 0
    head = next(line for line in out.splitlines() if line.startswith("inside Intel's module"))
    assert "SEAMCALL #2 TDH.SYS.LP.INIT -> TDX_SUCCESS" in head
    functions = [line.strip()[:-1] for line in out.splitlines()
                 if line.startswith("  ") and not line.startswith("    ") and line.endswith(":")]
    assert functions[0] == "tdx_seamcall_entry_point" and "tdh_sys_lp_init" in functions
    assert functions[-1] == "tdx_seamret_to_vmm"
    assert out.rstrip().endswith("seamret")
    assert "callq 0x" in out and "<tdx_vmm_dispatcher>" in out     # call targets symbolised
    assert "rdmsr" in out                                          # the original, not UD2


def test_trace_into_module_json(capsys, module_binary):
    code, out, _ = run(capsys, "trace", "--platform", "small", "--module-binary", module_binary,
                       "--leaf", "TDH.SYS.INIT", "--into-module", "--json", "--max-steps", "50")
    doc = json.loads(out)
    assert code == 0
    run0 = doc["module_runs"][0]
    assert run0["leaf_name"] == "TDH.SYS.INIT" and run0["truncated"] is True
    assert len(run0["steps"]) == 50
    assert run0["steps"][0]["symbol"] == "tdx_seamcall_entry_point"


def test_matrix_matches_the_models(capsys, module_binary):
    _, model, _ = run(capsys, "matrix", "--platform", "small", "--json")
    code, real, _ = run(capsys, "matrix", "--platform", "small", "--module-binary", module_binary,
                        "--json")
    assert code == 0
    rows = lambda doc: [(r["vmx"], r["seamrr"], r["cpl"], r["module"], r["outcome"], r["rax"])  # noqa: E731
                        for r in json.loads(doc)["rows"]]
    assert rows(real) == rows(model)
    assert ("returned", "0x0000000000000000") in [(r[4], r[5]) for r in rows(real)]


def test_boot_exit_status_follows_sys_ready(capsys, module_binary, tmp_path):
    plat = tmp_path / "halts.toml"
    plat.write_text('extends = "small"\n[[cpuid]]\nleaf = 0xD\nsubleaf = 12\necx = 0\n')
    code, out, _ = run(capsys, "boot", "--platform", str(plat), "--module-binary", module_binary)
    assert code == 1
    assert "result: refused: the module halted; module state HALTED" in out


def test_td_with_intels_module_says_the_model_answered(capsys, module_binary):
    # Intel's module is only SEAMCALL's target here: no TD is entered, so a TDCALL is answered by
    # the model's guest side and the run says so (docs/real-module.md).
    code, out, _ = run(capsys, "run", "--platform", "small", "--module-binary", module_binary,
                       "--td", "--leaf", "TDG.VP.INFO", "--json")
    assert code == 0
    call = json.loads(out)["calls"][0]
    assert call["leaf_name"] == "TDG.VP.INFO" and call["status_name"] == "TDX_SUCCESS"
    assert call["note"].startswith("Intel's module runs no TD here")
