"""Is an MQTT broker answering at host:port, and does it speak MQTT 5?

A raw CONNECT / CONNACK / DISCONNECT exchange over a plain socket: no client
library, no event loop, a hard timeout. Used by the demo to decide whether to
start an embedded broker and which protocol the project's clients must use.
"""

from __future__ import annotations

import secrets
import socket
import struct
from typing import Literal

from haixun.settings import MqttEndpoint

Protocol = Literal["5", "3.1.1"]


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(protocol: Protocol, client_id: str, username: str | None = None,
                   password: str | None = None, keepalive: int = 10) -> bytes:
    level = 5 if protocol == "5" else 4
    flags = 0x02  # clean session / clean start
    if username is not None:
        flags |= 0x80
        if password is not None:
            flags |= 0x40
    variable = _utf8("MQTT") + bytes([level, flags]) + struct.pack("!H", keepalive)
    if protocol == "5":
        variable += b"\x00"  # no CONNECT properties
    payload = _utf8(client_id)
    if username is not None:
        payload += _utf8(username)
        if password is not None:
            payload += _utf8(password)
    body = variable + payload
    return b"\x10" + _remaining_length(len(body)) + body


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return buf


def probe(endpoint: MqttEndpoint, protocol: Protocol = "3.1.1", timeout_s: float = 2.0) -> bool:
    """True if a CONNECT with ``protocol`` is accepted (CONNACK return/reason code 0)."""
    client_id = f"haixun-probe-{secrets.token_hex(4)}"
    packet = connect_packet(protocol, client_id, endpoint.username, endpoint.password)
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(packet)
            head = _read_exact(sock, 2)
            if head[0] != 0x20:
                return False
            length = head[1]
            if length & 0x80:  # not expected for a CONNACK, but be safe
                return False
            body = _read_exact(sock, length)
            accepted = len(body) >= 2 and body[1] == 0
            if accepted:
                sock.sendall(b"\xe0\x00")  # DISCONNECT
            return accepted
    except (OSError, ConnectionError):
        return False


def reachable(endpoint: MqttEndpoint, timeout_s: float = 2.0) -> bool:
    """A broker accepts an MQTT 3.1.1 connection (every broker we use speaks it)."""
    return probe(endpoint, "3.1.1", timeout_s) or probe(endpoint, "5", timeout_s)


def best_protocol(endpoint: MqttEndpoint, timeout_s: float = 2.0) -> Protocol | None:
    """"5" if the broker accepts MQTT 5, "3.1.1" if only that, None if no broker answers."""
    if probe(endpoint, "5", timeout_s):
        return "5"
    if probe(endpoint, "3.1.1", timeout_s):
        return "3.1.1"
    return None
