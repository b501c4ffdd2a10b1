"""MQTT plumbing shared by the simulators (the I/O edge)."""

from __future__ import annotations

import socket

import aiomqtt

from haixun.settings import Settings


def make_client(settings: Settings, identifier: str, *, will: aiomqtt.Will | None = None, keepalive: int = 30,
                max_inflight: int = 200) -> aiomqtt.Client:
    ep = settings.mqtt
    protocol = aiomqtt.ProtocolVersion.V5 if settings.mqtt_protocol == "5" else aiomqtt.ProtocolVersion.V311
    client = aiomqtt.Client(
        ep.host, ep.port, username=ep.username, password=ep.password, identifier=identifier,
        protocol=protocol, will=will, keepalive=keepalive, max_inflight_messages=max_inflight,
    )
    # Many publishes in flight is the point here: silence aiomqtt's "pending calls" warning.
    client.pending_calls_threshold = 1 << 30
    return client


def drop_connection(client: aiomqtt.Client) -> None:
    """Cut the TCP connection without an MQTT DISCONNECT, like a gateway losing power.

    The broker then publishes the client's last will. aiomqtt offers no public
    way to do this, so the underlying paho socket is shut down directly.
    """
    sock = client._client.socket()  # noqa: SLF001 - deliberate: simulate an unclean loss of the link
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
