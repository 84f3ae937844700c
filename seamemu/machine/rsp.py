# SPDX-License-Identifier: MIT
"""GDB's remote serial protocol on a TCP socket: framing, acknowledgement, interrupts, timeouts.

A packet is `$payload#cc` (cc: the sum of the payload bytes modulo 256, two hex digits); the
receiver answers `+` (or `-` to ask again) until no-ack mode is agreed; `}` escapes `#$}*`
(the byte XOR 0x20) in binary data; a lone 0x03 byte is an interrupt (Ctrl-C).  Every wait
has a deadline, so a silent or vanished debugger never hangs seamemu.
Spec: GDB manual, Appendix E "GDB Remote Serial Protocol": E.1 Overview, E.11 Interrupts,
E.12 Notification Packets; "QStartNoAckMode" in E.4 General Query Packets.
"""

from __future__ import annotations

import select
import socket
import time

INTERRUPT = b"\x03"


class Disconnected(Exception):
    """The debugger closed the connection (or it broke)."""


class Silent(Exception):
    """No packet arrived within the deadline."""


def checksum(payload: bytes) -> bytes:
    return b"%02x" % (sum(payload) & 0xFF)


def escape(data: bytes) -> bytes:
    """Binary data as a packet may carry it (the `}` escape)."""
    out = bytearray()
    for b in data:
        if b in b"#$}*":
            out += bytes([0x7D, b ^ 0x20])
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        out.append(next(it, 0) ^ 0x20 if b == 0x7D else b)
    return bytes(out)


class Connection:
    """One debugger's connection: packets in and out, each wait bounded by `timeout` seconds."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.ack = True
        self._buf = bytearray()
        self.interrupted = False   # a 0x03 arrived while waiting for a packet

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, payload: bytes | str) -> None:
        """Send one packet (waiting for its `+` while acks are on)."""
        data = payload.encode("latin-1") if isinstance(payload, str) else payload
        frame = b"$" + data + b"#" + checksum(data)
        for _ in range(3):
            self._write(frame)
            if not self.ack:
                return
            reply = self._byte(time.monotonic() + self.timeout)
            if reply == b"+":
                return
            if reply == INTERRUPT:
                self.interrupted = True
                return
        raise Disconnected("the debugger refused the packet three times")

    def receive(self, timeout: float | None = None) -> bytes:
        """The next packet's payload (acknowledged); Silent after `timeout` (default: ours)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            b = self._byte(deadline)
            if b == INTERRUPT:
                self.interrupted = True
                continue
            if b != b"$":
                continue                  # stray acks and noise between packets
            body = bytearray()
            while True:
                c = self._byte(deadline)
                if c == b"#":
                    break
                body += c
            cs = self._byte(deadline) + self._byte(deadline)
            if self.ack:
                if cs.lower() != checksum(bytes(body)):
                    self._write(b"-")
                    continue
                self._write(b"+")
            return bytes(body)

    def poll_interrupt(self) -> bool:
        """Has the debugger sent Ctrl-C (0x03) since the target was resumed?  Never blocks."""
        if self.interrupted:
            self.interrupted = False
            return True
        if not self._buf:
            try:
                ready, _, _ = select.select([self.sock], [], [], 0)
            except (OSError, ValueError):
                raise Disconnected("the connection broke") from None
            if not ready:
                return False
            self._fill()
        if INTERRUPT in self._buf:
            self._buf = self._buf.replace(INTERRUPT, b"", 1)
            return True
        return False

    # -- bytes ---------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data)
        except OSError:
            raise Disconnected("the connection broke") from None

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(4096)
        except TimeoutError:
            return
        except OSError:
            raise Disconnected("the connection broke") from None
        if not chunk:
            raise Disconnected("the debugger closed the connection")
        self._buf += chunk

    def _byte(self, deadline: float) -> bytes:
        while not self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Silent()
            self.sock.settimeout(left)
            self._fill()
        b = bytes(self._buf[:1])
        del self._buf[:1]
        return b


__all__ = ["Connection", "Disconnected", "INTERRUPT", "Silent", "checksum", "escape", "unescape"]
