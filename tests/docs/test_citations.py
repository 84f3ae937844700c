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
# Commits of tip's first x86/tdx push (8 Dec 2023) that were rebased away before the pull for
# 6.8, so torvalds/linux does not have them; the mainline commit with the same subject instead
# (tip post-receive logs for refs/heads/x86/tdx, 8 Dec 2023 and its forced update).
NOT_IN_MAINLINE = {
    "40011858466f": "1e536e106897 (x86/cpu: Detect TDX partial write machine check erratum)",
    "a050ce13000f": "70060463cb2b (x86/mce: Differentiate real hardware #MCs from TDX erratum)",
    "c1759937f488": "4e1c7dddc717 (Documentation/x86: Add documentation for TDX host support)",
    "7ba6ac73f898": "cb8eb06d50fc (x86/virt/tdx: Disable TDX host support when kexec is enabled)",
}


def _texts():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    assert len(files) > 100
    for name in files:
        path = ROOT / name
        if name in EXEMPT or path.is_symlink() or not path.is_file():
            continue
        try:
            yield name, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue


def test_no_file_cites_the_teams_notes():
    cited = []
    for name, text in _texts():
        cited += [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
                  for m in NOTES.finditer(text)]
    assert not cited, "cite the public source instead:\n" + "\n".join(cited)


def test_no_file_cites_a_kernel_commit_mainline_does_not_have():
    cited = [f"{name}: {short} -> cite {instead}" for name, text in _texts()
             for short, instead in NOT_IN_MAINLINE.items() if short[:8] in text]
    assert not cited, "\n".join(cited)
