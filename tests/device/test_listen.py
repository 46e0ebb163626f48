"""`audio-lstm listen` against a fake sounddevice stream: events as JSON lines, clean stop, retries,
stalls, device choice."""

from __future__ import annotations

import atexit
import io
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soxr

sd = pytest.importorskip("sounddevice")

from conftest import test_signal  # noqa: E402

from audio_lstm.device import daemon, listen, microphone, watchdog  # noqa: E402
from audio_lstm.device.detector import Event  # noqa: E402
from audio_lstm.device.labels import EVENT_LABELS  # noqa: E402
from audio_lstm.device.options import make_detector  # noqa: E402
from audio_lstm.device.runtime import StreamingClassifier  # noqa: E402

DEVICES = [
    {
        "name": "Fake mic",
        "index": 0,
        "hostapi": 0,
        "max_input_channels": 1,
        "max_output_channels": 0,
        "default_samplerate": 44100.0,
    },
    {
        "name": "Fake speaker",
        "index": 1,
        "hostapi": 0,
        "max_input_channels": 0,
        "max_output_channels": 2,
        "default_samplerate": 48000.0,
    },
    {
        "name": "Other mic",
        "index": 2,
        "hostapi": 0,
        "max_input_channels": 2,
        "max_output_channels": 0,
        "default_samplerate": 44100.0,
    },
    {
        "name": "USB mic",
        "index": 3,
        "hostapi": 0,
        "max_input_channels": 1,
        "max_output_channels": 0,
        "default_samplerate": 44100.0,
    },
]


def fake_query_devices(device=None, kind=None):  # noqa: ANN001, ANN201
    """sounddevice.query_devices over `DEVICES`, with its matching rules for names (simplified)."""
    if device is None and kind is None:
        return list(DEVICES)
    if isinstance(device, int):
        if 0 <= device < len(DEVICES):
            return DEVICES[device]
        raise sd.PortAudioError(f"Error querying device {device}")
    matches = [
        d for d in DEVICES if device.lower() in d["name"].lower() and (kind != "input" or d["max_input_channels"])
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ValueError(f"No {kind} device matching {device!r}")
    raise ValueError(
        f"Multiple {kind} devices found for {device!r}:\n"
        + "\n".join(f"[{d['index']}] {d['name']}, ALSA" for d in matches)
    )


class Flags:
    def __init__(self, overflow: bool = False) -> None:
        self.input_overflow = overflow

    def __bool__(self) -> bool:
        return self.input_overflow


class FakeInputStream:
    """Plays `signal` through the callback in real-time-ish blocks, then sends SIGTERM to the process.

    The first `stall_after` streams (a count) deliver 3 blocks and then nothing, as a stopped audio
    server does; `close_blocks_s` makes abort() block that long, as closing a stalled stream does.
    """

    signal = test_signal(1.0, 44100)
    opened: list[dict] = []
    failures_left = 0
    stall_after = 0
    close_blocks_s = 0.0
    sigterm_at: list[float] = []

    def __init__(
        self,
        device=None,
        samplerate=None,
        channels=None,
        dtype=None,
        blocksize=None,  # noqa: ANN001
        callback=None,
    ) -> None:  # noqa: ANN001
        if FakeInputStream.failures_left > 0:
            FakeInputStream.failures_left -= 1
            raise sd.PortAudioError("fake device is unplugged")
        FakeInputStream.opened.append(
            dict(device=device, samplerate=samplerate, channels=channels, dtype=dtype, blocksize=blocksize)
        )
        self.blocksize, self.callback = blocksize, callback
        self.active = False
        self._thread = threading.Thread(target=self._play, daemon=True)

    def _play(self) -> None:
        audio = self.signal.astype(np.float32)
        stalls = FakeInputStream.stall_after > 0
        if stalls:
            FakeInputStream.stall_after -= 1
        for index, start in enumerate(range(0, len(audio), self.blocksize)):
            if not self.active:
                return
            if stalls and index == 3:
                while self.active:  # no more callbacks; the stream still says it is active
                    time.sleep(0.01)
                return
            block = audio[start : start + self.blocksize]
            block = np.pad(block, (0, self.blocksize - len(block)))[:, None]
            self.callback(block, self.blocksize, None, Flags(overflow=index == 3))
            time.sleep(0.002)
        time.sleep(0.1)
        FakeInputStream.sigterm_at.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGTERM)

    def start(self) -> None:
        self.active = True
        self._thread.start()

    def abort(self) -> None:
        time.sleep(FakeInputStream.close_blocks_s)
        self.active = False
        self._thread.join(2)

    def close(self) -> None:
        self.active = False


