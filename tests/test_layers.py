"""The layer contracts in pyproject.toml hold: dependencies flow one way, each engine in one package."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    proc = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_package_all_sorted():
    """Every public __all__ is sorted, so additions land in one obvious place."""
    import importlib
    import pkgutil

    import seamemu

    unsorted = []
    for mod in pkgutil.walk_packages(seamemu.__path__, "seamemu."):
        if mod.name.endswith("__main__"):
            continue
        m = importlib.import_module(mod.name)
        names = getattr(m, "__all__", None)
        if names is not None and list(names) != sorted(names):
            unsorted.append(mod.name)
    assert not unsorted, f"__all__ not sorted in: {unsorted}"
