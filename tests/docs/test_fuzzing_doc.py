# SPDX-License-Identifier: MIT
"""docs/fuzzing.md shows what `seamemu fuzz` prints: its example is run like the tutorials'
commands (tools/doccheck.py), in a scratch directory, and the fields its JSON examples name
are the fields the fuzzer writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from seamemu.cli import main
from seamemu.fuzz.reproducer import load_reproducer
from tools import doccheck

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "fuzzing.md"


def test_the_example_output_is_what_seamemu_fuzz_prints(tmp_path):
    cwd = doccheck.scratch(DOC, ROOT, tmp_path)
    assert cwd == tmp_path and doccheck.commands(DOC), "the example is no longer checked"
    bad = doccheck.check(DOC, cwd, main)
    assert not bad, "\n".join(b.describe() for b in bad) + "\n(run python tools/update_docs.py)"


def _json_blocks() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_json_examples_name_the_fields_the_fuzzer_writes(tmp_path, capsys):
    planted = doccheck.scratch(DOC, ROOT, tmp_path / "scratch") / "plant" / "seamcall.S"
    main(["fuzz", "--asm", str(planted), "--entry", "__seamcall_saved_ret", "--runs", "3000",
          "--seed", "3", "--quiet", "--json", "--out", str(tmp_path)])
    summary = json.loads(capsys.readouterr().out)
    saved = json.loads(Path(summary["findings"][0]["reproducer"]).read_text())
    load_reproducer(summary["findings"][0]["reproducer"])   # the file the doc describes loads
    reproducer_doc, summary_doc = _json_blocks()
    for block, real in ((reproducer_doc, saved), (summary_doc, summary)):
        shown = set(re.findall(r'"(\w+)":', block))
        known = set(real) | {k for v in real.values() if isinstance(v, dict) for k in v} | {
            k for v in real.values() if isinstance(v, list) for item in v
            if isinstance(item, dict) for k in item}
        assert shown <= known, f"docs/fuzzing.md shows fields the fuzzer does not write: {shown - known}"
