# SPDX-License-Identifier: MIT
"""Runs bad-input cases against `seamemu`, each bounded in time and memory.

The parent side (`run_cases`) starts a worker process and feeds it one case at a time; the
worker (this file run as a script) calls seamemu.cli.main in-process, with file descriptors 1
and 2 captured (so output from child processes is caught too), and answers with the exit
code, the output and its time.  The parent watches the worker's whole process tree: a case
that does not answer within its time limit, or pushes the tree's resident memory over the
limit, is killed and recorded as a failure, and a fresh worker takes the remaining cases.  A
case marked `subprocess` runs as its own `python -m seamemu` process (for signals and the
real entry point).  In-process calls keep the corpus fast: one interpreter start per worker,
not per case.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MEM_LIMIT = 600 << 20        # resident bytes of a worker's whole process tree
RECYCLE = 400 << 20          # a worker that kept this much after a case is replaced (the
                             # memory a case frees is not always returned to the system)
POLL = 0.05
START_LIMIT = 120.0      # seconds an interrupted case may take to reach its interrupt


@dataclass
class Outcome:
    id: str
    code: object = None            # exit status, or "hang" / "memory" / "died"
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    peak_rss: int = 0              # the process tree's largest resident size seen (bytes)
    notes: list[str] = field(default_factory=list)


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def tree_rss(pid: int) -> int:
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            pass
    return total


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


class _Worker:
    def __init__(self, cwd: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", COLUMNS="100")
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self.buf = b""

    def ask(self, case: dict, limit: float) -> Outcome:
        out = Outcome(case["id"])
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(case) + "\n").encode())
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        t0 = time.monotonic()
        while b"\n" not in self.buf:
            elapsed = time.monotonic() - t0
            out.peak_rss = max(out.peak_rss, tree_rss(self.proc.pid))
            if out.peak_rss > MEM_LIMIT:
                out.code, out.seconds = "memory", elapsed
                return out
            if elapsed > limit:
                out.code, out.seconds = "hang", elapsed
                return out
            ready, _, _ = select.select([fd], [], [], POLL)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    out.code, out.seconds = "died", elapsed
                    return out
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        answer = json.loads(line)
        out.code, out.stdout, out.stderr = answer["code"], answer["stdout"], answer["stderr"]
        out.seconds = answer["seconds"]
        return out

    def close(self) -> None:
        _kill(self.proc)


def _run_subprocess(case: dict, cwd: Path, limit: float) -> Outcome:
    """A case as its own `python -m seamemu` process; `interrupt_when` (a glob in `cwd`) sends
    it SIGINT once a file matching it exists, as Ctrl-C in a terminal would.

    For such a case `limit` is how long the process may take to end after the interrupt (what
    the case is about: Ctrl-C stops the command), and its `seconds` count from the interrupt;
    getting there (an interpreter start, an assembly, a campaign's first runs, slower on a
    loaded machine) is only bounded by START_LIMIT."""
    out = Outcome(case["id"])
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "seamemu", *case["argv"]], cwd=cwd, env=env,
                            stdin=subprocess.PIPE if case.get("stdin") is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    if case.get("stdin") is not None:
        assert proc.stdin is not None
        proc.stdin.write(case["stdin"].encode())
        proc.stdin.close()
        proc.stdin = None
    when = case.get("interrupt_when")
    sent_at: float | None = None
    while proc.poll() is None:
        now = time.monotonic()
        elapsed = now - t0 if sent_at is None else now - sent_at
        bound = START_LIMIT if when is not None and sent_at is None else limit
        out.peak_rss = max(out.peak_rss, tree_rss(proc.pid))
        if out.peak_rss > MEM_LIMIT or elapsed > bound:
            _kill(proc)
            out.code = "memory" if out.peak_rss > MEM_LIMIT else "hang"
            if out.code == "hang" and when is not None:
                out.notes.append("after the interrupt" if sent_at is not None
                                 else f"before {when} appeared")
            out.seconds = elapsed
            return out
        if when is not None and sent_at is None and any(cwd.glob(when)):
            os.killpg(proc.pid, signal.SIGINT)   # as a terminal's Ctrl-C reaches the whole job
            sent_at = time.monotonic()
        time.sleep(POLL)
    stdout, stderr = proc.communicate()
    out.code = proc.returncode
    out.stdout, out.stderr = stdout.decode(errors="replace"), stderr.decode(errors="replace")
    out.seconds = time.monotonic() - (t0 if sent_at is None else sent_at)
    if when is not None and sent_at is None:
        out.notes.append(f"ended before {when} appeared: never interrupted")
    return out


def run_cases(cases: list[dict], cwd: Path) -> list[Outcome]:
    """Every case, in order, each under its `limit` seconds and MEM_LIMIT bytes."""
    results: list[Outcome] = []
    worker: _Worker | None = None
    try:
        for case in cases:
            limit = case.get("limit", 10.0)
            if case.get("subprocess"):
                results.append(_run_subprocess(case, cwd, limit))
                continue
            if worker is None:
                worker = _Worker(cwd)
            outcome = worker.ask(case, limit)
            results.append(outcome)
            if outcome.code in ("hang", "memory", "died") or tree_rss(worker.proc.pid) > RECYCLE:
                worker.close()
                worker = None
    finally:
        if worker is not None:
            worker.close()
    return results


# -- the worker side ------------------------------------------------------------------------------
def _serve() -> None:
    import tempfile

    from seamemu.cli import main

    channel = os.fdopen(os.dup(1), "w")
    home = os.getcwd()
    for line in sys.stdin:
        case = json.loads(line)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            sys.stdout.flush()
            sys.stderr.flush()
            saved = os.dup(1), os.dup(2)
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            t0 = time.monotonic()
            try:
                code: object = main(case["argv"])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
            except BaseException:  # what a user would see: the traceback, on stderr
                import traceback

                traceback.print_exc()
                code = "exception"
            finally:
                seconds = time.monotonic() - t0
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
                os.chdir(home)
            out.seek(0)
            err.seek(0)
            answer = {"code": code, "seconds": seconds,
                      "stdout": out.read(1 << 16).decode(errors="replace"),
                      "stderr": err.read(1 << 16).decode(errors="replace")}
        channel.write(json.dumps(answer) + "\n")
        channel.flush()


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    _serve()
