"""`audio-lstm listen` against a fake sounddevice stream: events as JSON lines, clean stop, retries."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

sd = pytest.importorskip("sounddevice")

from conftest import test_signal  # noqa: E402

from audio_lstm.device import daemon, listen  # noqa: E402
from audio_lstm.device.detector import Event  # noqa: E402


class Flags:
    def __init__(self, overflow: bool = False) -> None:
        self.input_overflow = overflow

    def __bool__(self) -> bool:
        return self.input_overflow


class FakeInputStream:
    """Plays `signal` through the callback in real-time-ish blocks, then sends SIGTERM to the process."""

    signal = test_signal(1.0, 44100)
    opened: list[dict] = []
    failures_left = 0

    def __init__(self, device=None, samplerate=None, channels=None, dtype=None, blocksize=None,  # noqa: ANN001
                 callback=None) -> None:  # noqa: ANN001
        if FakeInputStream.failures_left > 0:
            FakeInputStream.failures_left -= 1
            raise sd.PortAudioError("fake device is unplugged")
        FakeInputStream.opened.append(dict(device=device, samplerate=samplerate, channels=channels, dtype=dtype,
                                           blocksize=blocksize))
        self.blocksize, self.callback = blocksize, callback
        self.active = False
        self._thread = threading.Thread(target=self._play, daemon=True)

    def _play(self) -> None:
        audio = self.signal.astype(np.float32)
        for index, start in enumerate(range(0, len(audio), self.blocksize)):
            if not self.active:
                return
            block = audio[start : start + self.blocksize]
            block = np.pad(block, (0, self.blocksize - len(block)))[:, None]
            self.callback(block, self.blocksize, None, Flags(overflow=index == 3))
            time.sleep(0.002)
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGTERM)

    def __enter__(self) -> "FakeInputStream":
        self.active = True
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        self.active = False
        self._thread.join(2)


@pytest.fixture
def fake_audio(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    FakeInputStream.opened = []
    FakeInputStream.failures_left = 0
    monkeypatch.setattr(sd, "InputStream", FakeInputStream)
    monkeypatch.setattr(sd, "query_devices", lambda device=None, kind=None: {"default_samplerate": 44100.0})
    # A stray SIGTERM must never kill the test run; listen installs and restores its own handler.
    def guard(*_) -> None:  # noqa: ANN002
        pass

    previous = signal.signal(signal.SIGTERM, guard)
    FakeInputStream.guard = staticmethod(guard)
    yield FakeInputStream
    signal.signal(signal.SIGTERM, previous)


def test_events_are_printed_as_json_lines_and_sigterm_stops(tiny_model, fake_audio, tmp_path, capsys) -> None:  # noqa: ANN001
    events_file = tmp_path / "events.jsonl"
    marker = tmp_path / "exec.txt"
    command = f"{sys.executable} -c \"import os; open({str(marker)!r}, 'a').write(os.environ['AUDIO_LSTM_LABEL'] + ' ' + os.environ['AUDIO_LSTM_SCORE'] + '\\n')\""
    started = time.monotonic()
    code = listen.main(["--model", str(tiny_model.int8), "--threshold", "yes=0", "--events-file", str(events_file),
                        "--exec", command, "--chunk-ms", "80", "--report", "peak"])
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert elapsed < 5
    assert fake_audio.opened == [dict(device=None, samplerate=44100, channels=1, dtype="float32", blocksize=3528)]
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert len(lines) == 1  # threshold 0: "yes" is open from the start and closed when the stream stops
    event = lines[0]
    assert set(event) == {"time", "label", "start_s", "end_s", "score"} and event["label"] == "yes"
    assert event["start_s"] == 0.0 and 0.9 < event["end_s"] < 1.1  # ~1 s of audio after resampling
    assert [json.loads(line) for line in events_file.read_text().splitlines()] == lines
    assert "1 input overflows, 0 dropped chunks; 1 events" in captured.err
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text().split()[0] == "yes"
    assert signal.getsignal(signal.SIGTERM) is fake_audio.guard  # listen restored the previous handler


def test_events_are_returned_at_the_crossing_by_default(tiny_model, fake_audio, capsys) -> None:  # noqa: ANN001
    code = listen.main(["--model", str(tiny_model.int8), "--threshold", "yes=0"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = [json.loads(line) for line in captured.out.splitlines()]
    # threshold 0: "yes" crosses on the first frame; returned then, with no end known yet
    assert [(e["label"], e["start_s"], e["end_s"]) for e in lines] == [("yes", 0.0, 0.0)]


def test_device_errors_are_retried_with_backoff(tiny_model, fake_audio, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setattr(listen, "BACKOFF_START_S", 0.05)
    fake_audio.failures_left = 2
    monkeypatch.setattr(fake_audio, "signal", test_signal(0.3, 44100))
    code = listen.main(["--model", str(tiny_model.int8), "--device", "3"])
    err = capsys.readouterr().err
    assert code == 0
    assert err.count("audio device error: fake device is unplugged; retrying in") == 2
    assert "retrying in 0.05 s" in err and "retrying in 0.1 s" in err
    assert fake_audio.opened[0]["device"] == 3


def test_list_devices(capsys, monkeypatch) -> None:  # noqa: ANN001
    assert listen.main(["--list-devices"]) == 0  # the real PortAudio: 0 even when there is no input device
    monkeypatch.setattr(sd, "query_devices", lambda *args, **kwargs: [])
    capsys.readouterr()
    assert listen.main(["--list-devices"]) == 0
    assert capsys.readouterr().err.strip() == "audio-lstm listen: no audio input devices found"

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "query_devices", broken)
    assert listen.main(["--list-devices"]) == 1  # it ran, and PortAudio failed
    assert "cannot list audio devices: Error querying device -1" in capsys.readouterr().err
    devices = [
        {"name": "HDMI out", "max_input_channels": 0, "default_samplerate": 48000.0},
        {"name": "USB mic", "max_input_channels": 1, "default_samplerate": 44100.0},
    ]
    monkeypatch.setattr(sd, "query_devices", lambda *args, **kwargs: devices)
    capsys.readouterr()
    assert listen.main(["--list-devices"]) == 0
    out = capsys.readouterr().out
    assert "USB mic" in out and "44100 Hz" in out and "HDMI" not in out


def test_usage_errors(tiny_model, capsys) -> None:  # noqa: ANN001
    assert listen.main(["--model", str(tiny_model.int8), "--threshold", "nope=0.5"]) == 2
    assert listen.main(["--model", str(tiny_model.int8), "--exec", "no-such-command-xyz"]) == 2
    assert listen.main(["--model", str(tiny_model.int8), "--exec", "'unbalanced"]) == 2
    assert listen.main(["--chunk-ms", "0"]) == 2
    assert listen.main(["--report", "early"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "no-such-command-xyz" in err


def test_capture_queue_never_blocks() -> None:
    capture = daemon.CaptureQueue(2)
    block = np.ones((4, 1), np.float32)
    for _ in range(5):
        capture.callback(block, 4, None, Flags(overflow=True))
    assert capture.counts() == (5, 3) and capture.queue.qsize() == 2


def test_command_runner_sets_environment(tmp_path: Path) -> None:
    out = tmp_path / "env.txt"
    runner = daemon.CommandRunner(
        f"{sys.executable} -c \"import os; open({str(out)!r}, 'w').write(' '.join(os.environ[k] for k in "
        "('AUDIO_LSTM_LABEL', 'AUDIO_LSTM_SCORE', 'AUDIO_LSTM_START_S', 'AUDIO_LSTM_END_S')))\"")
    runner.run(Event("glass_break", 1.5, 2.25, 0.91234))
    runner.children[0].wait(10)
    runner.close()
    assert runner.children == []
    assert out.read_text() == "glass_break 0.9123 1.500 2.250"
