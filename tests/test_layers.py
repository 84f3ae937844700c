# SPDX-License-Identifier: MIT
"""The layer contracts in pyproject.toml hold: dependencies flow one way, each engine in one package."""

import sys
import tomllib
from pathlib import Path

from importlinter import cli as importlinter

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold(capsys, monkeypatch):
    """Every contract in pyproject.toml is kept, checked through import-linter's Python entry
    point (no PATH lookup, so a missing console script cannot turn this into a skip)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr("sys.path", list(sys.path))  # lint_imports prepends cwd
    status = importlinter.lint_imports(config_filename=str(ROOT / "pyproject.toml"),
                                       no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert status == importlinter.EXIT_STATUS_SUCCESS, out
    assert f"Contracts: {len(contracts['contracts'])} kept, 0 broken." in out, out


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