@pytest.fixture
def fake_audio(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    FakeInputStream.opened = []
    FakeInputStream.failures_left = 0
    FakeInputStream.stall_after = 0
    FakeInputStream.close_blocks_s = 0.0
    FakeInputStream.sigterm_at = []
    monkeypatch.setattr(sd, "InputStream", FakeInputStream)
    monkeypatch.setattr(sd, "query_devices", fake_query_devices)
    monkeypatch.setattr(microphone, "default_input_index", lambda sd: 0)

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
    command = f"{sys.executable} -c \"import os; open({str(marker)!r}, 'a').write(os.environ['AUDIO_LSTM_LABEL'] + ' ' + os.environ['AUDIO_LSTM_SCORE'] + '\\n')\""  # noqa: E501
    started = time.monotonic()
    code = listen.main(
        [
            "--model",
            str(tiny_model.int8),
            "--threshold",
            "yes=0",
            "--events-file",
            str(events_file),
            "--exec",
            command,
            "--chunk-ms",
            "80",
            "--report",
            "peak",
        ]
    )
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert elapsed < 5
    assert fake_audio.opened == [dict(device=0, samplerate=44100, channels=1, dtype="float32", blocksize=3528)]
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert len(lines) == 1  # threshold 0: "yes" is open from the start and closed when the stream stops
    event = lines[0]
    assert set(event) == {"time", "label", "start_s", "end_s", "score"} and event["label"] == "yes"
    assert event["start_s"] == 0.0 and 0.9 < event["end_s"] < 1.1  # ~1 s of audio after resampling
    assert [json.loads(line) for line in events_file.read_text().splitlines()] == lines
    assert "1 input overflows, 0 dropped chunks, 0 stalls; 1 events" in captured.err
    assert "listening on Fake mic (device 0) at 44100 Hz" in captured.err
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
    monkeypatch.setattr(microphone, "BACKOFF_START_S", 0.05)
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
        "('AUDIO_LSTM_LABEL', 'AUDIO_LSTM_SCORE', 'AUDIO_LSTM_START_S', 'AUDIO_LSTM_END_S')))\""
    )
    runner.run(Event("glass_break", 1.5, 2.25, 0.91234))
    runner.children[0].wait(10)
    runner.close()
    assert runner.children == []
    assert out.read_text() == "glass_break 0.9123 1.500 2.250"


