# SPDX-License-Identifier: MIT
"""The front end's public API: what `seamemu.frontend` exports, and its module contracts."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import seamemu.frontend as frontend
from seamemu.image import Image


def test_public_api_is_pinned():
    assert frontend.__all__ == ["BACKENDS", "DEFAULT_INCLUDE_DIR", "assemble", "assemble_text",
                                "clear_cache"]
    assert frontend.BACKENDS == ("keystone", "gnu")
    assert Path(frontend.DEFAULT_INCLUDE_DIR, "asm", "tdx.h").is_file()
    params = list(inspect.signature(frontend.assemble).parameters)
    assert params == ["paths", "include_dirs", "defines", "backend", "stubs"]
    params = list(inspect.signature(frontend.assemble_text).parameters)
    assert params == ["text", "filename", "include_dirs", "defines", "backend"]
    assert inspect.signature(frontend.assemble).parameters["backend"].default == "keystone"
    assert isinstance(frontend.assemble_text("nop"), Image)


def test_modules_are_small_documented_and_export_sorted_names():
    for info in pkgutil.iter_modules(frontend.__path__):
        module = importlib.import_module(f"seamemu.frontend.{info.name}")
        source = inspect.getsource(module)
        assert len(source.splitlines()) < 600, info.name
        assert module.__doc__ and module.__doc__.strip(), info.name
        exported = getattr(module, "__all__", [])
        assert exported == sorted(exported), info.name


def test_only_the_worker_module_mentions_keystone_imports():
    for info in pkgutil.iter_modules(frontend.__path__):
        source = inspect.getsource(importlib.import_module(f"seamemu.frontend.{info.name}"))
        if info.name != "keystone_worker":
            assert "from keystone" not in source and "import keystone" not in source, info.name
