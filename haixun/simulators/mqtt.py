"""MQTT plumbing shared by the simulators (the I/O edge)."""

from __future__ import annotations

import socket

import aiomqtt

from haixun.mqttauth import client_args
from haixun.settings import Settings


def make_client(settings: Settings, identifier: str, *, will: aiomqtt.Will | None = None, keepalive: int = 30,
                max_inflight: int = 200, gateway_id: str | None = None) -> aiomqtt.Client:
    """A client; ``gateway_id``: connect as that gateway's broker user (haixun/mqttauth.py)."""
    protocol = aiomqtt.ProtocolVersion.V5 if settings.mqtt_protocol == "5" else aiomqtt.ProtocolVersion.V311
    client = aiomqtt.Client(
        **client_args(settings, user=gateway_id), identifier=identifier,
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
