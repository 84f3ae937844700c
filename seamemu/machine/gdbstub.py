# SPDX-License-Identifier: MIT
"""A gdb server for one call: breakpoints, single steps, registers and memory over RSP.

`GdbStub(host, port)` listens at once; `Machine.call` hands it the logical processor of the
next call (`attach`) and starts that call at a launch pad that jumps to the entry, so gdb
attaches before the call as it attaches to a program before main, and a breakpoint on the
entry symbol then hits.  A UC_HOOK_CODE on that LP waits for gdb at the pad; from then on
each instruction's hook checks for a breakpoint, a pending single step or a Ctrl-C, and
while stopped the hook serves gdb's packets.  Everything the machine does between
instructions stays as it is, so a `stepi` over a SEAMCALL that faults
lands where the fault is delivered: the exception-table fixup or the IDT handler (faults.py
delivers them, Unicorn ignores a guest IDT).  When the call ends, `finish` tells gdb: exit
status 0 when the entry returned; a stop with the fault's signal (#UD SIGILL, #GP and #PF
SIGSEGV, ...) for an unhandled fault or SIGXCPU at a bound, then termination on resume.

Why not udbserver (PyPI 0.3.0, a GDB stub for Unicorn): it listens on 0.0.0.0 on a port only,
waits for gdb without a timeout, keeps one global session per process, and cannot tell gdb
that the run ended (gdb sees "Remote connection closed" when the process exits).  seamemu
needs HOST:PORT, bounded waits, the end-of-call report and its own time bound paused while
gdb holds the CPU.

Never hangs: waiting for gdb to attach and for each packet while stopped is bounded by
`timeout`; past it (or when gdb detaches or disconnects) the call runs on undebugged.
Watchpoints (`Z2` write, `Z3` read, `Z4` access) are data breakpoints as the CPU's debug
registers make them: at most four (DR0-DR3), each 1, 2, 4 or 8 bytes aligned to its length,
reported trap-like after the instruction that touched the range (`T05watch:ADDR;`, `rwatch`,
`awatch`), by a Unicorn memory hook on that range only; a fifth, or a range no debug register
can cover, is refused with an error packet and gdb says so (or, told the limit with
`set remote hardware-watchpoint-limit 4`, watches in software instead).

Spec: GDB manual Appendix E (packets, stop replies `T`/`W`/`X` and the watch/rwatch/awatch
stop reasons, `vCont`, `Z0`..`Z4`); SDM Vol. 3B §18.2 (four address breakpoint registers;
LENn of 1, 2, 4 or 8 bytes, the address aligned to the length; data breakpoints are traps,
reported after the access);
signal numbers from gdb's include/gdb/signals.def; which signal each exception raises as
Linux arch/x86/kernel/traps.c sends it.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE
from unicorn import x86_const as X

from seamemu.errors import EngineError, InputError
from seamemu.machine import gdbregs
from seamemu.machine.rsp import Connection, Disconnected, Silent, escape, unescape

if TYPE_CHECKING:
    from seamemu.machine.lp import LogicalProcessor
    from seamemu.machine.machine import Machine

DEFAULT_TIMEOUT = 300.0
POLL_EVERY = 4096            # instructions between checks for gdb's Ctrl-C while running
SIGINT, SIGILL, SIGTRAP, SIGFPE, SIGKILL, SIGBUS, SIGSEGV, SIGXCPU = 2, 4, 5, 8, 9, 10, 11, 24
# Exception vector -> the signal gdb shows. Spec: Linux arch/x86/kernel/traps.c.
VECTOR_SIGNALS: dict[int, int] = {
    0: SIGFPE, 1: SIGTRAP, 3: SIGTRAP, 4: SIGSEGV, 5: SIGSEGV, 6: SIGILL, 10: SIGSEGV,
    11: SIGBUS, 12: SIGBUS, 13: SIGSEGV, 14: SIGSEGV, 16: SIGFPE, 17: SIGBUS, 19: SIGFPE,
}


MAX_WATCHPOINTS = 4          # DR0-DR3
WATCH_LENGTHS = (1, 2, 4, 8)  # DR7 LENn
# Z type -> (stop reason, Unicorn hooks).  Spec: GDB manual E.2 "Z2/Z3/Z4".
WATCH_TYPES: dict[str, tuple[str, int]] = {
    "2": ("watch", UC_HOOK_MEM_WRITE),
    "3": ("rwatch", UC_HOOK_MEM_READ),
    "4": ("awatch", UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE),
}
_WIDEST_ACCESS = 64           # bytes one access may span (a ZMM register): hooks start lower


class KilledByDebugger(Exception):
    """gdb sent `k`: the LP stops the run (reported as a bound of kind "debugger")."""


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (port 0: any free port); InputError naming the option otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise InputError(f"--gdb {text!r}: expected HOST:PORT, e.g. 127.0.0.1:1234")
    return host or "127.0.0.1", int(port)


class GdbStub:
    """Serves one call to gdb; see the module docstring."""

    def __init__(self, host: str, port: int, timeout: float = DEFAULT_TIMEOUT,
                 log: Callable[[str], None] | None = None) -> None:
        if timeout <= 0:
            raise InputError(f"--gdb-timeout {timeout}: must be positive")
        self.timeout = timeout
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            family, _, _, _, sockaddr = infos[0]
            self._listener = socket.socket(family, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(sockaddr)
            self._listener.listen(1)
        except OSError as exc:
            raise InputError(f"--gdb {host}:{port}: cannot listen: {exc.strerror or exc}") from None
        self.host, self.port = self._listener.getsockname()[:2]
        self.conn: Connection | None = None
        self.breakpoints: set[int] = set()
        self.watchpoints: dict[tuple[str, int, int], Any] = {}   # (Z type, addr, len) -> hook
        self._watch_hit: tuple[str, int] | None = None     # (reason, address) to report
        self._lp: LogicalProcessor | None = None
        self._machine: Machine | None = None
        self._entry = 0
        self._hook = None
        self._mem_hook = None
        self._stepping = False
        self._stopped = True         # the target waits for gdb (until resumed)
        self._waiting = False        # gdb waits for a stop reply
        self._attached = False       # the first instruction was reached
        self._count = 0
        self._active = True          # False once detached, disconnected or done

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def lp(self) -> LogicalProcessor:
        assert self._lp is not None, "attach() first"
        return self._lp

    @property
    def link(self) -> Connection:
        assert self.conn is not None, "no debugger connected"
        return self.conn

    # -- the machine's side --------------------------------------------------------------------
    def attach(self, machine: Machine, lp: LogicalProcessor, entry: int) -> None:
        """Serve the call of `entry` about to run on `lp` (Machine.call does this once)."""
        self._machine, self._lp, self._entry = machine, lp, entry
        uc: Any = lp.uc
        self._hook = uc.hook_add(UC_HOOK_CODE, self._on_code)
        # Unicorn emits the memory-hook calls of an access when it translates the code, and
        # only if some memory hook exists then: this one (on the last byte of the address
        # space, never touched) makes every translation carry them, so a watchpoint gdb sets
        # while stopped in the middle of a translated block sees that block's accesses too.
        self._mem_hook = uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, _no_access, None,
                                     (1 << 64) - 1, (1 << 64) - 1)
        uc.ctl_flush_tb()            # code translated before the hooks existed would skip them

    def finish(self, outcome: str, bound: str | None, fault) -> None:
        """The call ended: tell gdb how, and close."""
        if self._hook is not None and self._lp is not None:
            uc: Any = self._lp.uc
            uc.hook_del(self._hook)
            for handle in [*self.watchpoints.values(), self._mem_hook]:
                uc.hook_del(handle)
            self.watchpoints.clear()
            uc.ctl_flush_tb()
            self._hook = None
        try:
            if self._active and self.conn is not None and self._attached:
                if outcome in ("returned", "vmexit"):
                    self._reply_when_waiting("W00")
                elif bound == "debugger":
                    pass                          # gdb killed it: nothing left to say
                else:
                    sig = SIGXCPU if outcome == "bound" else VECTOR_SIGNALS.get(
                        getattr(fault, "vector", -1), SIGSEGV)
                    self._stop_and_serve(sig)     # let the user look at the fault
                    self._reply_when_waiting(f"X{sig:02x}")
            elif not self._attached and self._active:
                self.log(f"seamemu: the call ended before gdb attached to {self.address}")
        except (Disconnected, Silent):
            pass
        finally:
            self.close()

    def close(self) -> None:
        self._active = False
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        try:
            self._listener.close()
        except OSError:
            pass

    # -- the hook ------------------------------------------------------------------------------
    def _on_code(self, uc, address: int, size: int, _user) -> None:
        if not self._active:
            return
        try:
            if not self._attached:
                self._attached = True
                self._accept()
                self._serve()
                return
            self._count += 1
            hit = address in self.breakpoints
            if self._watch_hit is not None:     # the accessing instruction has completed
                watched, self._watch_hit = self._watch_hit, None
                self._stop_and_serve(SIGTRAP, watch=watched)
            elif self._stepping or hit:
                self._stop_and_serve(SIGTRAP, swbreak=hit and not self._stepping)
            elif self._count % POLL_EVERY == 0 and self.conn is not None and self.conn.poll_interrupt():
                self._stop_and_serve(SIGINT)
        except KilledByDebugger:
            self._active = False
            self.lp._stop(("debugger",))      # the run ends as a bound of kind "debugger"
        except (Disconnected, Silent) as exc:
            self._let_go(exc)
        except BaseException as exc:  # stored, re-raised after emu_start (the LP's rule)
            self._active = False
            self.lp._fail(exc)

    def _accept(self) -> None:
        self.log(f"seamemu: waiting for gdb on {self.address} (target remote {self.address})")
        self._listener.settimeout(self.timeout)
        began = self.lp.clock()
        try:
            sock, peer = self._listener.accept()
        except (TimeoutError, OSError):
            raise EngineError(f"--gdb {self.address}: no debugger attached within "
                              f"{self.timeout:g} s") from None
        finally:
            self.lp.deadline += self.lp.clock() - began   # waiting is not running
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = Connection(sock, self.timeout)
        where = self._machine.symbolize(self._entry) if self._machine else f"{self._entry:#x}"
        self.log(f"seamemu: gdb attached from {peer[0]}:{peer[1]}; stopped before the call to "
                 f"{where} (set breakpoints, then continue)")

    def _let_go(self, why: Exception) -> None:
        """gdb went silent or away: the call runs on without it."""
        what = "went silent" if isinstance(why, Silent) else "disconnected"
        self.log(f"seamemu: gdb {what}; the call runs on undebugged")
        self._active = False
        self._stepping = False
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _stop_and_serve(self, signal: int, swbreak: bool = False,
                        watch: tuple[str, int] | None = None) -> None:
        self._stepping = False
        self._reply_when_waiting(self._stop_reply(signal, swbreak, watch))
        self._serve()

    def _reply_when_waiting(self, payload: str) -> None:
        if self._waiting and self.conn is not None:
            self._waiting = False
            self.link.send(payload)

    def _stop_reply(self, signal: int, swbreak: bool = False,
                    watch: tuple[str, int] | None = None) -> str:
        lp = self.lp
        rip = lp.uc.reg_read(X.UC_X86_REG_RIP)
        reason = f"{watch[0]}:{watch[1]:x};" if watch else "swbreak:;" if swbreak else ""
        return (f"T{signal:02x}{gdbregs.BY_NAME['rip']:02x}:{rip.to_bytes(8, 'little').hex()};"
                f"thread:{lp.index + 1:x};{reason}")

    def _serve(self) -> None:
        """Answer packets until gdb resumes the target; the time bound waits meanwhile."""
        assert self.conn is not None
        began = self.lp.clock()
        self._stopped = True
        try:
            while self._stopped and self._active:
                packet = self.conn.receive()
                try:
                    reply = self._handle(packet.decode("latin-1"), packet)
                except (ValueError, IndexError):
                    reply = "E01"                   # a packet we could not parse
                if reply is not None:
                    self.link.send(reply)
        finally:
            self.lp.deadline += self.lp.clock() - began

    # -- packets -------------------------------------------------------------------------------
    def _handle(self, text: str, raw: bytes) -> str | None:
        """The reply to one packet, or None when the reply is a later stop reply."""
        uc = self.lp.uc
        head = text[:1]
        if text == "?":
            return self._stop_reply(SIGTRAP)
        if head and head in "cCsS":
            self._resume(step=head in "sS")
            return None
        if text.startswith("vCont"):
            return self._vcont(text)
        if head == "g":
            return gdbregs.read_all(uc).hex()
        if head == "G":
            gdbregs.write_all(uc, bytes.fromhex(text[1:]))
            return "OK"
        if head == "p":
            index = int(text[1:], 16)
            return gdbregs.read(uc, index).hex() if index < len(gdbregs.REGISTERS) else "E00"
        if head == "P":
            num, _, value = text[1:].partition("=")
            index = int(num, 16)
            ok = index < len(gdbregs.REGISTERS) and gdbregs.write(uc, index, bytes.fromhex(value))
            return "OK" if ok else "E01"
        if head == "m":
            return self._read_memory(text[1:])
        if head == "M":
            where, _, data = text[1:].partition(":")
            return self._write_memory(where, bytes.fromhex(data))
        if head == "X":
            where, _, _ = text[1:].partition(":")
            return self._write_memory(where, _binary_payload(raw))
        if head in "Zz" and text[1:3] in ("0,", "1,"):       # software and hardware breakpoints
            address = int(text.split(",")[1], 16)
            (self.breakpoints.add if head == "Z" else self.breakpoints.discard)(address)
            return "OK"
        if head in "Zz" and text[1:2] in WATCH_TYPES and text[2:3] == ",":
            kind, address, length = text[1], *(int(f, 16) for f in text[3:].split(";")[0].split(","))
            return self._watch(kind, address, length) if head == "Z" else \
                self._unwatch(kind, address, length)
        if head == "k" or text.startswith("vKill"):
            if head == "v":
                self.link.send("OK")                # vKill is answered, `k` is not
            raise KilledByDebugger()
        if head == "D":
            self.link.send("OK")
            self._active = False
            self._stopped = False
            return None
        if text == "QStartNoAckMode":               # acknowledged once more, then never
            self.link.send("OK")
            self.link.ack = False
            return None
        return self._query(text)

    def _query(self, text: str) -> str:
        if text.startswith("qSupported"):
            return "PacketSize=4000;qXfer:features:read+;swbreak+;hwbreak+;vContSupported+"
        if text.startswith("qXfer:features:read:target.xml:"):
            offset, _, length = text.rsplit(":", 1)[1].partition(",")
            xml = gdbregs.target_xml().encode()
            chunk = xml[int(offset, 16):int(offset, 16) + int(length, 16)]
            more = int(offset, 16) + len(chunk) < len(xml)
            return ("m" if more else "l") + escape(chunk).decode("latin-1")
        if text == "qAttached":
            return "1"
        if text == "qC":
            return f"QC{self.lp.index + 1:x}"
        if text == "qfThreadInfo":
            return f"m{self.lp.index + 1:x}"
        if text == "qsThreadInfo":
            return "l"
        if text.startswith("qThreadExtraInfo"):
            return f"logical processor {self.lp.index}".encode().hex()
        if text.startswith(("H", "T", "qSymbol")):
            return "OK"
        return ""                                   # not supported: the empty reply

    def _vcont(self, text: str) -> str | None:
        if text == "vCont?":
            return "vCont;c;C;s;S"
        actions = text[len("vCont;"):].split(";")
        step = any(a[:1] in "sS" and a for a in actions)
        self._resume(step=step)
        return None

    def _resume(self, step: bool) -> None:
        self._stepping = step
        self._stopped = False
        self._waiting = True

    # -- watchpoints ---------------------------------------------------------------------------
    def _watch(self, kind: str, address: int, length: int) -> str:
        """Z2/Z3/Z4: a data breakpoint as a debug register holds one, or an error packet."""
        key = (kind, address, length)
        if key in self.watchpoints:
            return "OK"
        if length not in WATCH_LENGTHS or address % length:
            return "E16"                        # EINVAL: no DR7 LEN covers it
        if len(self.watchpoints) >= MAX_WATCHPOINTS:
            return "E1c"                        # ENOSPC: DR0-DR3 are taken
        reason, hooks = WATCH_TYPES[kind]
        end = address + length

        def on_access(uc, access, at: int, size: int, value: int, _user) -> None:
            if at < end and address < at + size and self._watch_hit is None:
                self._watch_hit = (reason, address)
        uc: Any = self.lp.uc
        self.watchpoints[key] = uc.hook_add(hooks, on_access, None,
                                            max(address - _WIDEST_ACCESS + 1, 0), end - 1)
        return "OK"

    def _unwatch(self, kind: str, address: int, length: int) -> str:
        handle = self.watchpoints.pop((kind, address, length), None)
        if handle is not None:
            uc: Any = self.lp.uc
            uc.hook_del(handle)
        return "OK"

    def _read_memory(self, spec: str) -> str:
        addr_text, _, length_text = spec.partition(",")
        addr, length = int(addr_text, 16), min(int(length_text, 16), 0x2000)
        try:
            data = bytearray(self.lp.memory.read(addr, length))
        except InputError:
            return "E14"                            # EFAULT: not present memory
        for site, original in self.lp.code_patches.items():   # show the image's own bytes
            for i, b in enumerate(original):
                if 0 <= site + i - addr < len(data):
                    data[site + i - addr] = b
        return data.hex()

    def _lps(self) -> list[LogicalProcessor]:
        return self._machine.lps if self._machine is not None else [self.lp]

    def _write_memory(self, spec: str, data: bytes) -> str:
        addr = int(spec.split(",")[0], 16)
        try:
            self.lp.memory.write(addr, data)
        except InputError:
            return "E14"
        for lp in self._lps():                # written code must be retranslated
            lp.uc.ctl_remove_cache(addr, addr + max(len(data), 1))
        return "OK"


def _no_access(uc, access, address, size, value, user) -> None:
    """The memory hook that is there only to exist (see GdbStub.attach)."""


def _binary_payload(raw: bytes) -> bytes:
    return unescape(raw.split(b":", 1)[1]) if b":" in raw else b""


__all__ = ["DEFAULT_TIMEOUT", "GdbStub", "KilledByDebugger", "MAX_WATCHPOINTS", "VECTOR_SIGNALS",
           "WATCH_TYPES", "parse_address"]
