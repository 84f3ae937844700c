# SPDX-License-Identifier: MIT
"""`--obj` and `--stub` on every command that takes a program, as a user types them."""

from __future__ import annotations

import json

import pytest

from seamemu.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def rethunk(kbuild, kstub):
    """kstub.o as kbuild builds it with return thunks: it needs __x86_return_thunk."""
    return kbuild(kstub, "-DCONFIG_MITIGATION_RETHUNK")


def test_run_matrix_trace_and_explain_take_objects(capsys, kbuild, kstub, rethunk):
    obj = kbuild(kstub)
    code, out, _ = run(capsys, "run", "--obj", obj, "--entry", "kstub_seamcall", "--cpl", "3",
                       "--json")
    assert code == 0 and json.loads(out)["outcome"] == "#GP"
    code, out, _ = run(capsys, "matrix", "--obj", rethunk, "--stub", "__x86_return_thunk",
                       "--entry", "kstub_seamcall", "--json")
    assert code == 0 and {r["outcome"] for r in json.loads(out)["rows"]} >= {"#UD", "returned"}
    code, out, _ = run(capsys, "trace", "--obj", rethunk, "--stub", "__x86_return_thunk",
                       "--entry", "kstub_seamcall", "--json")
    steps = json.loads(out)["steps"]
    assert code == 0 and any("__x86_return_thunk" in s["symbol"] for s in steps)
    code, out, _ = run(capsys, "explain", "--obj", obj, "--entry", "kstub_seamcall",
                       "--vmx", "off")
    assert code == 0 and "#UD" in out


def test_asm_lists_an_object_mixed_with_a_source(capsys, rethunk, tmp_path):
    thunk = tmp_path / "thunk.S"
    thunk.write_text(".text\n.globl __x86_return_thunk\n__x86_return_thunk:\n\tret\n")
    code, out, _ = run(capsys, "asm", thunk, "--obj", rethunk, "--json")
    doc = json.loads(out)
    assert code == 0
    assert {"kstub_seamcall", "__x86_return_thunk"} <= set(doc["symbols"])
    assert [e["fault_symbol"] for e in doc["extable"]] == ["kstub_seamcall+0x13"]


def test_fuzz_takes_an_object_and_its_reproducer_replays(capsys, kbuild, kstub, tmp_path):
    out_dir = tmp_path / "fz"
    code, out, _ = run(capsys, "fuzz", "--obj", kbuild(kstub), "--entry", "kstub_seamcall",
                       "--variant", "ret", "--runs", "200", "--seed", "3", "--quiet",
                       "--out", out_dir, "--json")
    summary = json.loads(out)
    # kstub counts its calls in .data: the fuzzer reports that store, with a reproducer.
    assert code == 1 and summary["runs"] >= 200
    finding = next(f for f in summary["findings"] if f["rule"] == "memory-writes")
    assert finding["location"].startswith("kstub_seamcall")
    code, out, _ = run(capsys, "run", "--replay", finding["reproducer"])
    assert code == 1 and "kstub_seamcall" in out


@pytest.mark.parametrize("argv, message", [
    (["run", "--obj", "nowhere.o"], "--obj nowhere.o: cannot read: no such file"),
    (["matrix", "--obj", "KSTUB"], "not an ELF object file"),
    (["run", "--obj", "RETHUNK", "--entry", "kstub_seamcall"],
     "undefined symbol `__x86_return_thunk`"),
    (["run", "--obj", "RETHUNK", "--stub", "not a name", "--entry", "kstub_seamcall"],
     "--stub 'not a name': not a symbol name"),
    (["asm"], "give the files to assemble"),
])
def test_bad_objects_are_one_line_errors(capsys, kstub, rethunk, argv, message):
    argv = [str(kstub) if a == "KSTUB" else str(rethunk) if a == "RETHUNK" else a for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
