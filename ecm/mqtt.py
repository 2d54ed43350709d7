"""MQTT topic names and client construction shared by ingest, sim_devices and the CLI.

The topic layout is the enterprise-facing contract of docs/contracts.md; change it there first.
"""
from __future__ import annotations

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

TOPIC_ROOT = "ecm/v1"
#: meter segment of a multi-meter gateway topic (batch items then carry "meter")
GATEWAY_SEGMENT = "gateway"
#: meter segment of the monthly statistics topic: ecm/v1/{E}/stats/monthly
STATS_SEGMENT = "stats"


def reading_topic(enterprise_id: str, meter_id: str) -> str:
    return f"{TOPIC_ROOT}/{enterprise_id}/{meter_id}/reading"


def status_topic(enterprise_id: str, meter_id: str = GATEWAY_SEGMENT) -> str:
    return f"{TOPIC_ROOT}/{enterprise_id}/{meter_id}/status"


def stats_topic(enterprise_id: str) -> str:
    return f"{TOPIC_ROOT}/{enterprise_id}/{STATS_SEGMENT}/monthly"


def parse_topic(topic: str) -> tuple[str, str, str] | None:
    """``ecm/v1/E/M/kind`` -> (E, M, kind); None when the topic is not of that shape."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != TOPIC_ROOT or not all(parts[2:]):
        return None
    return parts[2], parts[3], parts[4]


def gateway_client_id(username: str) -> str:
    """The only client id the broker accepts for an enterprise gateway principal (ecm/dynsec.py
    binds it): ``<E>-gw`` for the enterprise's first principal ``<E>``, and the username itself for
    an extra gateway principal ``<E>-<name>``. Every client id of enterprise E starts with ``E-``."""
    return username if "-" in username else f"{username}-gw"


def make_client(client_id: str, username: str, password: str, *, manual_ack: bool = False,
                will_topic: str | None = None, will_payload: str = "offline") -> mqtt.Client:
    """A paho 2.x MQTT v5 client with callback API version 2 and credentials set."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                    manual_ack=manual_ack)
    c.username_pw_set(username, password)
    if will_topic:
        c.will_set(will_topic, will_payload, qos=1, retain=True)
    return c


def connect_properties(session_expiry_s: int | None = None, receive_maximum: int | None = None) -> Properties:
    p = Properties(PacketTypes.CONNECT)
    if session_expiry_s is not None:
        p.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        p.ReceiveMaximum = receive_maximum
    return p
