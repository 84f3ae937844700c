# SPDX-License-Identifier: MIT
"""Shared fixtures (the repository root, the shipped stubs, objects built as kbuild does, a build
of Intel's TDX module), the gnu_as marker, and the skip guard that fails CI on a skip not on
tests/skip-allowlist.txt."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from skip_guard import pytest_configure as _register_skip_guard

# Cache compiled bytecode even where the environment says not to (PYTHONDONTWRITEBYTECODE=1, as
# on the CI machines): the suite starts hundreds of seamemu processes (the bad-input corpus, the
# CLI tests, xdist's workers), and without the cache each one compiles seamemu from source and
# pytest rewrites every test module again, about a third of the suite's time.  The workers and
# subprocesses started after this inherit the environment.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

ROOT = Path(__file__).resolve().parents[1]
ASM = ROOT / "asm"
# A kernel-style file written to exercise the object loader (tests/frontend/objects/kstub.S).
KSTUB = ROOT / "tests" / "frontend" / "objects" / "kstub.S"


@pytest.fixture(scope="session")
def asm_dir() -> Path:
    return ASM


@pytest.fixture(scope="session")
def kstub() -> Path:
    return KSTUB


@pytest.fixture(scope="session")
def kbuild(tmp_path_factory):
    """`kbuild(src, *flags)`: the object gcc builds from a .S the way kbuild builds arch/x86
    assembly (`gcc -c -x assembler-with-cpp -D__ASSEMBLY__ -nostdinc`, seamemu's headers as
    the kernel's), built once per session."""
    from seamemu.frontend import DEFAULT_INCLUDE_DIR

    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed (Debian package gcc)")
    out_dir = tmp_path_factory.mktemp("kbuild")
    built: dict[tuple, Path] = {}

    def build(src, *flags: str) -> Path:
        key = (str(src), flags)
        if key not in built:
            out = out_dir / f"{len(built)}-{Path(src).stem}.o"
            cmd = [gcc, "-c", "-x", "assembler-with-cpp", "-D__ASSEMBLY__", "-nostdinc",
                   f"-I{DEFAULT_INCLUDE_DIR}", *flags, str(src), "-o", str(out)]
            proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0, proc.stderr
            built[key] = out
        return built[key]
    return build


GNU_AS_MISSING = "GNU as (Debian's binutils, which .ci/run installs) is not on PATH"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "gnu_as: needs GNU as from binutils; skipped (and so failing CI) without it")
    _register_skip_guard(config)


def pytest_runtest_setup(item):
    if item.get_closest_marker("gnu_as") is not None and shutil.which("as") is None:
        pytest.skip(GNU_AS_MISSING)


# -- Intel's TDX module (--module-binary) --------------------------------------------------------
# Tests that run Intel's own module read a build from the environment variable or from the
# team's shared builds beside the repository; seamemu never ships the binary.  The variable is
# taken out of the environment here so that every other test runs on the model, whatever the
# developer's shell says.
MODULE_BINARY_ENV = "SEAMEMU_MODULE_BINARY"
MODULE_BINARY_SKIP = ("real TDX module binary not available (../shared/tdx-module/"
                      "libtdx-1.5.01-release.so, or $SEAMEMU_MODULE_BINARY)")
# pytest-xdist workers inherit the environment of the controller, which already took the
# variable out: the path travels to them under a name the package does not read.
_FOR_WORKERS = "SEAMEMU_TESTS_MODULE_BINARY"
_MODULE_BINARY = (os.environ.pop(MODULE_BINARY_ENV, "") or os.environ.get(_FOR_WORKERS, "")
                  or str(ROOT.parent / "shared" / "tdx-module" / "libtdx-1.5.01-release.so"))
os.environ[_FOR_WORKERS] = _MODULE_BINARY


def real_module_binary() -> str | None:
    """The module build the tests use, or None when there is none."""
    return _MODULE_BINARY if Path(_MODULE_BINARY).is_file() else None


@pytest.fixture(scope="session")
def module_binary() -> str:
    path = real_module_binary()
    if path is None:
        pytest.skip(MODULE_BINARY_SKIP)
    return path
