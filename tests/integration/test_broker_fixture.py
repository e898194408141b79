"""The broker fixtures themselves: a real mosquitto, plain and with TLS, that survives a restart."""

from __future__ import annotations

import queue
import ssl

import paho.mqtt.client as mqtt

from tests.support.broker import Broker


def _roundtrip(host: str, port: int, tls_ca: str | None = None) -> bytes:
    received: queue.Queue[bytes] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if tls_ca:
        client.tls_set(ca_certs=tls_ca, cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect = lambda c, *_: c.subscribe("t/#", qos=1)
    client.on_subscribe = lambda c, *_: c.publish("t/x", b"hello", qos=1)
    client.on_message = lambda c, u, m: received.put(m.payload)
    client.connect(host, port)
    client.loop_start()
    try:
        return received.get(timeout=10)
    finally:
        client.loop_stop()
        client.disconnect()


def test_plain_broker_and_restart(mqtt_broker: Broker) -> None:
    assert _roundtrip("127.0.0.1", mqtt_broker.port) == b"hello"
    mqtt_broker.restart()
    assert _roundtrip("127.0.0.1", mqtt_broker.port) == b"hello"


def test_tls_broker(mqtt_tls_broker: Broker) -> None:
    assert mqtt_tls_broker.url.startswith("mqtts://")
    assert (
        _roundtrip("127.0.0.1", mqtt_tls_broker.port, str(mqtt_tls_broker.tls.ca if mqtt_tls_broker.tls else ""))
        == b"hello"
    )
