# SPDX-License-Identifier: MIT
"""`seamemu run --gdb`: the real gdb (batch mode) attaches, breaks, steps through a faulting
SEAMCALL into its fixup or IDT handler, writes registers, and the run ends as it would have.

gdb reads the ELF `seamemu asm --elf` wrote and attaches on a free port: to `seamemu` itself
(--gdb 127.0.0.1:0, the port read from its stderr) for the command-line tests, or to a
session's call running in a thread for the others.  Every wait has a deadline."""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from seamemu.cli import main
from seamemu.machine import Bounds
from seamemu.machine.gdbstub import GdbStub
from seamemu.session import Session

REPO = Path(__file__).resolve().parents[2]
SEAMCALL = REPO / "asm" / "seamcall.S"
IDT_UD = Path(__file__).resolve().parent / "guest" / "idt_ud.S"
GDB = shutil.which("gdb")
needs_gdb = pytest.mark.skipif(GDB is None, reason="gdb is not installed (Debian package gdb)")
DEADLINE = 60.0


class Debugged:
    """`seamemu ARGS --gdb 127.0.0.1:0` and a `gdb -batch` session against it."""

    def __init__(self, argv: list[str], elf: Path, commands: list[str]) -> None:
        self.run = subprocess.Popen(
            [sys.executable, "-m", "seamemu", *argv, "--gdb", "127.0.0.1:0", "--gdb-timeout", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        lines: queue.Queue[str] = queue.Queue()
        self._err: list[str] = []

        def pump() -> None:
            for line in self.run.stderr:
                self._err.append(line)
                lines.put(line)
        threading.Thread(target=pump, daemon=True).start()
        try:
            address = self._address(lines)
            args = [GDB, "-batch", "-nx", "-ex", "set confirm off", "-ex", f"target remote {address}"]
            for c in commands:
                args += ["-ex", c]
            gdb = subprocess.run([*args, str(elf)], capture_output=True, text=True, timeout=DEADLINE)
            self.gdb = gdb.stdout + gdb.stderr
            self.out = self.run.communicate(timeout=DEADLINE)[0]
        finally:
            if self.run.poll() is None:
                self.run.kill()
                self.run.wait()
        self.code = self.run.returncode
        self.err = "".join(self._err)

    def _address(self, lines: queue.Queue[str]) -> str:
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            try:
                line = lines.get(timeout=max(end - time.monotonic(), 0.1))
            except queue.Empty:
                break
            m = re.search(r"waiting for gdb on (\S+)", line)
            if m:
                return m.group(1)
        raise AssertionError(f"seamemu did not start its gdb server: {''.join(self._err)}")


def gdb_batch(port: int, elf: Path, commands: list[str]) -> str:
    args = [GDB, "-batch", "-nx", "-ex", "set confirm off", "-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        args += ["-ex", c]
    proc = subprocess.run([*args, str(elf)], capture_output=True, text=True, timeout=DEADLINE)
    return proc.stdout + proc.stderr


def debug_call(session: Session, elf: Path, commands: list[str], stub: GdbStub | None = None,
               **call):
    """Run `session.call(**call)` in a thread, served to gdb; (gdb's output, the RunResult)."""
    log: list[str] = []
    stub = stub if stub is not None else GdbStub("127.0.0.1", 0, timeout=30, log=log.append)
    session.machine.debug_next_call(stub)
    done: dict = {}

    def go() -> None:
        try:
            done["result"] = session.call(**call)
        except BaseException as exc:  # handed to the test
            done["error"] = exc
    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    out = gdb_batch(stub.port, elf, commands)
    thread.join(DEADLINE)
    assert not thread.is_alive(), out
    if "error" in done:
        raise done["error"]
    return out, done["result"]


class StoppedClock:
    """A run clock that stands still while the guest runs (so a loaded machine cannot reach
    the time bound) and moves a minute for every packet gdb sends while the CPU is stopped,
    as a user reading registers at a breakpoint would."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class MinutePerPacket(GdbStub):
    def __init__(self, clock: StoppedClock) -> None:
        super().__init__("127.0.0.1", 0, timeout=30, log=lambda line: None)
        self.clock = clock

    def _handle(self, text: str, raw: bytes) -> str | None:
        self.clock.now += 60.0
        return super()._handle(text, raw)


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    """`seamemu asm --elf` of a source: what gdb reads symbols and lines from."""
    out_dir = tmp_path_factory.mktemp("elf")

    def build(src: Path) -> Path:
        path = out_dir / (src.stem + ".elf")
        if not path.exists():
            assert main(["asm", str(src), "--elf", str(path)]) == 0
        return path
    return build


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip() == text)


@needs_gdb
def test_break_at_the_entry_step_over_the_faulting_seamcall_and_finish(elf, capsys):
    """The issue's workflow: attach, break on the entry symbol (its source line shown), step
    over the SEAMCALL that takes #GP at CPL 3 into the exception-table fixup, continue."""
    tdxcall = REPO / "asm" / "tdxcall.S"
    s = Debugged(["run", "--leaf", "TDH.SYS.INIT", "--cpl", "3", "--json"], elf(SEAMCALL), [
        "break __seamcall_ret", "continue",
        f"break {tdxcall}:{_line_of(tdxcall, 'seamcall')}", "continue",
        "stepi", "info registers rax", "continue"])
    out = s.gdb
    # Stopped at the breakpoint on the entry, with the source line it is on.
    assert re.search(r"Breakpoint 1, __seamcall_ret \(\) at .*frame\.h:\d+", out), out
    assert re.search(r"Breakpoint 2(\.\d)?, __seamcall_ret \(\) at .*tdxcall\.S:\d+\n\d+\s+seamcall",
                     out), out
    # One stepi from the SEAMCALL: the #GP was delivered through __ex_table to the fixup, with
    # RAX = X86_TRAP_GP as EX_TYPE_FAULT leaves it.
    after = out.split("seamcall", 2)[-1]
    assert re.search(r"tdxcall\.S:\d+|^\d+\s+movq\s+\$TDX_SW_ERROR", after, re.M), out
    assert re.search(r"rax\s+0xd\s+13", out), out
    assert "exited normally" in out
    result = json.loads(s.out)
    assert s.code == 0 and (result["outcome"], result["rax"]) == ("#GP", "0x8000ff000000000d")
    assert result["fault"]["handled_by"] == "extable"


@needs_gdb
def test_a_stepi_over_seamcall_lands_in_the_guest_idt_handler(elf):
    session = Session([IDT_UD])
    session.set_state(vmx=False)
    out, r = debug_call(session, elf(IDT_UD), ["break ud_site", "continue", "stepi",
                                               "x/3gx $rsp", "continue"],
                        entry="ud_via_idt", convention="raw")
    assert "Breakpoint 1, ud_site ()" in out
    assert re.search(r"ud_handler \(\) at .*idt_ud\.S:\d+", out), out
    # The frame the CPU pushed for #UD: RIP of the SEAMCALL, then __KERNEL_CS.
    site = session.image.symbols["ud_site"]
    assert re.search(rf":\s+0x0*{site:x}\s+0x0*10\n", out), out
    assert "exited normally" in out
    assert (r.outcome, r.rax, r.fault.handled_by) == ("#UD", 0x600D, "idt")


@needs_gdb
def test_registers_gdb_writes_are_the_ones_the_call_uses(elf):
    # A 0.5 s time bound, and gdb holds the CPU for minutes by the run's clock: the time
    # stopped in the debugger does not count against the bound.
    session = Session(bounds=Bounds(timeout_s=0.5))
    clock = StoppedClock()
    session.machine.lps[0].clock = clock
    out, r = debug_call(session, elf(SEAMCALL), ["break __seamcall_ret", "continue",
                                                 "set var $rdi = 0x22", "continue"],
                        stub=MinutePerPacket(clock), entry="__seamcall_ret", leaf=0x21)
    assert clock.now > 600
    assert "exited normally" in out
    assert r.outcome == "returned" and [c.leaf_name for c in r.calls] == ["TDH.SYS.RD"]


@needs_gdb
def test_an_unhandled_fault_stops_with_its_signal_and_kill_ends_the_run(elf, tmp_path):
    bare = tmp_path / "bare.S"
    bare.write_text(".text\n.globl bare\nbare:\n\tseamcall\n\tret\n")
    session = Session([bare])
    session.set_state(vmx=False)
    out, r = debug_call(session, elf(bare), ["continue", "info registers rip", "continue"],
                        entry="bare", convention="raw")
    assert "Program received signal SIGILL" in out and "bare () at" in out
    assert "Program terminated with signal SIGILL" in out
    assert r.outcome == "#UD" and r.fault.handled_by is None
    out, r = debug_call(Session([bare]), elf(bare), ["stepi", "kill"], entry="bare",
                        convention="raw")
    assert "killed" in out
    assert (r.outcome, r.bound.kind) == ("bound", "debugger")
    assert r.bound.rip == Session([bare]).image.symbols["bare"]


@needs_gdb
def test_watchpoints_stop_after_the_access_and_a_fifth_is_refused(elf):
    """`rwatch`/`watch` on the args struct's RDX: gdb stops after the load that reads it and
    after the store of the module's output (old and new value), as the CPU's debug registers
    report data breakpoints; a fifth watchpoint finds no debug register, gdb says so, and
    the run goes on once it is deleted."""
    tdxcall = REPO / "asm" / "tdxcall.S"
    rdx = 0x0A00000300000008        # TDH.SYS.RD's field ID: the module answers RDX = -1
    out, r = debug_call(Session(), elf(SEAMCALL), [
        "break __seamcall_ret", "continue",
        "rwatch -l *(long *)($rsi + 8)", "watch -l *(long *)($rsi + 8)",
        "watch -l *(long *)($rsi + 24)", "watch -l *(long *)($rsi + 32)",
        "watch -l *(long *)($rsi + 40)", "continue",
        "delete 6", "continue", "continue", "continue"],
        entry="__seamcall_ret", leaf=0x22, inputs={"rdx": rdx})
    assert "Could not insert hardware watchpoint 6" in out, out
    read_hit, write_hit = out.split("Hardware read watchpoint 2: ")[2], \
        out.split("Hardware watchpoint 3: ")[2]
    # Reported at the instruction after the access: the next load, the next store.
    after_load = _line_of(tdxcall, "movq\tTDX_MODULE_r8(%rsi),  %r8")
    assert re.match(rf"[^\n]*\n\nValue = {rdx}\n[^\n]*tdxcall\.S:{after_load}\n", read_hit), out
    after_store = _line_of(tdxcall, "movq\t%r8,  TDX_MODULE_r8(%rsi)")
    assert re.match(rf"[^\n]*\n\nOld value = {rdx}\nNew value = -1\n[^\n]*tdxcall\.S:{after_store}\n",
                    write_hit), out
    assert "exited normally" in out
    assert r.outcome == "returned" and r.out is not None and r.out["rdx"] == (1 << 64) - 1


@needs_gdb
def test_trace_and_explain_take_gdb_too(elf):
    s = Debugged(["trace", "--cpl", "3", "--after", "TDH.SYS.INIT", "--json"], elf(SEAMCALL),
                 ["break __seamcall_ret", "continue", "continue"])
    assert "Breakpoint 1, __seamcall_ret ()" in s.gdb and "exited normally" in s.gdb
    trace = json.loads(s.out)
    # The traced call is the one gdb saw, and the launch pad is not part of it.
    assert s.code == 0 and trace["steps"][0]["symbol"] == "__seamcall_ret"


def test_without_gdb_the_wait_ends_in_a_one_line_error(capsys):
    began = time.monotonic()
    code = main(["run", "--gdb", "127.0.0.1:0", "--gdb-timeout", "0.5"])
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - began < 20
    assert "no debugger attached within 0.5 s" in err.splitlines()[-1]


@pytest.mark.parametrize("value, message", [("1234", "expected HOST:PORT"),
                                             ("host:port", "expected HOST:PORT"),
                                             ("256.1.1.1:1", "cannot listen")])
def test_bad_gdb_addresses_are_one_line_errors(capsys, value, message):
    assert main(["run", "--gdb", value]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
