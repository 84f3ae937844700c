# SPDX-License-Identifier: MIT
"""`seamemu model-diff`: the model against Intel's module, what it reports and how it replays."""

from __future__ import annotations

import json

from seamemu.cli import main
from seamemu.modeldiff.compare import Step


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_needs_the_module(capsys):
    code, out, err = run(capsys, "model-diff")
    assert code == 2 and out == ""
    assert err.strip() == ("seamemu model-diff: error: model-diff needs Intel's module: "
                           "--module-binary PATH (or $SEAMEMU_MODULE_BINARY, or the platform's "
                           "[module] binary)")


def test_the_catalog_and_random_sequences_agree(capsys, module_binary):
    code, out, _ = run(capsys, "model-diff", "--module-binary", module_binary, "--runs", "52",
                       "--seed", "3", "--json")
    doc = json.loads(out)
    assert doc["runs"] == 52 and doc["seed"] == 3     # the catalog, then random sequences
    assert doc["disagreements"] == [] and code == 0


def _reproducer(path, platform, steps, name="by hand"):
    doc = {"schema": 1, "platform": str(platform), "sequence": name,
           "reproducer": [s.to_json() for s in steps]}
    path.write_text(json.dumps(doc))
    return path


def test_an_explained_difference_is_not_a_disagreement(capsys, module_binary, tmp_path):
    steps = [Step(0, "TDH.SYS.INIT"), Step(0, "TDH.SYS.LP.INIT"),
             Step(0, "TDH.SYS.RD", {"rdx": 0x8800000200000001})]        # BUILD_DATE
    f = _reproducer(tmp_path / "r.json", "small", steps)
    code, out, _ = run(capsys, "model-diff", "--module-binary", module_binary, "--replay",
                       str(f), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["disagreement"] is None
    assert doc["explained"][0]["reason"].startswith("BUILD_DATE: a self-built binary")


def test_a_disagreement_is_reported_with_both_answers(capsys, module_binary, tmp_path):
    # The model does not check CPUID leaf 0xD's supervisor bits; Intel's module halts on it.
    plat = tmp_path / "p.toml"
    plat.write_text('extends = "small"\n[[cpuid]]\nleaf = 0xD\nsubleaf = 11\necx = 0\n')
    f = _reproducer(tmp_path / "r.json", plat, [Step(0, "TDH.SYS.INIT")], "halting platform")
    code, out, _ = run(capsys, "model-diff", "--module-binary", module_binary, "--replay",
                       str(f))
    assert code == 1
    assert out.startswith("halting platform: step 0: model returned TDX_SUCCESS; "
                          "Intel's module halted")


def test_a_broken_reproducer_is_a_one_line_error(capsys, module_binary, tmp_path):
    f = tmp_path / "r.json"
    f.write_text('{"schema": 1, "platform": "small"}')
    code, _, err = run(capsys, "model-diff", "--module-binary", module_binary, "--replay",
                       str(f))
    assert code == 2 and err.count("\n") == 1 and "not a model-diff reproducer" in err
