# SPDX-License-Identifier: MIT
"""Licensing: the LICENSE file pyproject promises, and an SPDX line at the top of every source file."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPDX = "SPDX-License-Identifier: MIT"
# Source files by ending, and the extensionless scripts that are source too.
SOURCE_SUFFIXES = (".py", ".S", ".h", ".inc", ".sh")
SOURCE_SCRIPTS = (".ci/run",)


def _tracked_files() -> list[str]:
    """Every file git tracks (CI runs in a fresh clone); outside a checkout, every file."""
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=60).stdout
        return out.split()
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", "__pycache__", "build", "dist"}
        return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def source_files() -> list[str]:
    return sorted(f for f in _tracked_files()
                  if (f.endswith(SOURCE_SUFFIXES) or f in SOURCE_SCRIPTS)
                  and not (ROOT / f).is_symlink())


def test_license_file_is_the_mit_licence_pyproject_declares():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["license"] == {"text": "MIT"}
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c)" in text and "seamemu contributors" in text
    assert "Permission is hereby granted, free of charge" in text


def test_every_source_file_starts_with_an_spdx_line():
    """The SPDX line is the first line, or the second after a #! line."""
    files = source_files()
    assert len(files) > 100 and "asm/tdxcall.S" in files and ".ci/run" in files
    assert "seamemu/include/asm/tdx.h" in files
    missing = []
    for name in files:
        head = (ROOT / name).read_text().splitlines()[:2]
        first = head[1:2] if head and head[0].startswith("#!") else head[:1]
        if not first or SPDX not in first[0]:
            missing.append(name)
    assert not missing, f"no '{SPDX}' line at the top of: {missing}"
