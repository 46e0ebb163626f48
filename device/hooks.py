"""`listen --exec`: one command per event, run without a shell and without waiting for it.

A command's stdout and stderr never reach the daemon's stdout (that carries only JSON lines):
with `--exec-output stderr` (the default) both go through one pipe per command, read by a small
thread that copies each line to the daemon's stderr as ``exec[PID]: LINE``; with `null` they go
to /dev/null. The same thread reaps each command as soon as it exits (`Popen.poll`, every
`REAP_POLL_S`): no zombie waits for the next event. The thread runs only while commands run or
their pipes are open. At exit, still-running commands are left to finish on their own; with
`stderr`, their output pipe closes with the daemon (later writes fail with EPIPE).
"""

from __future__ import annotations

import os
import select
import shlex
import shutil
import subprocess
import sys
import threading
import time
from typing import IO

from audio_lstm.device.detector import Event
from audio_lstm.device.messages import warn

MAX_CHILDREN = 8  # --exec commands still running beyond this are not started again (reported)
REAP_POLL_S = 0.1  # how soon a finished command is reaped
MAX_LINE = 4096  # longer output without a newline is cut into lines of this many bytes
OUTPUT_MODES = ("stderr", "null")
CLOSE_DRAIN_S = 0.2  # at close, how long the output thread may still copy what is there


class CommandRunner:
    """Runs `--exec` for each event; `output` is "stderr" (prefixed lines) or "null"."""

    def __init__(self, command: str, output: str = "stderr") -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as error:
            raise ValueError(f"--exec: cannot parse {command!r}: {error}") from error
        if not self.argv:
            raise ValueError("--exec: empty command")
        if shutil.which(self.argv[0]) is None:
            raise ValueError(f"--exec: command not found: {self.argv[0]}")
        if output not in OUTPUT_MODES:
            raise ValueError(f"--exec-output: expected one of {', '.join(OUTPUT_MODES)}, got {output!r}")
        self.output = output
        self.children: list[subprocess.Popen] = []
        self._pipes: dict[int, tuple[int, IO[bytes], bytearray]] = {}  # fd -> (pid, pipe, partial line)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closing = False

    def reap(self) -> None:
        """Forget children that have finished (poll() collects their exit status)."""
        with self._lock:
            self.children = [child for child in self.children if child.poll() is None]

    def run(self, event: Event) -> None:
        """Start the command for `event` (not when `MAX_CHILDREN` still run); never waits for it."""
        self.reap()
        if len(self.children) >= MAX_CHILDREN:
            warn(f"--exec: {len(self.children)} commands still running; not starting another for {event.label}")
            return
        env = dict(
            os.environ,
            AUDIO_LSTM_LABEL=event.label,
            AUDIO_LSTM_SCORE=f"{event.score:.4f}",
            AUDIO_LSTM_START_S=f"{event.start_s:.3f}",
            AUDIO_LSTM_END_S=f"{event.end_s:.3f}",
        )
        out = subprocess.PIPE if self.output == "stderr" else subprocess.DEVNULL
        try:
            child = subprocess.Popen(
                self.argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                close_fds=True,
                start_new_session=True,
            )  # a Ctrl-C at the terminal is ours, not theirs
        except OSError as error:
            warn(f"--exec: cannot run {self.argv[0]}: {error}")
            return
        with self._lock:
            self.children.append(child)
            if child.stdout is not None:
                self._pipes[child.stdout.fileno()] = (child.pid, child.stdout, bytearray())
            if self._thread is None and not self._closing:
                self._thread = threading.Thread(target=self._pump, name="audio-lstm-exec", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Copy what the commands have written so far (briefly), reap what has finished, stop the
        thread; still-running commands are left to finish on their own."""
        with self._lock:
            self._closing = True
            thread = self._thread
        if thread is not None:
            thread.join(CLOSE_DRAIN_S + 2 * REAP_POLL_S)
        self.reap()
        with self._lock:
            for _, pipe, partial in self._pipes.values():
                pipe.close()
                partial.clear()
            self._pipes.clear()

    def _pump(self) -> None:
        """Thread: copy output lines to stderr and reap finished commands, while there are any."""
        closing_since: float | None = None
        while True:
            with self._lock:
                self.children = [child for child in self.children if child.poll() is None]
                if self._closing and closing_since is None:
                    closing_since = time.monotonic()
                done = not self.children and not self._pipes
                late = closing_since is not None and time.monotonic() - closing_since > CLOSE_DRAIN_S
                if done or late:
                    self._thread = None
                    return
                fds = list(self._pipes)
            if not fds:
                threading.Event().wait(REAP_POLL_S)
                continue
            try:
                ready, _, _ = select.select(fds, [], [], REAP_POLL_S)
            except (OSError, ValueError):  # a pipe closed under us by close()
                continue
            for fd in ready:
                self._read(fd)

    def _read(self, fd: int) -> None:
        with self._lock:
            entry = self._pipes.get(fd)
        if entry is None:
            return
        pid, pipe, partial = entry
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:  # end of output: what is left is the last line
            if partial:
                _copy(pid, bytes(partial))
            with self._lock:
                self._pipes.pop(fd, None)
            pipe.close()
            return
        partial += data
        while True:
            end = partial.find(b"\n")
            if end < 0 and len(partial) < MAX_LINE:
                break
            cut = end if 0 <= end < MAX_LINE else MAX_LINE
            _copy(pid, bytes(partial[:cut]))
            del partial[: cut + (1 if cut == end else 0)]


def _copy(pid: int, line: bytes) -> None:
    """One line of a command's output to the daemon's stderr, in one write."""
    text = line.decode("utf-8", errors="replace").rstrip("\r")
    stream = sys.stderr
    try:
        stream.write(f"exec[{pid}]: {text}\n")
        stream.flush()
    except (OSError, ValueError):  # stderr gone: nothing to report it to
        pass
