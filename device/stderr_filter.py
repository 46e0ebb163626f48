"""Rate limit for what PortAudio and alsa-lib print straight to file descriptor 2.

When a device vanishes, every attempt to open it makes PortAudio print a chain of C assertions
(``Expression '...' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 1736``) and alsa-lib an
``ALSA lib ...`` line: the same five lines or so at every retry, for as long as the device is gone.
They are written with C stdio to fd 2, below Python's `sys.stderr`, so only the descriptor itself
can be filtered: `NativeStderrFilter.install` points fd 2 at a pipe read by a small thread and
gives Python's own `sys.stderr` (and faulthandler) a duplicate of the real stderr, so that the
daemon's messages and Python tracebacks never depend on the thread. The thread copies every line
from the pipe, except such library lines already seen in the current window (`WINDOW_S`) or beyond
`MAX_DISTINCT` new ones per window: those are counted, and the count is printed once the window
ends or the filter is removed: ``(N more PortAudio/ALSA messages suppressed)``.

Installed only when `sys.stderr` writes to fd 2 (never inside a test's captured stderr), and only
for the microphone; `remove` restores fd 2. Child processes started meanwhile (PortAudio's ALSA
plugins may start some) inherit the pipe as their stderr: their lines are copied too.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import os
import re
import select
import sys
import threading
import time
from typing import TextIO

from audio_lstm.device.messages import PROG

NOISE = re.compile(rb"^(Expression '.*' failed in '.*'|ALSA lib |PaAlsa|PaUnix)")
WINDOW_S = 60.0  # repeats are suppressed within this window; the count is printed at its end
MAX_DISTINCT = 20  # different library lines shown per window
JOIN_S = 2.0  # how long `remove` waits for the thread to copy what is left
MAX_LINE = 4096


class NativeStderrFilter:
    """Point fd 2 at a filtering pipe (`install`) and back (`remove`)."""

    def __init__(self) -> None:
        self.suppressed_total = 0
        self._saved: int | None = None  # the real stderr while installed
        self._out = 2  # the thread's copy of `_saved`
        self._read_fd: int | None = None
        self._wake: tuple[int, int] | None = None  # a pipe that wakes the thread for `remove`
        self._python_stderr: TextIO | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._seen: set[bytes] = set()
        self._suppressed = 0
        self._window_end = 0.0

    def install(self) -> bool:
        """Filter fd 2 from now on; False (and nothing changed) when sys.stderr is not fd 2."""
        try:
            if sys.stderr.fileno() != 2:
                return False
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return False
        sys.stderr.flush()
        self._saved = os.dup(2)  # the real stderr, not inherited by children
        self._read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        self._python_stderr = sys.stderr
        sys.stderr = io.TextIOWrapper(
            io.FileIO(self._saved, "w", closefd=False),
            encoding=sys.stderr.encoding,
            errors="backslashreplace",
            line_buffering=True,
            write_through=True,
        )
        if faulthandler.is_enabled():
            faulthandler.enable(file=sys.stderr)
        self._window_end = time.monotonic() + WINDOW_S
        self._wake = os.pipe()
        self._thread = threading.Thread(target=self._run, name="audio-lstm-stderr", daemon=True)
        self._thread.start()
        return True

    def remove(self) -> None:
        """Restore fd 2 and sys.stderr, copy what is left in the pipe and print the count."""
        if self._saved is None:
            return
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # writers from now on reach the real stderr; the pipe drains
        self._stop.set()
        if self._wake is not None:
            os.write(self._wake[1], b"\0")
        if self._thread is not None:
            self._thread.join(JOIN_S)
        sys.stderr = self._python_stderr  # type: ignore[assignment]
        if faulthandler.is_enabled():
            faulthandler.enable(file=sys.stderr)
        if self._thread is None or not self._thread.is_alive():  # else the thread may still use them
            os.close(self._saved)
            if self._wake is not None:
                for fd in self._wake:
                    os.close(fd)
        self._wake = None
        self._saved = None  # the thread keeps its own copy of the number

    def _run(self) -> None:
        assert self._read_fd is not None and self._saved is not None
        self._out = self._saved
        try:
            self._copy()
        except BaseException:
            if self._saved is not None:
                os.dup2(self._out, 2)  # never leave fd 2 on a pipe that nobody reads
            raise

    def _copy(self) -> None:
        assert self._read_fd is not None and self._wake is not None
        partial, wake = b"", self._wake[0]
        while True:
            # Sleeps until a line comes, the window ends or `remove` wakes it: no periodic wake-ups.
            woken, _, _ = select.select([self._read_fd, wake], [], [], max(0.0, self._window_end - time.monotonic()))
            ready = self._read_fd in woken
            data = os.read(self._read_fd, 65536) if ready else b""
            if ready and not data:  # every writer has gone
                break
            lines = (partial + data).split(b"\n")
            partial = lines.pop()
            if len(partial) > MAX_LINE:
                lines.append(partial)
                partial = b""
            for line in lines:
                self._line(line)
            self._end_window(time.monotonic() >= self._window_end)
            if self._stop.is_set() and not ready:
                break
        if partial:
            self._line(partial)
        self._end_window(True)
        os.close(self._read_fd)  # children still holding the write end get EPIPE from now on

    def _line(self, line: bytes) -> None:
        if NOISE.match(line):
            if line in self._seen or len(self._seen) >= MAX_DISTINCT:
                self._suppressed += 1
                return
            self._seen.add(line)
        self._write(line + b"\n")

    def _end_window(self, ended: bool) -> None:
        if not ended:
            return
        if self._suppressed:
            self._write(f"{PROG}: ({self._suppressed} more PortAudio/ALSA messages suppressed)\n".encode())
            self.suppressed_total += self._suppressed
        self._suppressed = 0
        self._seen.clear()
        self._window_end = time.monotonic() + WINDOW_S

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self._out, data)
