"""`listen --mqtt` against a real mosquitto broker (Debian package `mosquitto`; skipped without it).

Each broker is a `mosquitto -c FILE` subprocess on a free loopback port. The restart test gives it
persistence (a data folder of its own) so that the test's subscriber keeps its session, and so
receives what the publisher sends after the restart whenever each of the two reconnects.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import queue
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

mqtt = pytest.importorskip("paho.mqtt.client")

from test_listen import fake_audio  # noqa: E402, F401 - the fake sounddevice stream, as a fixture

from audio_lstm.device import listen  # noqa: E402
from audio_lstm.device.detector import Event  # noqa: E402
from audio_lstm.device.mqtt_events import MqttEventPublisher, MqttUnavailable, parse_broker_url  # noqa: E402

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="needs the mosquitto broker binary (apt-get install mosquitto; `make system-deps` does)"
)
LABELS = ("yes", "stop", "glass_break")


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


class Broker:
    """mosquitto on 127.0.0.1:`port`, stopped and started at will (same port, same data folder)."""

    def __init__(self, folder: Path, persistent: bool = False) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.config = folder / "mosquitto.conf"
        persistence = f"persistence true\npersistence_location {folder}/\n" if persistent else "persistence false\n"
        # `user`: started as root, mosquitto would switch to user "mosquitto", which cannot write here
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n{persistence}"
        )
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def accepting() -> bool:
            assert self.process.poll() is None, "mosquitto exited"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return False
            return True

        wait_for(accepting, 10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def url(self, prefix: str = "test", credentials: str = "") -> str:
        return f"mqtt://{credentials}127.0.0.1:{self.port}/{prefix}"


class Subscriber:
    """A paho client that subscribes (QoS 1) on every connection and collects what arrives."""

    def __init__(self, port: int, topics: list[str], client_id: str = "", persistent: bool = False) -> None:
        self.messages: queue.Queue[tuple[str, str, bool]] = queue.Queue()
        subscribed = threading.Event()
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent, protocol=mqtt.MQTTv311
        )
        client.on_connect = lambda c, *_: c.subscribe([(topic, 1) for topic in topics])
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_message = lambda _c, _u, m: self.messages.put((m.topic, m.payload.decode(), bool(m.retain)))
        client.reconnect_delay_set(1, 1)
        client.connect("127.0.0.1", port)
        client.loop_start()
        assert subscribed.wait(10)
        self.client = client

    def next(self, topic: str, timeout: float = 10.0) -> tuple[str, bool]:
        """The next message on `topic` (payload, retained); others are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            got, payload, retained = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if got == topic:
                return payload, retained

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    server = Broker(tmp_path)
    yield server
    server.stop()


def publisher(url: str, logs: list[str], **kwargs: object) -> MqttEventPublisher:
    return MqttEventPublisher(url, "Kitchen Pi", LABELS, "2026.12.02-r25.1", log=logs.append, **kwargs)


def test_discovery_availability_and_events(broker: Broker) -> None:
    sub = Subscriber(broker.port, ["test/#"])
    logs: list[str] = []
    pub = publisher(broker.url(credentials="tester:s3cret@"), logs)
    try:
        assert sub.next("test/Kitchen_Pi/availability") == ("online", False)
        pub.publish(Event("stop", 2.55, 2.95, 0.91834))
        pub.publish(Event("glass_break", 7.0, 7.0, 0.8))
        first, _ = sub.next("test/Kitchen_Pi/event")
        second, _ = sub.next("test/Kitchen_Pi/event")
        record = json.loads(first)
        assert {
            k: record[k] for k in ("label", "event_type", "start_s", "end_s", "score", "model_version", "device")
        } == {
            "label": "stop",
            "event_type": "stop",
            "start_s": 2.55,
            "end_s": 2.95,
            "score": 0.9183,
            "model_version": "2026.12.02-r25.1",
            "device": "Kitchen Pi",
        }
        stamp = dt.datetime.fromisoformat(record["timestamp"])
        assert (
            stamp.utcoffset() == dt.timedelta(0) and abs(dt.datetime.now(dt.timezone.utc) - stamp).total_seconds() < 30
        )
        assert json.loads(second)["label"] == "glass_break"
        # a subscriber connecting afterwards still gets the retained discovery config and availability
        late = Subscriber(broker.port, ["homeassistant/#", "test/+/availability"])
        config, retained = late.next("homeassistant/event/Kitchen_Pi/config")
        assert retained
        config = json.loads(config)
        assert config["event_types"] == list(LABELS) and config["state_topic"] == "test/Kitchen_Pi/event"
        assert config["availability_topic"] == "test/Kitchen_Pi/availability"
        assert config["unique_id"] == "audio_lstm_Kitchen_Pi_event"
        assert config["device"]["name"] == "Kitchen Pi" and config["device"]["sw_version"] == "2026.12.02-r25.1"
        assert late.next("test/Kitchen_Pi/availability") == ("online", True)
        late.close()
    finally:
        pub.close()
    assert sub.next("test/Kitchen_Pi/availability") == ("offline", False)  # published by close()
    sub.close()
    assert (pub.sent, pub.dropped) == (2, 0) and pub.summary() == "mqtt: 2 events sent, 0 dropped"
    assert any("tester@127.0.0.1" in line for line in logs) and not any("s3cret" in line for line in logs)


