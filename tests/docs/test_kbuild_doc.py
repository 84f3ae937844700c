# SPDX-License-Identifier: MIT
"""docs/kbuild-and-gdb.md is runnable: its gcc command builds the object, its `$ seamemu` blocks
print what they show, and its gdb session against `seamemu run --gdb` goes as shown."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from seamemu.cli import main
from tools import doccheck

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "kbuild-and-gdb.md"
# The lines of the gdb transcript that are gdb's answers (not interactive chatter).
ANSWERS = re.compile(r"^(Breakpoint \d|\d+\t|=> |rax |0x[0-9a-f]+\t|\[Inferior)")


def _blocks(kind: str) -> list[list[str]]:
    out, current = [], None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if current is None and line.strip() == f"```{kind}":
            current = []
        elif current is not None and line.strip() == "```":
            out.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return out


def _sh(containing: str) -> list[str]:
    block = next(b for b in _blocks("sh") if containing in " ".join(b))
    return shlex.split(" ".join(line.rstrip("\\") for line in block))


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A directory laid out like a checkout (asm/, seamemu/include) where the page's gcc
    command has built seamcall.o."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (Debian package gcc)")
    where = tmp_path_factory.mktemp("checkout")
    (where / "asm").symlink_to(ROOT / "asm")
    (where / "seamemu").symlink_to(ROOT / "seamemu")
    proc = subprocess.run(_sh("gcc -c"), cwd=where, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return where


def test_the_seamemu_blocks_print_what_they_show(checkout):
    commands = doccheck.commands(DOC)
    assert [c.argv[1] for c in commands] == ["matrix", "asm"]
    for cmd in commands:
        actual = doccheck.run(cmd.argv, checkout, main).splitlines()
        assert doccheck.matches(cmd.expected, actual), "\n".join(actual)


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed (Debian package gdb)")
def test_the_gdb_session_goes_as_shown(checkout):
    assert main(["asm", "--obj", str(checkout / "seamcall.o"), "--elf",
                 str(checkout / "seamcall.elf")]) == 0
    argv = [a.replace(":1234", ":0") for a in _sh("--gdb 127.0.0.1:1234")]
    assert argv[0] == "seamemu"
    run = subprocess.Popen([sys.executable, "-m", "seamemu", *argv[1:], "--gdb-timeout", "30"],
                           cwd=checkout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        for line in run.stderr:
            m = re.search(r"waiting for gdb on \S+:(\d+)", line)
            if m:
                port.append(m.group(1))
                ready.set()
    threading.Thread(target=pump, daemon=True).start()
    try:
        assert ready.wait(60), "seamemu did not start its gdb server"
        transcript = _blocks("gdb")[0]
        commands = [line[len("(gdb) "):] for line in transcript if line.startswith("(gdb) ")]
        commands = [c if not c.startswith("target remote") else f"target remote 127.0.0.1:{port[0]}"
                    for c in commands]
        args = ["gdb", "-q", "-batch", "-nx"]
        for c in commands:
            args += ["-ex", c]
        gdb = subprocess.run([*args, "seamcall.elf"], cwd=checkout, capture_output=True,
                             text=True, timeout=60)
        out = run.communicate(timeout=60)[0]
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    expected, command = [], ""
    for line in transcript:
        if line.startswith("(gdb) "):
            command = line[len("(gdb) "):]
        # gdb in batch mode prints a new display only at the next stop, not at once.
        elif ANSWERS.match(line) and not command.startswith("display"):
            expected.append(line)
    pattern = [doccheck.ELLIPSIS]
    for line in expected:
        pattern += [line, doccheck.ELLIPSIS]
    assert doccheck.matches(pattern, (gdb.stdout + gdb.stderr).splitlines()), gdb.stdout + gdb.stderr
    shown = _blocks("text")[0]
    assert out.splitlines()[:len(shown)] == shown
    assert run.returncode == 0
