# SPDX-License-Identifier: MIT
"""tools/build_tdx_module.sh drives the module's own build: the tagged trees where the Makefile
expects them, IPP first, then the module with the clang-14 flags, unstripped.

The clones here are tiny git repositories whose Makefile records how it was called, and the
compilers are stand-ins on PATH: what is checked is the script, not Intel's build.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "build_tdx_module.sh"
FAKE_MAKEFILE = """\
default:
\techo "module $(RELEASE) $(DO_NOT_STRIP) [$(PRODUCTION_FLAGS)] $(TDX_MODULE_BUILD_NUM)" >> calls.log
\tmkdir -p bin/release && touch bin/release/libtdx.so
%.a:
\techo "ipp $@" >> calls.log
"""


def _repo(path: Path, files: dict[str, str], tag: str) -> Path:
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    subprocess.run(git + ["tag", tag], check=True)
    return path


@pytest.fixture
def fake_tools(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("clang", "nasm", "cmake"):
        (bindir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bindir / tool).chmod(0o755)
    return f"{bindir}:{Path(shutil.which('make') or '/usr/bin/make').parent}:/usr/bin:/bin"


def test_the_script_builds_in_the_documented_order(tmp_path, fake_tools):
    tdx = _repo(tmp_path / "tdx-module", {"Makefile": FAKE_MAKEFILE}, "TDX_1.5.01")
    ipp = _repo(tmp_path / "ipp-crypto", {"CMakeLists.txt": "# ipp\n"}, "ippcp_2021.7.1")
    out = tmp_path / "build"
    proc = subprocess.run([str(SCRIPT), "--tdx-module", str(tdx), "--ipp-crypto", str(ipp),
                           "--out", str(out), "--build-num", "595"],
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": fake_tools, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert (out / "libs/ipp/ipp-crypto-ippcp_2021.7.1/CMakeLists.txt").is_file()
    calls = (out / "calls.log").read_text().splitlines()
    assert calls[0].startswith("ipp ") and calls[0].endswith(
        "ipp-crypto-ippcp_2021.7.1/_build/.build/RELEASE/lib/libippcp_s_y8.a")
    assert calls[1] == ("module 1 1 [-Wno-gnu-folding-constant -Wno-unused-but-set-variable "
                        "-fcommon] 595")
    assert f"built {out}/bin/release/libtdx.so" in proc.stdout


def test_a_missing_tag_is_a_one_line_error(tmp_path, fake_tools):
    tdx = _repo(tmp_path / "tdx-module", {"Makefile": FAKE_MAKEFILE}, "TDX_1.0")
    ipp = _repo(tmp_path / "ipp-crypto", {"CMakeLists.txt": "# ipp\n"}, "ippcp_2021.7.1")
    proc = subprocess.run([str(SCRIPT), "--tdx-module", str(tdx), "--ipp-crypto", str(ipp)],
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": fake_tools, "HOME": str(tmp_path)}, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"build_tdx_module.sh: {tdx} has no tag TDX_1.5.01"