def test_last_will_marks_a_vanished_daemon_offline(broker: Broker) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from audio_lstm.device.mqtt_events import MqttEventPublisher
        pub = MqttEventPublisher({broker.url()!r}, "den", ["yes"], "v1", log=lambda m: None)
        while not pub.connected:
            time.sleep(0.02)
        print("ready", flush=True)
        time.sleep(60)
    """)
    sub = Subscriber(broker.port, ["test/den/availability"])
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        assert sub.next("test/den/availability") == ("online", False)
        child.kill()  # no DISCONNECT: the broker publishes the will
        assert sub.next("test/den/availability") == ("offline", False)
    finally:
        child.kill()
        child.wait(10)
        sub.close()
    late = Subscriber(broker.port, ["test/den/availability"])
    assert late.next("test/den/availability") == ("offline", True)  # retained
    late.close()


def test_events_raised_while_the_broker_is_away_arrive_after_it_returns(tmp_path: Path) -> None:
    broker = Broker(tmp_path, persistent=True)
    logs: list[str] = []
    sub = Subscriber(broker.port, ["test/Kitchen_Pi/event"], client_id="test-subscriber", persistent=True)
    pub = publisher(broker.url(), logs, queue_limit=3, reconnect_s=(1, 2))
    try:
        wait_for(lambda: pub.connected)
        pub.publish(Event("yes", 0.0, 0.0, 0.9))
        assert json.loads(sub.next("test/Kitchen_Pi/event")[0])["start_s"] == 0.0
        broker.stop()
        wait_for(lambda: not pub.connected)
        for second in range(1, 6):  # five events while it is away; the queue holds three
            pub.publish(Event("yes", float(second), float(second), 0.9))
        assert (pub.queued, pub.dropped) == (3, 2)
        broker.start()  # same port, same data folder
        arrived = [json.loads(sub.next("test/Kitchen_Pi/event", timeout=20)[0])["start_s"] for _ in range(3)]
        assert arrived == [3.0, 4.0, 5.0]  # in order; the two oldest were dropped
        pub.publish(Event("yes", 6.0, 6.0, 0.9))
        assert json.loads(sub.next("test/Kitchen_Pi/event")[0])["start_s"] == 6.0
    finally:
        pub.close()
        sub.close()
        broker.stop()
    assert pub.summary() == "mqtt: 5 events sent, 2 dropped"
    assert sum("lost the broker" in line for line in logs) == 1
    assert sum("dropping the oldest" in line for line in logs) == 1
    assert any("sent 3 queued events" in line for line in logs)


def test_an_unreachable_broker_queues_and_counts_what_never_left() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    logs: list[str] = []
    pub = publisher(f"mqtt://127.0.0.1:{port}", logs, reconnect_s=(1, 1))
    pub.publish(Event("yes", 1.0, 1.0, 0.9))
    pub.publish(Event("stop", 2.0, 2.0, 0.9))
    wait_for(lambda: any("cannot reach the broker" in line for line in logs))
    assert pub.queued == 2 and not pub.connected
    pub.close(timeout=0.1)
    assert pub.summary() == "mqtt: 0 events sent, 2 dropped"
    assert sum("cannot reach" in line for line in logs) == 1 and pub.event_topic == "audio-lstm/Kitchen_Pi/event"


def test_listen_publishes_through_the_event_sink(tiny_model, fake_audio, broker: Broker, capsys) -> None:  # noqa: ANN001, F811
    sub = Subscriber(broker.port, ["test/den/event", "homeassistant/event/den/config"])
    code = listen.main(
        ["--model", str(tiny_model.int8), "--threshold", "yes=0", "--mqtt", broker.url(), "--mqtt-device-name", "den"]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    config = json.loads(sub.next("homeassistant/event/den/config")[0])
    assert "yes" in config["event_types"] and "_unknown_" not in config["event_types"]
    event = json.loads(sub.next("test/den/event")[0])
    assert (event["label"], event["start_s"], event["end_s"]) == ("yes", 0.0, 0.0)  # crossing mode
    assert "1 events; mqtt: 1 events sent, 0 dropped" in err
    sub.close()


def test_usage_errors_never_show_the_password(tiny_model, monkeypatch, capsys) -> None:  # noqa: ANN001
    for url in ("http://u:hunter2@h", "mqtt://u:hunter2@", "mqtt://u:hunter2@h:99999", "mqtt://u:hunter2@h/a+b"):
        with pytest.raises(ValueError) as error:
            parse_broker_url(url)
        assert "hunter2" not in str(error.value)
        assert listen.main(["--model", str(tiny_model.int8), "--mqtt", url]) == 2
    assert listen.main(["--model", str(tiny_model.int8), "--mqtt-device-name", "den"]) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err and "--mqtt-device-name needs --mqtt" in err
    address = parse_broker_url("mqtt://me:p%40ss@broker.local")
    assert (address.username, address.password, address.port, address.prefix) == ("me", "p@ss", 1883, "audio-lstm")
    assert address.redacted == "mqtt://me@broker.local:1883/audio-lstm"
    # without paho: one line naming the extra, exit 2
    for name in ("paho", "paho.mqtt", "paho.mqtt.client"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(MqttUnavailable):
        MqttEventPublisher("mqtt://h", None, LABELS, "v1")
    assert listen.main(["--model", str(tiny_model.int8), "--mqtt", "mqtt://h"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["audio-lstm listen: needs the mqtt extra: pip install 'audio-lstm[mqtt]'"]
