"""`audio-lstm listen` end to end through a real PortAudio/ALSA capture stream, no microphone needed.

The capture device is `bench/alsa_rig.py`'s: alsa-lib's `file` plugin over the `null` PCM, paced in
real time. Its ``infile`` holds 1 s of low noise, examples/clips/stop.flac, 1.5 s of low noise. The
daemon runs as a subprocess with ``HOME`` pointing at the temporary folder; the test waits for the
"stop" JSON line, sends SIGTERM and checks a clean exit. Skipped when PortAudio cannot be loaded,
has no ALSA host API or does not expose the device.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soxr
from alsa_rig import DEVICE, PACER, PROBE, asoundrc, rig_env

from audio_lstm.device.audio_io import load_audio

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "examples" / "clips" / "stop.flac"
LEAD_S, TAIL_S = 1.0, 1.5  # quiet audio before and after the keyword
EVENT_TIMEOUT_S = 15.0  # daemon start-up (imports, model load) + 3.5 s of real-time audio, generously
# SIGTERM -> exit, timed from the signal: the signal wakes the daemon at once; it closes the stream (0.3 s here;
# given up after 1 s) while the worker drains for <= 0.5 s, then the interpreter exits. Typically
# 0.4-0.6 s; the margin is for a loaded 2-core CI machine.
STOP_LIMIT_S = 2.0


def _stream_audio(rate: int, seed: int = 0) -> np.ndarray:
    """Low noise, the stop clip (as int16 PCM), low noise: float32 at `rate`."""
    clip = np.round(np.clip(load_audio(CLIP), -1.0, 1.0) * 32767).astype(np.int16)
    rng = np.random.default_rng(seed)

    def quiet(seconds: float) -> np.ndarray:
        return np.round(rng.normal(0.0, 10.0, int(seconds * 16000))).astype(np.int16)  # about -70 dBFS

    pcm16 = np.concatenate([quiet(LEAD_S), clip, quiet(TAIL_S)])
    audio = pcm16.astype(np.float32) / 32768.0
    if rate != 16000:
        audio = soxr.resample(audio, 16000, rate, quality="HQ").astype(np.float32)
    return audio


def _reader(stream, lines: queue.Queue) -> None:  # noqa: ANN001
    for line in stream:
        lines.put(line)
    lines.put(None)


def test_listen_detects_stop_through_alsa_file_capture(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    pacer = tmp_path / "pacer.py"
    pacer.write_text(PACER)
    infile = tmp_path / "capture.f32"
    infile.write_bytes(b"")
    # First with a placeholder byte rate: the probe only needs the device to exist.
    (home / ".asoundrc").write_text(asoundrc(infile, pacer, 64000))
    env = rig_env(home)
    probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    if "skip" in found:
        pytest.skip(found["skip"])
    rate = int(found["rate"])  # what `listen` will open the device at (its default rate)
    audio = _stream_audio(rate)
    audio.astype("<f4").tofile(infile)
    (home / ".asoundrc").write_text(asoundrc(infile, pacer, 4 * rate))  # float32 mono, real time

    command = [sys.executable, "-m", "audio_lstm.cli", "listen", "--device", DEVICE, "--threshold", "stop=0.5"]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out_lines: queue.Queue = queue.Queue()
    err_lines: queue.Queue = queue.Queue()
    readers = [
        threading.Thread(target=_reader, args=(process.stdout, out_lines), daemon=True),
        threading.Thread(target=_reader, args=(process.stderr, err_lines), daemon=True),
    ]
    for reader in readers:
        reader.start()
    events: list[dict] = []
    stderr: list[str] = []

    def drain_stderr() -> str:
        while True:
            try:
                line = err_lines.get_nowait()
            except queue.Empty:
                return "".join(stderr)
            if line is not None:
                stderr.append(line)

    try:
        started = time.monotonic()
        deadline = started + EVENT_TIMEOUT_S
        while time.monotonic() < deadline and not any(event["label"] == "stop" for event in events):
            try:
                line = out_lines.get(timeout=0.1)
            except queue.Empty:
                if process.poll() is not None:
                    break
                continue
            if line is None:
                break
            events.append(json.loads(line))
        assert any(event["label"] == "stop" for event in events), (
            f"no stop event within {EVENT_TIMEOUT_S} s; events {events}; exit {process.poll()}; "
            f"stderr:\n{drain_stderr()}"
        )
        # Keep listening past the end of `infile` (capture continues on the quiet ring buffer).
        total_audio_s = len(audio) / rate
        time.sleep(max(0.0, min(2.0, started + total_audio_s + 1.0 - time.monotonic())))
        assert process.poll() is None, f"the daemon exited on its own; stderr:\n{drain_stderr()}"

        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = process.wait(timeout=10)
        stop_s = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    for reader in readers:
        reader.join(5)
    while True:  # events printed between the first stop line and the exit
        line = out_lines.get_nowait() if not out_lines.empty() else None
        if line is None:
            break
        events.append(json.loads(line))
    err = drain_stderr()

    assert code == 0, err
    assert stop_s < STOP_LIMIT_S, f"took {stop_s:.2f} s to stop after SIGTERM"
    assert f"listening on {DEVICE} (device {found['index']}) at {rate} Hz" in err
    stops = [event for event in events if event["label"] == "stop"]
    assert len(stops) == 1, events
    stop = stops[0]
    assert set(stop) == {"time", "label", "start_s", "end_s", "score"}
    assert stop["score"] >= 0.5
    # The clip occupies [1.0, 2.0) s of the captured stream (times count audio since the start).
    assert LEAD_S - 0.1 < stop["start_s"] <= stop["end_s"] < LEAD_S + 1.5, stop  # crossing: end_s = start_s
    assert "stopped after" in err
