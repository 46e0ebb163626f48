"""`audio-lstm listen` outputs under stress (issue 21): --exec hooks that print, a full disk under
--events-file, log rotation with SIGHUP.

The real CLI runs as a subprocess on `--input -` (a pipe that stays open while the test looks at
the running daemon) or `--input FILE`; no microphone is needed.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_listen_input import DEMO, demo, int16, reference  # noqa: F401 - fixtures

WAIT_S = 60.0  # start-up (imports, model load) and 12 s of audio, as fast as the machine goes


class Listen:
    """`audio-lstm listen ARGS` with a pipe on stdin; stdout and stderr collected by threads."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "audio_lstm.cli", "listen", *args],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:  # noqa: ANN001
        for line in stream:
            lines.append(line.decode(errors="replace"))

    def feed(self, data: bytes) -> None:
        for start in range(0, len(data), 4096):
            self.process.stdin.write(data[start : start + 4096])
        self.process.stdin.flush()

    def wait_until(self, what: str, condition, timeout: float = WAIT_S) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline and self.process.poll() is None, (
                f"{what}: not within {timeout} s (exit {self.process.poll()}); stdout:\n{''.join(self.out)}\n"
                f"stderr:\n{''.join(self.err)}"
            )
            time.sleep(0.05)

    def close(self, timeout: float = WAIT_S) -> tuple[int, str, str]:
        self.process.stdin.close()
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code, "".join(self.out), "".join(self.err)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def _zombie_children(pid: int) -> list[int]:
    zombies = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] == "Z":
                zombies.append(int(entry))
    return zombies


def test_exec_output_goes_to_stderr_and_hooks_are_reaped(tmp_path, reference, demo) -> None:  # noqa: ANN001, F811
    hook = "sh -c 'echo hook-out $AUDIO_LSTM_LABEL; echo hook-err $AUDIO_LSTM_LABEL >&2'"
    daemon = Listen(["--input", "-", "--exec", hook], tmp_path)
    try:
        daemon.feed(int16(demo))
        count = len(reference)
        daemon.wait_until("all events", lambda: sum(line.startswith("{") for line in daemon.out) >= count)
        daemon.wait_until("every hook's output", lambda: sum("hook-err" in line for line in daemon.err) >= count)
        time.sleep(0.5)  # the hooks have exited: each is reaped within 0.1 s
        zombies = _zombie_children(daemon.process.pid)
        assert daemon.process.poll() is None
        code, out, err = daemon.close()
    finally:
        daemon.kill()
    assert zombies == [], f"zombie --exec children {zombies}"
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]  # only JSON lines on stdout
    assert [event["label"] for event in events] == [event["label"] for event in reference]
    prefixed = [line for line in err.splitlines() if line.startswith("exec[")]
    assert sorted(line.split("]: ", 1)[1] for line in prefixed) == sorted(
        [f"hook-out {event['label']}" for event in reference] + [f"hook-err {event['label']}" for event in reference]
    )


def test_exec_output_null(tmp_path, reference) -> None:  # noqa: ANN001, F811
    hook = "sh -c 'echo hook-out; echo hook-err >&2'"
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "audio_lstm.cli",
            "listen",
            "--input",
            str(DEMO),
            "--exec",
            hook,
            "--exec-output",
            "null",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    assert len([json.loads(line) for line in process.stdout.splitlines()]) == len(reference)
    assert "hook-" not in process.stderr


def test_full_disk_under_events_file_is_survived(tmp_path, reference) -> None:  # noqa: ANN001, F811
    process = subprocess.run(
        [sys.executable, "-m", "audio_lstm.cli", "listen", "--input", str(DEMO), "--events-file", "/dev/full"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    events = [json.loads(line) for line in process.stdout.splitlines()]
    assert [event["label"] for event in events] == [event["label"] for event in reference]
    assert process.stderr.count("cannot write --events-file /dev/full") == 1, process.stderr
    assert "No space left on device" in process.stderr
    assert "Traceback" not in process.stderr
    assert f"{len(reference)} events; {len(reference)} events not written to /dev/full" in process.stderr


def test_sighup_reopens_the_events_file(tmp_path, reference, demo) -> None:  # noqa: ANN001, F811
    path = tmp_path / "events.jsonl"
    daemon = Listen(["--input", "-", "--events-file", str(path)], tmp_path)
    count = len(reference)
    try:
        daemon.feed(int16(demo))
        daemon.wait_until("the first events", lambda: len(daemon.out) >= count)
        path.rename(tmp_path / "events.jsonl.1")  # as logrotate does, then it signals the daemon
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_until("the reopen", lambda: any("reopened --events-file" in line for line in daemon.err), 10)
        assert path.exists()
        daemon.feed(int16(demo))
        code, out, err = daemon.close()
    finally:
        daemon.kill()
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) > count
    assert (tmp_path / "events.jsonl.1").read_text().splitlines() == lines[:count]
    assert path.read_text().splitlines() == lines[count:]


def test_events_file_recovers_after_failures(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from audio_lstm.device import events_file as events_file_module
    from audio_lstm.device.events_file import EventsFile

    monkeypatch.setattr(events_file_module, "RETRY_START_S", 0.0)
    path = tmp_path / "events.jsonl"
    sink = EventsFile(path)
    real_write = os.write
    calls = {"left": 4}

    def flaky_write(fd: int, data: bytes) -> int:
        """A disk that fills up: a short write of 5 bytes, then ENOSPC three times, then room again."""
        if fd != sink.fd or calls["left"] == 0:
            return real_write(fd, data)
        calls["left"] -= 1
        if calls["left"] == 3:
            return real_write(fd, data[:5])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(events_file_module.os, "write", flaky_write)
    for number in range(6):
        sink.write(json.dumps({"n": number}))
    sink.close()
    err = capsys.readouterr().err
    assert err.count("cannot write --events-file") == 1 and "No space left on device" in err
    assert "writing again; 3 events were not written to it" in err
    lines = path.read_text().splitlines()
    assert lines[0] == '{"n":'  # the torn line is ended, the next one starts on its own line
    assert [json.loads(line) for line in lines[1:]] == [{"n": 3}, {"n": 4}, {"n": 5}]
    assert sink.summary() == f"3 events not written to {path}"


def test_hook_output_lines_are_prefixed(tmp_path, capsys) -> None:  # noqa: ANN001
    from audio_lstm.device.detector import Event
    from audio_lstm.device.hooks import CommandRunner

    long_line = "x" * 5000
    runner = CommandRunner(f"{sys.executable} -c \"import sys; sys.stdout.write('a\\\\nb\\\\n' + {long_line!r})\"")
    runner.run(Event("yes", 0.0, 0.0, 0.9))
    pid = runner.children[0].pid
    deadline = time.monotonic() + 10
    while runner.children and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runner.children == []  # reaped by the runner's thread, without another event
    time.sleep(0.3)
    runner.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[:2] == [f"exec[{pid}]: a", f"exec[{pid}]: b"]
    assert "".join(line.split("]: ", 1)[1] for line in lines[2:]) == long_line and len(lines) == 4
    assert np.all([line.startswith(f"exec[{pid}]: ") for line in lines])


@pytest.mark.parametrize("mode", ["bogus"])
def test_exec_output_mode_is_checked(mode: str) -> None:
    from audio_lstm.device.hooks import CommandRunner

    with pytest.raises(ValueError, match="--exec-output"):
        CommandRunner("true", mode)
