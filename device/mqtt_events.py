"""Events to an MQTT broker, with Home Assistant discovery (`listen`/`serve --mqtt URL`; optional extra `mqtt`).

`MqttEventPublisher` publishes each event as JSON (`Event.to_dict` plus ``event_type``, ``timestamp``
in UTC, ``model_version``, ``device``; from `serve` also ``source``, the client's address) to
``<prefix>/<device>/event`` with QoS 1. On every connection it publishes, retained: a Home Assistant
discovery config for one event entity on ``homeassistant/event/<device>/config`` (``event_types`` =
the model's event labels) and ``online`` on ``<prefix>/<device>/availability``; the broker publishes
the retained last will ``offline`` there when the daemon vanishes, and `close` publishes it itself.

paho's network thread reconnects with exponential back-off (1, 2, 4 ... 30 s). Events raised while
the broker is away wait in a queue of `QUEUE_LIMIT` and are sent in order on reconnection; when the
queue is full the **oldest** waiting event is dropped (a recent alarm is worth more than a stale
one), counted and warned about once per outage. Delivery is at least once: an event in flight when
the connection broke is sent again. Credentials never appear in messages (`BrokerAddress.redacted`).
paho is imported only when a publisher is built: without it, `MqttUnavailable`.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from audio_lstm.device.detector import Event

DEFAULT_PREFIX = "audio-lstm"  # topic prefix when the URL has no path
DISCOVERY_PREFIX = "homeassistant"  # Home Assistant's default discovery prefix
QUEUE_LIMIT = 1000  # events kept while the broker is away
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30  # paho's reconnection back-off
KEEPALIVE_S = 30
CLOSE_TIMEOUT_S = 3.0  # close() waits this long for queued events to be acknowledged
ONLINE, OFFLINE = "online", "offline"
SCHEMES = {"mqtt": 1883, "mqtts": 8883}
INSTALL_HINT = "needs the mqtt extra: pip install 'audio-lstm[mqtt]'"


class MqttUnavailable(RuntimeError):
    """paho-mqtt is not installed."""


@dataclass(frozen=True)
class BrokerAddress:
    """A parsed ``mqtt://user:pass@host:port/prefix`` (``mqtts://`` for TLS)."""

    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None
    prefix: str

    @property
    def redacted(self) -> str:
        """The URL without the password, for messages."""
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}{host}:{self.port}/{self.prefix}"


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse a broker URL; ValueError (without the password) when it is not one."""
    parts = urlsplit(url)
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()  # no credentials in errors
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError(f"--mqtt: expected mqtt://[user[:password]@]host[:port][/prefix], got {shown!r}")
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise ValueError(f"--mqtt: bad port in {shown!r}") from None
    prefix = parts.path.strip("/") or DEFAULT_PREFIX
    if any(c in prefix for c in "+#\0") or "//" in prefix or prefix.startswith("$") or parts.query or parts.fragment:
        raise ValueError(f"--mqtt: the topic prefix {prefix!r} must be a plain topic (no + # $, no query)")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return BrokerAddress(parts.scheme, parts.hostname, port, user, password, prefix)


def topic_id(name: str) -> str:
    """`name` as one topic level and Home Assistant node id: letters, digits, ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "audio-lstm"


def _stderr(message: str) -> None:
    print(f"audio-lstm: {message}", file=sys.stderr, flush=True)


def _import_paho() -> Any:
    try:
        from paho.mqtt import client as mqtt
    except ImportError:
        raise MqttUnavailable(INSTALL_HINT) from None
    return mqtt


