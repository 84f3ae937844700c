# SPDX-License-Identifier: MIT
"""`seamemu fuzz` on the command line: the JSON summary, the text summary, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fuzz_helpers import planted

from seamemu.cli import main


def test_json_summary_lists_findings_with_reproducers(tmp_path, capsys):
    rc = main(["fuzz", "--asm", planted("rbx_clobber"), "--entry", "__seamcall_saved_ret",
               "--convention", "args", "--runs", "2000", "--seed", "3", "--out", str(tmp_path),
               "--json", "--quiet"])
    s = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert s["schema"] == 1 and s["runs"] == 2000 and s["seed"] == 3
    assert s["entry"] == "__seamcall_saved_ret" and s["variant"] == "saved"
    assert s["runs_per_s"] > 0 and s["mode"] == "random"
    assert s["findings"]
    for f in s["findings"]:
        assert set(f) >= {"rule", "location", "reproducer"}
        assert f["rule"] == "callee-saved"
        assert json.loads(Path(f["reproducer"]).read_text())["finding"]["location"] == f["location"]


def test_text_summary_and_clean_exit(tmp_path, capsys):
    rc = main(["fuzz", "--runs", "1000", "--out", str(tmp_path), "--quiet", "--seed", "1"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "__seamcall_ret (args/ret)" in out and "no findings" in out


def test_text_summary_names_each_finding(tmp_path, capsys):
    rc = main(["fuzz", "--asm", planted("legacy_arg_order"), "--entry", "__seamcall",
               "--convention", "legacy", "--runs", "1000", "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "module-inputs at __seamcall+0x" in out and "reproducer:" in out


def test_progress_line_goes_to_stderr(tmp_path, capsys):
    main(["fuzz", "--runs", "500", "--out", str(tmp_path), "--json"])
    captured = capsys.readouterr()
    assert "[fuzz]" in captured.err and "runs" in captured.err
    json.loads(captured.out)  # stdout stays pure JSON


@pytest.mark.parametrize("argv,message", [
    (["--entry", "nope"], "--entry nope: no such symbol"),
    (["--asm", "/nonexistent.S"], "--asm /nonexistent.S: cannot read: no such file"),
    (["--convention", "legacy", "--variant", "ret"], "only the args and tdcall conventions have"),
    (["--jobs", "0"], "--jobs: 0 is less than 1"),
    (["--runs", "0"], "--runs: 0 is less than 1"),
    (["--worker-id", "a/b"], "--worker-id 'a/b'"),
    (["--asm", planted("pop_order")], "--entry SYMBOL is required with --asm"),
    (["--convention", "raw"], "--convention raw needs --asm FILE --entry SYMBOL"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, argv, message):
    rc = main(["fuzz", "--out", str(tmp_path), "--quiet"] + argv)
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and "Traceback" not in err


def test_legacy_without_asm_fuzzes_the_shipped_legacy_stub(tmp_path, capsys):
    rc = main(["fuzz", "--convention", "legacy", "--runs", "500", "--out", str(tmp_path),
               "--quiet", "--json", "--seed", "2"])
    s = json.loads(capsys.readouterr().out)
    assert rc == 0 and not s["findings"]
    assert s["entry"] == "__seamcall" and s["asm"][0].endswith("seamcall_legacy.S")


def test_kernel_chooses_stub_entry_and_rules(tmp_path, capsys):
    rc = main(["fuzz", "--kernel", "v5-2022", "--runs", "500", "--out", str(tmp_path), "--quiet",
               "--seed", "2", "--json"])
    s = json.loads(capsys.readouterr().out)
    assert rc == 0 and s["kernel"] == "v5-2022" and s["entry"] == "__seamcall"
    assert s["findings"] == []


def test_kernel_and_a_convention_it_does_not_use_is_an_error(tmp_path, capsys):
    rc = main(["fuzz", "--kernel", "mainline", "--convention", "legacy", "--runs", "10",
               "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "kernel mainline calls SEAMCALL with the args convention" in err
