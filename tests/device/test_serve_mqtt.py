"""`audio-lstm serve --mqtt` with a real mosquitto broker and real Wyoming clients.

The server is the real CLI in a subprocess (bundled model), the broker a `mosquitto` subprocess
(`test_mqtt_events.Broker`), the clients the `wyoming` package's own. What the Wyoming clients are
told and what reaches the broker must name the same events; one publisher serves all connections.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sys
from pathlib import Path

import pytest

pytest.importorskip("wyoming")
pytest.importorskip("paho.mqtt.client")

from test_mqtt_events import MOSQUITTO, Broker, Subscriber  # noqa: E402
from test_serve import (  # noqa: E402, F401 - demo_pcm and reference are fixtures
    TIME_TOLERANCE_S,
    assert_matches,
    connect,
    demo_pcm,
    detections,
    free_port,
    reference,
    start_server,
    stop_server,
    stream,
)

from audio_lstm.device import serve  # noqa: E402
from audio_lstm.device.labels import EVENT_LABELS  # noqa: E402

pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="needs the mosquitto broker binary (apt-get install mosquitto; `make system-deps` does)"
)
DEVICE = "den"
EVENT_TOPIC, AVAILABILITY_TOPIC = f"test/{DEVICE}/event", f"test/{DEVICE}/availability"
CONFIG_TOPIC = f"homeassistant/event/{DEVICE}/config"


def drain(sub: Subscriber, topic: str, quiet_s: float = 1.0) -> list[dict]:
    """Every message on `topic` until none arrives for `quiet_s` (the events are all sent by then)."""
    found = []
    while True:
        try:
            found.append(json.loads(sub.next(topic, timeout=quiet_s)[0]))
        except queue.Empty:
            return found


def test_every_connections_events_reach_the_broker(
    tmp_path: Path,
    demo_pcm: bytes,  # noqa: F811
    reference: list[dict],  # noqa: F811
) -> None:  # noqa: F811
    broker = Broker(tmp_path)
    sub = Subscriber(broker.port, ["test/#", "homeassistant/#"])
    port = free_port()
    proc, log = start_server(
        tmp_path,
        f"tcp://127.0.0.1:{port}",
        "--mqtt",
        broker.url(credentials="tester:s3cret@"),
        "--mqtt-device-name",
        DEVICE,
    )
    try:
        config = json.loads(sub.next(CONFIG_TOPIC)[0])
        assert config["event_types"] == list(EVENT_LABELS) and config["state_topic"] == EVENT_TOPIC
        assert sub.next(AVAILABILITY_TOPIC) == ("online", False)

        async def sessions() -> tuple[list, list, list[str]]:
            everything, some = await connect(port), await connect(port)
            try:
                heard = await asyncio.gather(stream(everything, demo_pcm), stream(some, demo_pcm, names=["yes", "go"]))
                names = []
                for client in (everything, some):
                    host, client_port = client._writer.get_extra_info("sockname")[:2]  # noqa: SLF001
                    names.append(f"{host}:{client_port}")  # the server's name for this client
                return heard[0], heard[1], names
            finally:
                await asyncio.gather(everything.disconnect(), some.disconnect())

        all_events, some_events, sources = asyncio.run(sessions())
        told_all, told_some = detections(all_events), detections(some_events)
        assert_matches(told_all, reference)
        assert [d.name for d in told_some] == [r["label"] for r in reference if r["label"] in ("yes", "go")]
        published = drain(sub, EVENT_TOPIC)
    finally:
        text = stop_server(proc, log)
        broker_alive = broker.process is not None and broker.process.poll() is None
    try:
        assert broker_alive
        assert sub.next(AVAILABILITY_TOPIC) == ("offline", False)  # published when the server stops
    finally:
        sub.close()
        broker.stop()
    # one publisher for the process: both connections' events, each with its client as `source`;
    # the restricted client's events are published too (MQTT gets every event of every stream)
    by_source = {source: [e for e in published if e["source"] == source] for source in sources}
    assert len(published) == 2 * len(told_all) and set(by_source) == {e["source"] for e in published}
    for source, events in by_source.items():
        assert [e["label"] for e in events] == [d.name for d in told_all], source
        assert all(e["event_type"] == e["label"] and e["device"] == DEVICE for e in events)
        for event, detection in zip(events, told_all):
            assert abs(event["end_s"] - detection.timestamp / 1000) <= TIME_TOLERANCE_S
    assert f"mqtt: {len(published)} events sent, 0 dropped" in text
    assert "mqtt: connected to mqtt://tester@127.0.0.1" in text and "s3cret" not in text
    assert "Traceback" not in text, text


def test_mqtt_usage_errors_exit_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve.main(["--uri", "tcp://127.0.0.1:1", "--mqtt", "http://u:hunter2@broker"]) == 2
    err = capsys.readouterr().err
    assert "--mqtt: expected mqtt://" in err and "hunter2" not in err
    assert serve.main(["--uri", "tcp://127.0.0.1:1", "--mqtt-device-name", DEVICE]) == 2
    assert "--mqtt-device-name needs --mqtt" in capsys.readouterr().err
    for name in ("paho", "paho.mqtt", "paho.mqtt.client"):  # as if the mqtt extra were not installed
        monkeypatch.setitem(sys.modules, name, None)
    assert serve.main(["--uri", "tcp://127.0.0.1:1", "--mqtt", "mqtt://broker"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "audio-lstm serve: needs the mqtt extra: pip install 'audio-lstm[mqtt]'"
    ]
