# SPDX-License-Identifier: MIT
"""The remote serial protocol's framing (machine/rsp.py) and the gdb server's behaviour with a
debugger that goes quiet or interrupts, driven by a raw client (no gdb binary needed)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from seamemu.machine.gdbstub import GdbStub
from seamemu.machine.rsp import Connection, Silent, checksum, escape, unescape
from seamemu.session import Session


def test_framing_checksums_and_escapes():
    assert checksum(b"OK") == b"9a"
    assert checksum(b"") == b"00"
    data = bytes(range(256))
    assert unescape(escape(data)) == data
    assert b"#" not in escape(b"a#b$c}d*") and escape(b"}") == b"}]"


def test_a_connection_acks_packets_notices_interrupts_and_times_out():
    a, b = socket.socketpair()
    conn = Connection(a, timeout=0.5)
    b.sendall(b"$qC#b4")
    assert conn.receive() == b"qC" and b.recv(1) == b"+"
    b.sendall(b"$qC#00$?#3f")                     # a bad checksum is refused, then resent
    assert conn.receive() == b"?" and b.recv(2) == b"-+"
    b.sendall(b"\x03")
    assert conn.poll_interrupt() and not conn.poll_interrupt()
    began = time.monotonic()
    with pytest.raises(Silent):
        conn.receive()
    assert time.monotonic() - began < 5
    a.close()
    b.close()


class RawClient:
    """A minimal debugger speaking RSP by hand."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.conn = Connection(self.sock, timeout=30)

    def ask(self, packet: str) -> str:
        self.conn.send(packet)
        return self.conn.receive().decode()


def _serve(session, stub, **call):
    done: dict = {}
    session.machine.debug_next_call(stub)
    thread = threading.Thread(target=lambda: done.update(r=session.call(**call)), daemon=True)
    thread.start()
    return thread, done


def test_a_debugger_that_goes_quiet_is_let_go_and_the_call_completes():
    log: list[str] = []
    stub = GdbStub("127.0.0.1", 0, timeout=0.5, log=log.append)
    thread, done = _serve(Session(), stub, entry="__seamcall_ret", leaf=0x21)
    client = RawClient(stub.port)
    assert client.ask("?").startswith("T05")
    thread.join(30)                              # ... and then the client says nothing
    assert not thread.is_alive()
    assert done["r"].outcome == "returned" and any("went silent" in x for x in log)
    client.sock.close()


def test_ctrl_c_stops_a_running_call(tmp_path):
    spin = tmp_path / "spin.S"
    spin.write_text(".text\n.globl spin\nspin:\n\tjmp spin\n")
    stub = GdbStub("127.0.0.1", 0, timeout=30, log=lambda text: None)
    session = Session([spin])
    thread, done = _serve(session, stub, entry="spin", convention="raw")
    client = RawClient(stub.port)
    client.ask("?")
    client.conn.send("c")
    client.sock.sendall(b"\x03")
    stop = client.conn.receive().decode()
    assert stop.startswith("T02")                # SIGINT, at the loop
    rip = int.from_bytes(bytes.fromhex(stop.split(":")[1].split(";")[0]), "little")
    assert rip == session.image.symbols["spin"]
    client.conn.send("k")
    thread.join(30)
    assert not thread.is_alive() and done["r"].bound.kind == "debugger"
    client.sock.close()
