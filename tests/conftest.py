# SPDX-License-Identifier: MIT
"""Shared fixtures: the repository root and the shipped stubs."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASM = ROOT / "asm"


@pytest.fixture(scope="session")
def asm_dir() -> Path:
    return ASM
