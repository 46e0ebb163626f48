"""`audio-lstm serve` against real Wyoming clients (the `wyoming` package's own AsyncTcpClient).

One server subprocess (the real CLI, bundled model) serves the whole module on a free loopback
port; every test is a client session. The reference is `audio-lstm classify` on the same file.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr

pytest.importorskip("wyoming")

from helpers import demo_events_at_crossing
from wyoming.audio import AudioChunk, AudioStart, AudioStop  # noqa: E402
from wyoming.client import AsyncClient, AsyncTcpClient  # noqa: E402
from wyoming.event import Event  # noqa: E402
from wyoming.info import Describe, Info  # noqa: E402
from wyoming.wake import Detect, Detection, NotDetected  # noqa: E402

from audio_lstm.device import serve  # noqa: E402
from audio_lstm.device.labels import EVENT_LABELS  # noqa: E402
from audio_lstm.device.pcm import PcmDecoder  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "stream_demo.flac"
RATE, WIDTH, CHANNELS = 48000, 2, 2  # what the client sends
ODD_FRAMES = (331, 1999, 4801, 17, 977, 2503)  # chunk lengths in frames, cycled
TIME_TOLERANCE_S = 0.3
READ_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(tmp_path: Path, uri: str, *extra: str) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "audio_lstm.cli", "serve", "--uri", uri, "--debug", *extra],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115
        cwd=tmp_path,
    )  # noqa: SIM115
    deadline = time.monotonic() + 60
    while "serving" not in log.read_text():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    return proc, log


def stop_server(proc: subprocess.Popen, log: Path) -> str:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, log.read_text()
    return log.read_text()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """(port, log file) of one `audio-lstm serve` for the module; it must stop cleanly, without tracebacks."""
    port = free_port()
    proc, log = start_server(tmp_path_factory.mktemp("serve"), f"tcp://127.0.0.1:{port}")
    yield port, log
    text = stop_server(proc, log)
    assert "Traceback" not in text and "exception" not in text.lower(), text


@pytest.fixture(scope="module")
def reference() -> list[dict]:
    """What `audio-lstm classify` finds in the demo recording (stop, on, yes, go with the bundled model)."""
    return demo_events_at_crossing()


@pytest.fixture(scope="module")
def demo_pcm() -> bytes:
    """The demo recording as 48 kHz stereo 16-bit PCM (channels 1.2x and 0.8x: their mean is the original)."""
    audio, rate = soundfile.read(str(DEMO), dtype="float32")
    up = soxr.resample(audio, rate, RATE, quality="HQ")
    stereo = np.stack([up * 1.2, up * 0.8], axis=1)
    return np.clip(np.round(stereo * 32767), -32768, 32767).astype("<i2").tobytes()


def chunks(pcm: bytes, frame_bytes: int = WIDTH * CHANNELS) -> Iterator[bytes]:
    """`pcm` in pieces of ODD_FRAMES frames, cycled."""
    position = 0
    for frames in itertools.cycle(ODD_FRAMES):
        if position >= len(pcm):
            return
        yield pcm[position : position + frames * frame_bytes]
        position += frames * frame_bytes


async def connect(port: int) -> AsyncClient:
    client = AsyncTcpClient("127.0.0.1", port)
    await client.connect()
    return client


async def read(client: AsyncClient) -> Event | None:
    """The next event, within READ_TIMEOUT_S (older wyoming clients have no read timeout of their own)."""
    return await asyncio.wait_for(client.read_event(), READ_TIMEOUT_S)


async def finish(client: AsyncClient) -> list[Event]:
    """audio-stop, then describe: everything the server says up to its `info` belongs to this stream."""
    await client.write_event(AudioStop().event())
    await client.write_event(Describe().event())
    received = []
    while True:
        event = await read(client)
        assert event is not None, "server closed the connection"
        if Info.is_type(event.type):
            return received
        received.append(event)


def detections(events: list[Event]) -> list[Detection]:
    assert not any(NotDetected.is_type(e.type) for e in events), events
    return [Detection.from_event(e) for e in events if Detection.is_type(e.type)]


def assert_matches(found: list[Detection], reference: list[dict]) -> None:
    assert [d.name for d in found] == [r["label"] for r in reference]
    for detection, event in zip(found, reference):
        assert abs(detection.timestamp / 1000 - event["end_s"]) <= TIME_TOLERANCE_S, (detection, event)


async def stream(
    client: AsyncClient,
    pcm: bytes,
    rate: int = RATE,
    width: int = WIDTH,
    channels: int = CHANNELS,
    names: list[str] | None = None,
) -> list[Event]:
    if names is not None:
        await client.write_event(Detect(names=names).event())
    await client.write_event(AudioStart(rate=rate, width=width, channels=channels).event())
    timestamp = 0
    for piece in chunks(pcm, width * channels):
        await client.write_event(
            AudioChunk(rate=rate, width=width, channels=channels, audio=piece, timestamp=timestamp).event()
        )
        timestamp += len(piece) * 1000 // (rate * width * channels)
    return await finish(client)


def test_describe_lists_the_event_labels_with_the_model_version(server) -> None:  # noqa: ANN001
    async def session() -> Info:
        client = await connect(server[0])
        await client.write_event(Describe().event())
        info = Info.from_event(await read(client))
        await client.disconnect()
        return info

    info = asyncio.run(session())
    from audio_lstm.device.runtime import StreamingClassifier

    version = StreamingClassifier().info.model_version
    assert len(info.wake) == 1
    models = {model.name: model for model in info.wake[0].models}
    assert list(models) == list(EVENT_LABELS)  # no _unknown_, no _silence_
    assert all(model.version == version and model.languages == ["en"] and model.installed for model in models.values())
    assert models["glass_break"].phrase == "glass break" and models["stop"].phrase == "stop"
    assert models["stop"].attribution.name == "audio-lstm"


def test_recording_at_48k_stereo_gives_classifys_events(server, reference, demo_pcm) -> None:  # noqa: ANN001
    async def session() -> list[Event]:
        client = await connect(server[0])
        try:
            return await stream(client, demo_pcm)
        finally:
            await client.disconnect()

    assert_matches(detections(asyncio.run(session())), reference)


def test_detect_restricts_names(server, reference, demo_pcm) -> None:  # noqa: ANN001
    async def session() -> list[Event]:
        client = await connect(server[0])
        try:
            return await stream(client, demo_pcm, names=["yes", "go"])
        finally:
            await client.disconnect()

    assert_matches(detections(asyncio.run(session())), [r for r in reference if r["label"] in ("yes", "go")])


def test_silence_gives_not_detected(server) -> None:  # noqa: ANN001
    async def session() -> list[Event]:
        client = await connect(server[0])
        try:
            return await stream(client, bytes(16000 * 2 * 3), rate=16000, width=2, channels=1)
        finally:
            await client.disconnect()

    events = asyncio.run(session())
    assert [e.type for e in events] == ["not-detected"]


def test_two_clients_at_once_keep_their_own_state(server, reference, demo_pcm) -> None:  # noqa: ANN001
    silence = bytes(len(demo_pcm) // 3)  # 12 s at 16 kHz mono 16-bit

    async def session() -> tuple[list[Event], list[Event]]:
        speech, quiet = await connect(server[0]), await connect(server[0])
        await speech.write_event(AudioStart(rate=RATE, width=WIDTH, channels=CHANNELS).event())
        await quiet.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        for loud, calm in itertools.zip_longest(chunks(demo_pcm), chunks(silence, 2)):  # interleaved
            if loud is not None:
                await speech.write_event(AudioChunk(rate=RATE, width=WIDTH, channels=CHANNELS, audio=loud).event())
            if calm is not None:
                await quiet.write_event(AudioChunk(rate=16000, width=2, channels=1, audio=calm).event())
        results = await asyncio.gather(finish(speech), finish(quiet))
        await asyncio.gather(speech.disconnect(), quiet.disconnect())
        return results

    heard, silent = asyncio.run(session())
    assert_matches(detections(heard), reference)
    assert [e.type for e in silent] == ["not-detected"]


def test_client_dropping_mid_stream_costs_nothing(server, reference, demo_pcm) -> None:  # noqa: ANN001
    port, log = server

    async def dropper() -> None:
        client = await connect(port)
        await client.write_event(AudioStart(rate=RATE, width=WIDTH, channels=CHANNELS).event())
        for piece in itertools.islice(chunks(demo_pcm), 40):
            await client.write_event(AudioChunk(rate=RATE, width=WIDTH, channels=CHANNELS, audio=piece).event())
        client._writer.transport.abort()  # noqa: SLF001 - a hard reset, no goodbye

    async def half_event() -> None:  # a connection cut inside an event's payload
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, '
            b'"payload_length": 32000}\n' + bytes(1000)
        )
        await writer.drain()
        writer.close()

    async def next_client() -> list[Event]:
        client = await connect(port)
        try:
            return await stream(client, demo_pcm)
        finally:
            await client.disconnect()

    asyncio.run(dropper())
    asyncio.run(half_event())
    assert_matches(detections(asyncio.run(next_client())), reference)
    text = log.read_text()
    assert "Traceback" not in text and "exception" not in text.lower() and "error" not in text.lower(), text


def test_bad_audio_format_is_refused_with_an_error_event(server) -> None:  # noqa: ANN001
    async def session() -> list[Event]:
        client = await connect(server[0])
        await client.write_event(AudioStart(rate=16000, width=5, channels=1).event())
        events = []
        while (event := await read(client)) is not None:
            events.append(event)
        return events

    events = asyncio.run(session())
    assert [e.type for e in events] == ["error"] and "width" in events[0].data["text"]


def test_unix_socket_and_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    socket_path = tmp_path / "wake.sock"
    proc, log = start_server(tmp_path, f"unix://{socket_path}", "--threshold", "stop=0.5", "--refractory-s", "2")

    async def session() -> Info:
        async with AsyncClient.from_uri(f"unix://{socket_path}") as client:
            await client.write_event(Describe().event())
            return Info.from_event(await read(client))

    try:
        assert len(asyncio.run(session()).wake[0].models) == len(EVENT_LABELS)
    finally:
        stop_server(proc, log)
    assert not socket_path.exists()
    for argv, named in (
        (["--uri", "http://host:1"], "http://host:1"),
        (["--uri", "tcp://localhost"], "port"),
        (["--threshold", "bogus=0.5"], "bogus"),
        (["--refractory-s", "-1"], "refractory"),
        (["--model", str(tmp_path / "none.onnx")], "none.onnx"),
    ):
        assert serve.main(argv) == 2, argv
        assert named in capsys.readouterr().err
    if not _installed("zeroconf"):
        assert serve.main(["--zeroconf"]) == 2
        assert "pip install zeroconf" in capsys.readouterr().err


def _installed(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def test_without_wyoming_serve_says_which_extra(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import sys
        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "wyoming":
                    raise ImportError("blocked")
        sys.meta_path.insert(0, Blocker())
        from audio_lstm.cli import main
        sys.exit(main(["serve"]))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "audio-lstm serve: needs the wyoming extra: pip install 'audio-lstm[wyoming]'"
    ]


def test_pcm_decoder_any_width_and_split() -> None:
    values = np.array([-1.0, -0.5, 0.0, 0.25, 0.5, 0.75], dtype=np.float64)
    encodings = {
        1: np.round(values * 127 + 128).astype(np.uint8).tobytes(),
        2: np.round(values * 32767).astype("<i2").tobytes(),
        3: b"".join(int(round(v * (2**23 - 1))).to_bytes(3, "little", signed=True) for v in values),
        4: np.round(values * (2**31 - 1)).astype("<i4").tobytes(),
    }
    for width, data in encodings.items():
        stereo = b"".join(data[i : i + width] * 2 for i in range(0, len(data), width))  # both channels equal
        decoder = PcmDecoder(width, 2)
        pieces = [decoder.decode(stereo[i : i + 5]) for i in range(0, len(stereo), 5)]  # splits inside samples
        decoded = np.concatenate(pieces)
        assert decoder.pending_bytes == 0 and len(decoded) == len(values)
        assert np.allclose(decoded, values, atol=1 / 100), (width, decoded)


def test_forked_classifiers_share_the_session_and_run_side_by_side() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from audio_lstm.device.runtime import StreamingClassifier

    audio, _ = soundfile.read(str(DEMO), dtype="float32")

    def run(classifier: StreamingClassifier) -> np.ndarray:
        pieces = [classifier.process(audio[i : i + 1234]) for i in range(0, len(audio), 1234)]
        return np.concatenate([*pieces, classifier.flush()])

    base = StreamingClassifier()
    alone = run(StreamingClassifier())  # a classifier of its own, same chunks
    base.process(audio[:5000])  # the forks start fresh, whatever the original's state
    forks = [base.fork() for _ in range(3)]
    assert all(fork._session is base._session for fork in forks)  # noqa: SLF001 - loaded once
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(run, forks))
    for scores in results:
        np.testing.assert_array_equal(scores, alone)
