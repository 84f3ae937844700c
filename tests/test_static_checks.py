# SPDX-License-Identifier: MIT
"""The package type-checks (mypy) and passes the linter (ruff), with the config in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mypy import api as mypy_api

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_passes_on_the_package(monkeypatch):
    monkeypatch.chdir(ROOT)
    out, err, status = mypy_api.run(["--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, out + err
    assert out.startswith("Success: no issues found"), out


def test_ruff_passes_on_the_tree():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