class MqttEventPublisher:
    """Publishes `Event`s to a broker; see the module docstring. `publish` never blocks on the network."""

    def __init__(
        self,
        url: str,
        device_name: str | None,
        labels: Sequence[str],
        model_version: str,
        *,
        queue_limit: int = QUEUE_LIMIT,
        reconnect_s: tuple[int, int] = (RECONNECT_MIN_S, RECONNECT_MAX_S),
        discovery_prefix: str = DISCOVERY_PREFIX,
        log: Callable[[str], None] = _stderr,
    ) -> None:
        mqtt = _import_paho()
        self.broker = parse_broker_url(url)
        if queue_limit < 1:
            raise ValueError("queue_limit must be >= 1")
        self.device_name = device_name or socket.gethostname()
        self.device_id = topic_id(self.device_name)
        base = f"{self.broker.prefix}/{self.device_id}"
        self.event_topic, self.availability_topic = f"{base}/event", f"{base}/availability"
        self.config_topic = f"{discovery_prefix}/event/{self.device_id}/config"
        self.labels, self.model_version, self.log = tuple(labels), model_version, log
        self.sent = 0  # events handed to the connection
        self.dropped = 0  # events lost: the queue overflowed, or still unsent at close
        self._queue: collections.deque[str] = collections.deque()
        self._queue_limit = queue_limit
        self._lock = threading.Lock()  # queue and flags; held while handing events to paho
        self._count_lock = threading.Lock()  # the two counts below; never held while calling paho
        self._handed = self._acked = 0  # QoS 1 messages handed to paho / acknowledged by the broker
        self._connected = self._warned_down = self._warned_full = self._closed = False
        self._mqtt = mqtt
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"audio-lstm-{self.device_id}-{os.getpid()}",
            protocol=mqtt.MQTTv311,
        )
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.scheme == "mqtts":
            client.tls_set()
        client.will_set(self.availability_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(*reconnect_s)
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_connect_fail, client.on_publish = self._on_connect_fail, self._on_publish
        self.client = client
        client.connect_async(self.broker.host, self.broker.port, KEEPALIVE_S)
        client.loop_start()
        log(f"mqtt: publishing events to {self.broker.redacted} on {self.event_topic}")

    # -- payloads ------------------------------------------------------------------------------

    def event_payload(self, event: Event, source: str | None = None) -> str:
        """The JSON of one event (``event_type`` is what Home Assistant's event entity reads; ``source``,
        when given: where the audio came from, e.g. a `serve` client's address)."""
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        return json.dumps(
            {
                **event.to_dict(),
                "event_type": event.label,
                "timestamp": now,
                "model_version": self.model_version,
                "device": self.device_name,
                **({"source": source} if source else {}),
            }
        )

    def discovery_config(self) -> dict[str, Any]:
        """Home Assistant MQTT discovery config of the device's event entity."""
        return {
            "name": "Sound event",
            "unique_id": f"audio_lstm_{self.device_id}_event",
            "state_topic": self.event_topic,
            "event_types": list(self.labels),
            "availability_topic": self.availability_topic,
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "qos": 1,
            "device": {
                "identifiers": [f"audio_lstm_{self.device_id}"],
                "name": self.device_name,
                "manufacturer": "audio-lstm",
                "model": "keyword and glass-break recognizer",
                "sw_version": self.model_version,
            },
        }

    # -- paho callbacks (its network thread) ---------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:  # noqa: ARG002 - paho callback signature
        if reason.is_failure:
            self._went_down(f"the broker refused the connection ({reason})")
            return
        self._hand(self.config_topic, json.dumps(self.discovery_config()), retain=True)
        self._hand(self.availability_topic, ONLINE, retain=True)
        with self._lock:
            waiting = len(self._queue)
            while self._queue:
                self._send(self._queue.popleft())
            self._connected, self._warned_down, self._warned_full = True, False, False
        self.log(f"mqtt: connected to {self.broker.redacted}" + (f"; sent {waiting} queued events" if waiting else ""))

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:  # noqa: ARG002 - paho callback signature
        with self._lock:
            was_connected, self._connected = self._connected, False
            closing = self._closed
        if was_connected and not closing:
            self._went_down(f"lost the broker ({reason})")

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:  # noqa: ARG002 - paho callback signature
        with self._count_lock:  # paho holds its message lock here: never take self._lock
            self._acked += 1

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:  # noqa: ARG002 - paho callback signature
        self._went_down("cannot reach the broker")

    def _went_down(self, why: str) -> None:
        with self._lock:
            warned, self._warned_down = self._warned_down, True
        if not warned:
            self.log(f"mqtt: {why} at {self.broker.redacted}; retrying, events are queued (up to {self._queue_limit})")

    # -- events --------------------------------------------------------------------------------

    def _hand(self, topic: str, payload: str, retain: bool = False) -> None:
        """One QoS 1 message to paho, which keeps it (and sends it on reconnection) if the connection
        just broke."""
        self.client.publish(topic, payload, qos=1, retain=retain)
        with self._count_lock:
            self._handed += 1

    @property
    def unacknowledged(self) -> int:
        """Messages handed to paho that the broker has not acknowledged yet."""
        with self._count_lock:
            return max(0, self._handed - self._acked)

    def _send(self, payload: str) -> None:
        """Hand one event to paho (with self._lock held)."""
        self._hand(self.event_topic, payload)
        self.sent += 1

    def publish(self, event: Event, source: str | None = None) -> None:
        """Send the event now, or queue it while the broker is away (dropping the oldest when full)."""
        payload = self.event_payload(event, source)
        warn = False
        with self._lock:
            if self._closed:
                self.dropped += 1
                return
            if self._connected and not self._queue:
                self._send(payload)
                return
            if len(self._queue) >= self._queue_limit:
                self._queue.popleft()
                self.dropped += 1
                warn, self._warned_full = not self._warned_full, True
            self._queue.append(payload)
        if warn:
            self.log(f"mqtt: {self._queue_limit} events queued while the broker is away; dropping the oldest")

    @property
    def connected(self) -> bool:
        """Whether the broker is connected (as far as paho's network thread knows)."""
        with self._lock:
            return self._connected

    @property
    def queued(self) -> int:
        """Events waiting for the broker."""
        with self._lock:
            return len(self._queue)

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Wait up to `timeout` for queued events to be acknowledged, publish ``offline``, disconnect.

        Events still unsent or unacknowledged then are counted in `dropped`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._connected and (self.queued or self.unacknowledged):
            time.sleep(0.02)
        with self._lock:
            self.dropped += len(self._queue) + min(self.unacknowledged, self.sent)
            self._queue.clear()
            connected = self._connected
        if connected:
            self._hand(self.availability_topic, OFFLINE, retain=True)
            while time.monotonic() < deadline + 1.0 and self.unacknowledged:
                time.sleep(0.02)
        self.client.disconnect()
        self.client.loop_stop()

    def summary(self) -> str:
        """For the daemon's exit line."""
        return f"mqtt: {self.sent} events sent, {self.dropped} dropped"


def add_mqtt_arguments(parser: argparse.ArgumentParser) -> None:
    """``--mqtt URL`` and ``--mqtt-device-name NAME`` (for `listen` and `serve`)."""
    group = parser.add_argument_group("MQTT (needs the mqtt extra)")
    group.add_argument(
        "--mqtt",
        metavar="URL",
        help="also publish events to this broker, with Home Assistant "
        "discovery: mqtt://[user[:password]@]host[:port][/prefix] (default prefix "
        f"{DEFAULT_PREFIX}; mqtts:// for TLS)",
    )
    group.add_argument(
        "--mqtt-device-name",
        metavar="NAME",
        help="device name in topics and in Home Assistant (default: the host name)",
    )


def publisher_from_args(
    args: argparse.Namespace, labels: Sequence[str], model_version: str, log: Callable[[str], None] = _stderr
) -> MqttEventPublisher | None:
    """The publisher `add_mqtt_arguments`' options ask for, or None; ValueError / MqttUnavailable."""
    if not args.mqtt:
        if args.mqtt_device_name:
            raise ValueError("--mqtt-device-name needs --mqtt")
        return None
    return MqttEventPublisher(args.mqtt, args.mqtt_device_name, labels, model_version, log=log)
