# SPDX-License-Identifier: MIT
"""Nothing in the repository cites a document it does not have: the team's working notes
(tdx-abi.md, dependencies.md, ... beside the repository) are not a source a user can read, so
code, docs and output name the public source itself."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTES = re.compile(r"\b(tdx-abi|dependencies|peers|style)\.md\b|\.\./shared/(?!tdx-module)")
# Where the words themselves are the subject: this test.
EXEMPT = {"tests/docs/test_citations.py"}


def test_no_file_cites_the_teams_notes():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    assert len(files) > 100
    cited = []
    for name in files:
        path = ROOT / name
        if name in EXEMPT or path.is_symlink() or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        cited += [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
                  for m in NOTES.finditer(text)]
    assert not cited, "cite the public source instead:\n" + "\n".join(cited)
