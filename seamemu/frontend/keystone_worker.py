# SPDX-License-Identifier: MIT
"""keystone in a child process: the only place seamemu imports keystone.

keystone 0.9.2 can kill its host (`.text` segfaults) or spin forever (`\\@` labels), so it
runs in a persistent worker that answers one JSON line per instruction.  The parent knows
which item was in flight when the worker died or stopped answering, and restarts it on the
next request.  Run as a script, this file is the worker; imported, it is the client.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

# Seconds without an answer before the worker counts as hung (an instruction takes ~50 us).
ITEM_TIMEOUT = 10.0
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Encoded:
    data: bytes


@dataclass(frozen=True)
class Refused:
    """keystone answered with an error (or with nothing): `message` says which."""

    message: str
    errno: int = 0


class WorkerDied(Exception):
    """The worker crashed or hung on item `index` of the batch."""

    def __init__(self, index: int, reason: str):
        super().__init__(reason)
        self.index = index
        self.reason = reason


class KeystoneWorker:
    """A persistent keystone subprocess; encode() is thread-safe."""

    def __init__(self, timeout: float | None = None):
        self.timeout = timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._buf = b""
        self._lock = threading.Lock()
        self._owner = os.getpid()
        # This keystone's answer to each instruction text the layout sent it (the text never
        # depends on the address: branches and RIP-relative displacements are resolved
        # before keystone sees them), so a text is asked once per worker.
        self.answers: dict[str, Encoded | Refused] = {}

    # -- process management ------------------------------------------------------------------
    def _start(self) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the child)
        boot = ("import sys, runpy; sys.path.pop(0); "
                f"runpy.run_path({os.path.abspath(__file__)!r}, run_name='__main__')")
        self._proc = subprocess.Popen(
            [sys.executable, "-c", boot], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, close_fds=True)
        self._buf = b""
        hello = self._read_line(START_TIMEOUT)
        if hello is None or json.loads(hello).get("ready") is not True:
            detail = self._stderr_tail()
            self.close()
            raise WorkerDied(0, f"the keystone worker did not start{': ' + detail if detail else ''}")

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace")
        except OSError:
            return ""
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        return " | ".join(lines[-3:])

    def _read_line(self, timeout: float) -> bytes | None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None  # EOF: the worker died
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    # -- requests ----------------------------------------------------------------------------
    def encode(self, items: Sequence[tuple[str, int]]) -> list[Encoded | Refused]:
        """Assemble each (text, address) alone; WorkerDied names the item that killed it."""
        if not items:
            return []
        with self._lock:
            if self._owner != os.getpid():
                # A forked child must not share its parent's pipes: leave that worker to the
                # parent and start our own.
                self._proc, self._stderr, self._buf = None, None, b""
                self._owner = os.getpid()
            if self._proc is None or self._proc.poll() is not None:
                self.close()
                self._start()
            assert self._proc is not None and self._proc.stdin is not None
            timeout = self.timeout if self.timeout is not None else ITEM_TIMEOUT
            request = json.dumps({"items": [[t, a] for t, a in items]}) + "\n"
            try:
                self._proc.stdin.write(request.encode())
                self._proc.stdin.flush()
            except OSError:
                return self._died(0, timeout)
            out: list[Encoded | Refused] = []
            while len(out) < len(items):
                line = self._read_line(timeout)
                if line is None:
                    return self._died(len(out), timeout)
                msg = json.loads(line)
                if "hex" in msg:
                    out.append(Encoded(bytes.fromhex(msg["hex"])))
                else:
                    out.append(Refused(msg.get("err", "keystone gave no encoding"), msg.get("errno", 0)))
            return out

    def _died(self, index: int, timeout: float) -> list[Encoded | Refused]:
        proc = self._proc
        assert proc is not None
        try:
            code = proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            code = None
        detail = self._stderr_tail()
        if code is None:
            reason = f"keystone hung (no answer within {timeout:g} s)"
        elif code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            reason = f"keystone crashed ({name})"
        else:
            reason = f"the keystone worker exited with status {code}"
        if detail:
            reason += f"; it said: {detail}"
        self.close()
        raise WorkerDied(index, reason)


_shared: KeystoneWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> KeystoneWorker:
    """The process-wide worker, started on first use and closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = KeystoneWorker()
            atexit.register(_shared.close)
        return _shared


# -- the worker side ---------------------------------------------------------------------------
def _die_with_parent() -> None:
    """Linux: have the kernel kill this worker if the parent dies while keystone spins."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main() -> None:
    _die_with_parent()
    # Imported here only: the parent process never loads keystone.
    from keystone import KS_ARCH_X86, KS_MODE_64, KS_OPT_SYNTAX_ATT, Ks, KsError

    ks = Ks(KS_ARCH_X86, KS_MODE_64)
    # Any option call flips keystone to radix 16 (#569/#571); the client only sends hex.
    ks.syntax = KS_OPT_SYNTAX_ATT
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        for text, address in request["items"]:
            try:
                enc, _count = ks.asm(text, address)
                if not enc:
                    reply = {"err": "keystone returned no bytes and no error"}
                else:
                    reply = {"hex": bytes(enc).hex()}
            except KsError as exc:
                reply = {"err": str(exc), "errno": exc.errno}
            out.write(json.dumps(reply) + "\n")
            out.flush()


if __name__ == "__main__":
    _worker_main()


__all__ = ["Encoded", "KeystoneWorker", "Refused", "WorkerDied", "shared_worker"]
