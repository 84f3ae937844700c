# SPDX-License-Identifier: MIT
"""tools/probe_keystone.py re-verifies keystone traps in subprocesses (one quick case here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "probe_keystone.py"


def test_probe_reports_the_radix_trap():
    proc = subprocess.run([sys.executable, str(TOOL), "radix_disp", "seamcall"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # keystone 0.9.2 is pinned, so both traps hold; a newer keystone would print FIXED?.
    assert any(ln.startswith("HOLDS") and "radix_disp" in ln for ln in lines)
    assert any(ln.startswith("HOLDS") and "seamcall" in ln for ln in lines)
    assert lines[-1] == "2 of 2 traps still hold"


def test_probe_rejects_unknown_names():
    proc = subprocess.run([sys.executable, str(TOOL), "no_such_trap"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0 and "unknown probe" in proc.stderr
