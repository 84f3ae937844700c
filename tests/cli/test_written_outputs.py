# SPDX-License-Identifier: MIT
"""`--json` for the commands that show or write things: demo says what it showed, diagram and
report which files they wrote; outputs that cannot be written are one-line errors."""

from __future__ import annotations

import json

from seamemu.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_json_is_what_the_text_shows(capsys):
    code, out, _ = run(capsys, "demo", "--json")
    doc = json.loads(out)
    _, text, _ = run(capsys, "demo")
    assert code == 0 and doc["schema"] == 1
    assert len(doc["matrix"]["rows"]) == 16
    assert {o["outcome"] for o in doc["outcomes"]} == {"returned", "VMfailInvalid", "#GP", "#UD"}
    for o in doc["outcomes"]:
        assert f"  {o['outcome']:<14} {o['rule']}" in text
        assert f"RAX {o['rax']} {o['rax_name']}" in text
    for i, cmr in enumerate(doc["cmrs"]):
        assert f"CMR[{i}]: [{cmr['base']}, " in text
    assert doc["call"]["result"]["calls"][-1]["leaf_name"] == doc["leaf"]


def test_diagram_json_lists_the_files_written(capsys, tmp_path):
    code, out, _ = run(capsys, "diagram", "--out", str(tmp_path / "figs"), "--json")
    doc = json.loads(out)
    assert code == 0 and len(doc["files"]) == 3
    for f in doc["files"]:
        written = tmp_path / "figs" / f["path"].rsplit("/", 1)[1]
        assert written.read_text(encoding="utf-8").startswith("<svg") or "<svg" in written.read_text()
        assert written.stat().st_size == f["bytes"]


def test_report_json_names_the_file(capsys, tmp_path):
    target = tmp_path / "new" / "r.html"
    code, out, _ = run(capsys, "report", "--out", str(target), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["files"] == [{"path": str(target), "bytes": target.stat().st_size}]


def test_an_unwritable_output_fails_before_the_work(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    for argv, needle in ((["report", "--out", str(tmp_path)], "is a directory"),
                         (["report", "--out", "/dev/full"], "no space left"),
                         (["diagram", "--out", str(tmp_path / "file")], "not a directory"),
                         (["boot", "--log", str(tmp_path)], "is a directory")):
        code, _, err = run(capsys, *argv)
        assert code == 2 and needle in err and len(err.splitlines()) == 1, err
