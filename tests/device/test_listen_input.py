"""`audio-lstm listen --input`: a pipe (raw PCM or a WAV stream) or a file through the daemon's own path.

The real CLI runs as a subprocess fed through a real pipe; the reference is `audio-lstm classify`
on the same recording with the bundled model.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import soxr
from helpers import demo_events_at_crossing

from audio_lstm.device import listen

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "stream_demo.flac"
EXACT_S = 0.0011  # same audio, same model: times equal to the ms
RESAMPLED_S = 0.1  # through 48 kHz and back


@pytest.fixture(scope="module")
def reference() -> list[dict]:
    return demo_events_at_crossing()


@pytest.fixture(scope="module")
def demo() -> np.ndarray:
    audio, rate = soundfile.read(str(DEMO), dtype="float32")
    assert rate == 16000
    return audio


def int16(audio: np.ndarray) -> bytes:
    return np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2").tobytes()


def run_listen(args: list[str], data: bytes | None, tmp_path: Path, piece: int = 4093) -> tuple[int, list[dict], str]:
    """Run `audio-lstm listen ARGS`, writing `data` to its stdin pipe in `piece`-byte writes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "audio_lstm.cli", "listen", *args],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if data is not None:
        for start in range(0, len(data), piece):
            proc.stdin.write(data[start : start + piece])
            proc.stdin.flush()
    out, err = proc.communicate(timeout=120)
    return proc.returncode, [json.loads(line) for line in out.decode().splitlines()], err.decode()


def assert_same_events(got: list[dict], want: list[dict], tolerance: float) -> None:
    assert [e["label"] for e in got] == [e["label"] for e in want], (got, want)
    for a, b in zip(got, want):
        assert abs(a["start_s"] - b["start_s"]) <= tolerance and abs(a["end_s"] - b["end_s"]) <= tolerance, (a, b)


def test_raw_pcm_pipe_goes_through_the_whole_daemon_path(tmp_path, reference, demo) -> None:  # noqa: ANN001
    events_file, marker = tmp_path / "events.jsonl", tmp_path / "exec.txt"
    hook = (
        f"{sys.executable} -c \"import os; open({str(marker)!r}, 'a').write(os.environ['AUDIO_LSTM_LABEL'] + '\\n')\""
    )
    code, events, err = run_listen(
        ["--input", "-", "--events-file", str(events_file), "--exec", hook], int16(demo), tmp_path
    )
    assert code == 0, err
    assert_same_events(events, reference, EXACT_S)
    assert [json.loads(line) for line in events_file.read_text().splitlines()] == events
    assert (
        f"end of input after 12.0 s of audio from raw PCM on stdin (16000 Hz, 1 ch, 16-bit); {len(reference)} "
        "events" in err
    )
    deadline = time.monotonic() + 10
    while (not marker.exists() or len(marker.read_text().split()) < len(reference)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(marker.read_text().split()) == sorted(e["label"] for e in reference)


def test_raw_pcm_at_another_rate_and_channels(tmp_path, reference, demo) -> None:  # noqa: ANN001
    up = soxr.resample(demo, 16000, 44100, quality="HQ")
    stereo = np.stack([up * 1.2, up * 0.8], axis=1)  # the mean of the channels is the recording
    code, events, err = run_listen(
        ["--input", "-", "--input-rate", "44100", "--input-channels", "2"], int16(stereo), tmp_path, piece=1001
    )
    assert code == 0, err
    assert_same_events(events, reference, RESAMPLED_S)


@pytest.mark.parametrize("rate, channels, subtype", [(16000, 1, "PCM_16"), (48000, 2, "PCM_24")])
def test_wav_stream_pipe(tmp_path, reference, demo, rate, channels, subtype) -> None:  # noqa: ANN001
    audio = demo if rate == 16000 else soxr.resample(demo, 16000, rate, quality="HQ")
    if channels == 2:
        audio = np.stack([audio, audio], axis=1)
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, rate, subtype=subtype, format="WAV")
    wav = bytearray(buffer.getvalue())
    data_at = wav.index(b"data")
    wav[data_at + 4 : data_at + 8] = b"\xff\xff\xff\xff"  # as a streaming writer leaves it: length unknown
    wav[4:8] = b"\xff\xff\xff\xff"
    code, events, err = run_listen(["--input", "-"], bytes(wav), tmp_path)
    assert code == 0, err
    assert_same_events(events, reference, EXACT_S if rate == 16000 else RESAMPLED_S)
    assert f"a WAV stream on stdin ({rate} Hz, {channels} ch" in err


def test_input_file_fast_and_realtime(tmp_path, reference, demo, capsys) -> None:  # noqa: ANN001
    started = time.monotonic()
    assert listen.main(["--input", str(DEMO)]) == 0
    fast = time.monotonic() - started
    captured = capsys.readouterr()
    assert_same_events([json.loads(line) for line in captured.out.splitlines()], reference, EXACT_S)
    assert fast < 8.0, fast  # 12 s of audio, not played in real time
    one_second = tmp_path / "one.ogg"
    soundfile.write(str(one_second), demo[:16000], 16000)
    started = time.monotonic()
    assert listen.main(["--input", str(one_second), "--realtime"]) == 0
    assert time.monotonic() - started >= 0.95
    assert "end of input after 1.0 s of audio" in capsys.readouterr().err


def test_sigterm_stops_a_waiting_pipe(tmp_path) -> None:  # noqa: ANN001
    proc = subprocess.Popen(
        [sys.executable, "-m", "audio_lstm.cli", "listen", "--input", "-"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdin.write(bytes(32000))  # 1 s of silence, then nothing more (the pipe stays open)
    proc.stdin.flush()
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped after 1.0 s of audio" in err.decode()


def test_bad_input_options(tmp_path, capsys) -> None:  # noqa: ANN001
    for argv, named in (
        (["--input", "-", "--input-rate", "0"], "--input-rate"),
        (["--input", "-", "--input-rate", "fast"], "--input-rate"),
        (["--input", "-", "--input-channels", "-2"], "--input-channels"),
        (["--input", str(tmp_path / "missing.wav")], "missing.wav"),
        (["--input", str(tmp_path)], "is a directory"),
        (["--input-rate", "8000"], "--input-rate"),
    ):  # without --input
        assert listen.main(argv) == 2, argv
        assert named in capsys.readouterr().err, argv
    not_audio = tmp_path / "notes.txt"
    not_audio.write_text("hello")
    assert listen.main(["--input", str(not_audio)]) == 2
    assert "notes.txt" in capsys.readouterr().err
    adpcm = tmp_path / "adpcm.wav"
    soundfile.write(str(adpcm), np.zeros(1600, np.float32), 16000, subtype="IMA_ADPCM")
    code, events, err = run_listen(["--input", "-"], adpcm.read_bytes(), tmp_path)
    assert code == 2 and events == [] and "not PCM or float audio" in err
