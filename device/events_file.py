"""`listen --events-file`: each event's JSON line appended to a file that may fail or be rotated.

A write that fails (disk full, I/O error, file removed with its directory) never stops the daemon:
one warning names the file and the error, events go on to stdout (and the other sinks), and the
file is opened again at the first event after a back-off (1, 2, 4 ... `RETRY_MAX_S` s); a success
after failures says so once, with the number of events the file missed. `request_reopen` (SIGHUP,
for log rotation) closes the file and opens the path again, from the thread that writes.

Lines are written with one unbuffered ``write`` on an O_APPEND descriptor: no half line is kept in
a buffer after a failure, and a line cut short by a full disk is ended before the next one.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from audio_lstm.device.messages import warn

RETRY_START_S, RETRY_MAX_S = 1.0, 60.0  # back-off between attempts while the file fails
FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class EventsFile:
    """An append-only JSON-lines file that survives write errors and reopens on request.

    Opening `path` when constructed raises OSError (a bad path is a usage error at start-up);
    every later error is handled here.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = os.open(path, FLAGS, 0o666)
        self.missed = 0  # events not written since the file started failing
        self.missed_total = 0
        self._failing = False
        self._delay = RETRY_START_S
        self._retry_at = 0.0
        self._reopen = False
        self._torn = False  # the last write may have left a line without its newline

    def request_reopen(self) -> None:
        """Ask for the path to be opened again at the next `poll` or `write` (safe in a signal handler)."""
        self._reopen = True

    def poll(self) -> None:
        """Carry out a requested reopen (call from the writing thread)."""
        if self._reopen:
            self._reopen = False
            self._close()
            self._torn = False  # a rotated file: the new one starts clean
            if self._open():
                warn(f"reopened --events-file {self.path}")

    def write(self, line: str) -> None:
        """Append `line` and a newline; on failure warn (once per outage) and keep going."""
        self.poll()
        if self.fd is None and (time.monotonic() < self._retry_at or not self._open()):
            self._miss()
            return
        data = (line + "\n").encode("utf-8")
        if self._torn:
            data = b"\n" + data
        try:
            written = 0
            while written < len(data):
                written += os.write(self.fd, data[written:])  # type: ignore[arg-type]
        except OSError as error:
            self._torn = self._torn or written > 0
            self._fail(error)
            self._miss()
            return
        self._torn = False
        if self._failing:
            warn(f"--events-file {self.path}: writing again; {self.missed} events were not written to it")
            self._failing, self.missed, self._delay = False, 0, RETRY_START_S

    def close(self) -> None:
        """Close the file (events still come to stdout)."""
        self._close()

    def summary(self) -> str:
        """'' or how many events the file missed, for the daemon's exit line."""
        return f"{self.missed_total} events not written to {self.path}" if self.missed_total else ""

    def _open(self) -> bool:
        try:
            self.fd = os.open(self.path, FLAGS, 0o666)
        except OSError as error:
            self._fail(error)
            return False
        return True

    def _close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None

    def _fail(self, error: OSError) -> None:
        self._close()
        if not self._failing:
            self._failing = True
            warn(
                f"cannot write --events-file {self.path}: {error.strerror or error}; events still go to stdout; "
                f"retrying from time to time"
            )
        else:
            self._delay = min(self._delay * 2, RETRY_MAX_S)
        self._retry_at = time.monotonic() + self._delay

    def _miss(self) -> None:
        self.missed += 1
        self.missed_total += 1
