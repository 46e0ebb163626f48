"""Signals for the live daemon: SIGINT/SIGTERM ask it to stop, SIGHUP reopens the events file, and the
main thread sleeps until one of them (or another thread's `wake`) comes instead of polling.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from typing import Any


class StopSignals:
    """SIGINT/SIGTERM set `stopping` (a plain flag: safe inside a handler) between `install` and `restore`;
    SIGHUP calls `hangup` (which must only set a flag), e.g. `EventSink.request_reopen`.

    `wait(timeout)` is the main thread's sleep: it returns at once when a signal arrives or any
    thread calls `wake` (a self-pipe that is also Python's signal wake-up fd), so the main thread
    need not wake up periodically to notice a stop. Only the main thread may install handlers;
    elsewhere `install` and `restore` do nothing and `wait` is a plain sleep.
    """

    def __init__(self, hangup: Callable[[], None] | None = None) -> None:
        self.stopping = False
        self.hangup = hangup
        self._previous: dict[int, Any] = {}
        self._pipe: tuple[int, int] | None = None  # (read end, write end) while installed
        self._pipe_lock = threading.Lock()  # `restore` closes the pipe only while no `wake` writes to it
        self._previous_wakeup_fd = -1

    def request_stop(self, *_: Any) -> None:
        """Signal handler: ask the daemon to stop."""
        self.stopping = True
        self.wake()

    def _hangup(self, *_: Any) -> None:
        if self.hangup is not None:
            self.hangup()

    def install(self) -> None:
        """Install the handlers and the wake-up pipe (main thread only), remembering the previous ones."""
        if threading.current_thread() is not threading.main_thread():
            return
        read_fd, write_fd = os.pipe()
        for fd in (read_fd, write_fd):
            os.set_blocking(fd, False)
        self._pipe = (read_fd, write_fd)
        self._previous_wakeup_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self.request_stop)
        if self.hangup is not None and hasattr(signal, "SIGHUP"):
            self._previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._hangup)

    def wake(self) -> None:
        """End the main thread's current or next `wait` early (any thread, or a signal handler)."""
        # Never blocks: a handler may run while the main thread holds the lock in `restore`, and a
        # concurrent wake-up, or one during `restore`, has nothing left to do.
        if not self._pipe_lock.acquire(blocking=False):
            return
        try:
            if self._pipe is not None:
                with contextlib.suppress(OSError):  # full: a wake-up is pending anyway
                    os.write(self._pipe[1], b"\0")
        finally:
            self._pipe_lock.release()

    def wait(self, timeout: float) -> None:
        """Sleep up to `timeout` seconds, less when a signal arrives or `wake` is called."""
        pipe = self._pipe
        if pipe is None:
            time.sleep(max(0.0, timeout))
            return
        if self.stopping:
            return
        ready, _, _ = select.select([pipe[0]], [], [], max(0.0, timeout))
        if ready:
            with contextlib.suppress(OSError):  # drained (BlockingIOError) or closed
                while os.read(pipe[0], 512):
                    pass

    def restore(self) -> None:
        """Put the previous handlers and wake-up fd back; close the pipe."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        with self._pipe_lock:
            if self._pipe is not None:
                signal.set_wakeup_fd(self._previous_wakeup_fd)
                for fd in self._pipe:
                    os.close(fd)
                self._pipe = None