def test_a_stalled_stream_is_reopened_and_counted(tiny_model, fake_audio, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setattr(microphone, "BACKOFF_START_S", 0.05)
    monkeypatch.setattr(microphone, "REPORT_EVERY_S", 0.2)
    fake_audio.stall_after = 1  # the first stream delivers 3 blocks, then nothing
    code = listen.main(["--model", str(tiny_model.int8), "--stall-s", "0.5"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert len(fake_audio.opened) == 2
    assert re.search(r"stalled: no audio from Fake mic \(device 0\) for 0\.[5-9] s; reopening in 0\.05 s", err), err
    assert re.search(r"status: [01] input overflows, 0 dropped chunks, 1 stalls so far", err), err  # periodic
    assert "1 input overflows, 0 dropped chunks, 1 stalls;" in err  # the exit summary


def test_stop_is_bounded_when_closing_hangs_and_the_worker_is_behind(
    tiny_model, fake_audio, monkeypatch, capsys
) -> None:  # noqa: ANN001
    fake_audio.close_blocks_s = 2.5  # as closing a stalled ALSA stream does (for ever, in fact)
    feed = daemon.Worker._feed

    def slow_feed(self, chunk) -> None:  # noqa: ANN001
        time.sleep(0.25)  # 80 ms of audio take 250 ms: the queue fills up
        feed(self, chunk)

    monkeypatch.setattr(daemon.Worker, "_feed", slow_feed)
    exits: list[int] = []  # `listen` ends the process at once (os._exit) when a stream was left behind
    monkeypatch.setattr(listen, "exit_now", exits.append)
    code = listen.main(["--model", str(tiny_model.int8)])
    stop_s = time.monotonic() - fake_audio.sigterm_at[0]
    err = capsys.readouterr().err
    assert code == 0 and exits == [0], err
    assert stop_s < 2.0, f"{stop_s:.2f} s from SIGTERM to the end"
    assert "closing Fake mic (device 0) did not finish within 1 s; leaving it behind" in err
    assert "a stalled stream still blocks PortAudio; skipping its clean-up at exit" in err
    deadline = time.monotonic() + 10
    while watchdog.stuck_calls() and time.monotonic() < deadline:  # the fake's close ends after 2.5 s
        time.sleep(0.05)
    assert watchdog.stuck_calls() == 0
    atexit.register(sd._exit_handler)  # unregistered by the daemon for this process's exit


@pytest.mark.parametrize(
    "device, message",
    [
        ("99", "--device 99: no such device (devices are numbered 0 to 3); see `audio-lstm listen --list-devices`"),
        ("1", "--device 1: Fake speaker (device 1) has no input channels"),
        (
            "mic",
            "--device 'mic' matches several input devices: [0] Fake mic, ALSA; [2] Other mic, ALSA; [3] USB mic, ALSA; "
            "give its index or more of its name",
        ),
        ("webcam", "--device 'webcam': No input device matching 'webcam'; see"),
    ],
)
def test_a_device_that_cannot_work_exits_2(tiny_model, fake_audio, capsys, device: str, message: str) -> None:  # noqa: ANN001
    started = time.monotonic()
    assert listen.main(["--model", str(tiny_model.int8), "--device", device]) == 2
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert fake_audio.opened == []


def test_no_input_device_at_all_exits_2(tiny_model, fake_audio, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setattr(microphone, "default_input_index", lambda sd: -1)
    monkeypatch.setattr(sd, "query_devices", lambda device=None, kind=None: [DEVICES[1]])
    assert listen.main(["--model", str(tiny_model.int8)]) == 2
    assert capsys.readouterr().err == (
        "audio-lstm listen: no audio input device found; see `audio-lstm listen --list-devices`\n"
    )


def test_a_device_that_vanishes_later_is_retried(tiny_model, fake_audio, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.setattr(microphone, "BACKOFF_START_S", 0.05)
    fake_audio.stall_after = 1
    lookups = {"n": 0}

    def vanishing(device=None, kind=None):  # noqa: ANN001, ANN202
        lookups["n"] += 1
        if lookups["n"] in (2, 3):  # after the first stream (looked up at start-up): gone for two attempts
            raise ValueError(f"No input device matching {device!r}")
        return fake_query_devices(device, kind)

    monkeypatch.setattr(sd, "query_devices", vanishing)
    assert listen.main(["--model", str(tiny_model.int8), "--device", "USB", "--stall-s", "0.3"]) == 0
    err = capsys.readouterr().err
    assert err.count("audio device error: --device 'USB': No input device matching 'USB'") == 2, err
    assert [opened["device"] for opened in fake_audio.opened] == [3, 3]


def test_capture_holds_blocks_until_the_worker_needs_them() -> None:
    capture = daemon.CaptureQueue(8)
    blocks = [np.full((100, 1), k, np.float32) for k in range(5)]
    capture.release_samples = 250
    for block in blocks[:3]:
        capture.callback(block, 100, None, Flags(overflow=False))
    held_over = capture.queue.get_nowait()
    np.testing.assert_array_equal(held_over, np.repeat([0.0, 1.0, 2.0], 100).astype(np.float32))
    assert capture.queue.empty()
    capture.callback(blocks[3], 100, None, Flags(overflow=False))  # held: 100 < 250
    capture.new_stream()  # a new stream: the old stream's block and the hint are forgotten
    capture.callback(blocks[4], 100, None, Flags(overflow=False))
    np.testing.assert_array_equal(capture.queue.get_nowait(), blocks[4][:, 0])


class _EveryBlock(daemon.CaptureQueue):
    """The hand-off before holding: every block goes to the worker at once, whatever the worker asks."""

    @property
    def release_samples(self) -> int:
        return 0

    @release_samples.setter
    def release_samples(self, value: int) -> None:
        pass


def test_the_worker_wakes_once_per_model_call_and_finds_the_same_events(tiny_model) -> None:  # noqa: ANN001
    """44.1 kHz capture in 80 ms blocks through the real worker: held until the model needs audio,
    the hand-off gives the worker one item per model call, and the same events as every block."""
    rate, block = 44100, 3528
    audio = soxr.resample(test_signal(6.0, 16000), 16000, rate).astype(np.float32)
    audio = np.concatenate([audio, np.zeros(rate, np.float32)])  # a quiet second: nothing left held

    def run(capture: daemon.CaptureQueue) -> tuple[list[str], list[int]]:
        handed: list[int] = []
        put = capture.queue.put_nowait
        capture.queue.put_nowait = lambda item: (handed.append(len(item)), put(item))[1]  # type: ignore[method-assign]
        classifier = StreamingClassifier(tiny_model.int8)
        thresholds = {label: 0.2 for label in EVENT_LABELS if label in classifier.labels}
        out = io.StringIO()
        worker = daemon.Worker(capture, classifier, make_detector(classifier, thresholds), daemon.EventSink(out))
        worker.start()
        worker.restart(rate)
        for start in range(0, len(audio) - block + 1, block):
            capture.callback(audio[start : start + block, None], block, None, Flags(overflow=False))
            while not capture.queue.empty():  # the worker keeps up, as in real time
                time.sleep(0.001)
            time.sleep(0.005)
        worker.finish(timeout=None)
        events = [json.loads(line) for line in out.getvalue().splitlines()]
        return [f"{e['label']} {e['start_s']} {e['end_s']}" for e in events], handed

    held_events, held = run(daemon.CaptureQueue(1000))
    every_events, every = run(_EveryBlock(1000))
    blocks = len(audio) // block
    assert every == [block] * blocks
    assert held_events == every_events and held_events
    assert sum(held) > len(audio) - rate  # only the quiet tail may be left held
    # The first block goes over at once (no hint yet); the first group (2912 samples at 16 kHz) is
    # complete with the third block, and each later one (2560 samples = 7056 at 44.1 kHz) with every
    # second block: one hand-off per group, none early (empty) and none a block late.
    assert held == [block] + [2 * block] * (len(held) - 1), held
