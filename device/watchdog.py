"""Deadlines around PortAudio calls that can block forever, and the stall check of a live stream.

Measured on the ALSA capture emulation of tests/device/test_listen_alsa.py: once the capture
stalls (its data source stops), `Pa_AbortStream` and `Pa_StopStream` block until it resumes
(more than 20 s: for ever), and opening a PulseAudio-backed device can block the same way while
the server is stopped. The daemon therefore opens and closes streams on a helper thread
(`call_with_deadline`): the main thread keeps reacting to signals and gives up on a call after its
deadline. A call given up on stays blocked on its thread; if it returns later, `late` cleans up
its result (e.g. closes a stream that opened too late). While any call is still blocked at exit,
sounddevice's exit handler (which stops and closes every stream and terminates PortAudio, and
would block the same way) is skipped: `release_at_exit`.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Generic, TypeVar

T = TypeVar("T")
POLL_S = 0.05  # how often the waiting thread checks `stopping`

_stuck_lock = threading.Lock()
_stuck = 0  # calls given up on that have not returned yet


class HungCall(RuntimeError):
    """A call did not return within its deadline (it goes on, abandoned, on its own thread)."""


class Stopped(RuntimeError):
    """`stopping()` became true while waiting for a call (it goes on, abandoned, on its own thread)."""


class _Call(Generic[T]):
    def __init__(self, fn: Callable[[], T], late: Callable[[T], None] | None) -> None:
        self.fn, self.late = fn, late
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.abandoned = False
        self.lock = threading.Lock()

    def run(self) -> None:
        global _stuck
        try:
            self.result = self.fn()
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            self.error = error
        with self.lock:
            self.done.set()
            abandoned = self.abandoned
        if abandoned:
            with _stuck_lock:
                _stuck -= 1
            if self.late is not None and self.error is None:
                with contextlib.suppress(Exception):  # nothing left to tell
                    self.late(self.result)  # type: ignore[arg-type]

    def abandon(self) -> bool:
        """Mark as given up on; False when it finished meanwhile."""
        global _stuck
        with self.lock:
            if self.done.is_set():
                return False
            self.abandoned = True
        with _stuck_lock:
            _stuck += 1
        return True


def call_with_deadline(
    fn: Callable[[], T],
    timeout: float,
    stopping: Callable[[], bool] = lambda: False,
    late: Callable[[T], None] | None = None,
    name: str = "audio-lstm-portaudio",
) -> T:
    """Run `fn` on a daemon thread and return its result or raise its exception.

    HungCall after `timeout` seconds, Stopped as soon as `stopping()`: the call is then abandoned,
    and `late(result)` runs if it returns after all.
    """
    call: _Call[T] = _Call(fn, late)
    threading.Thread(target=call.run, name=name, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not call.done.wait(min(POLL_S, max(0.0, deadline - time.monotonic()))):
        if stopping() or time.monotonic() >= deadline:
            if call.abandon():
                raise Stopped("stopped while waiting") if stopping() else HungCall(f"no answer within {timeout:g} s")
            break
    if call.error is not None:
        raise call.error
    return call.result  # type: ignore[return-value]


def stuck_calls() -> int:
    """How many calls given up on are still blocked."""
    with _stuck_lock:
        return _stuck


def release_at_exit(sd: ModuleType) -> bool:
    """When a PortAudio call is still blocked, unregister sounddevice's exit handler (it would block
    the interpreter's exit the same way); True when it did."""
    handler = getattr(sd, "_exit_handler", None)
    if stuck_calls() == 0 or handler is None:
        return False
    atexit.unregister(handler)
    return True


class StallWatch:
    """No audio for `limit_s` seconds on an open stream is a stall (`check` returns the silence)."""

    def __init__(self, limit_s: float, last_chunk: Callable[[], float]) -> None:
        self.limit_s, self.last_chunk = limit_s, last_chunk
        self.count = 0
        self._since = time.monotonic()

    def start(self) -> None:
        """A stream just opened: its silence counts from now."""
        self._since = time.monotonic()

    def _silent(self) -> float:
        """Seconds since the latest audio (or since the stream opened)."""
        return time.monotonic() - max(self._since, self.last_chunk())

    def due_in(self) -> float:
        """Seconds until the silence would reach the limit if no audio came (<= 0: it has)."""
        return self.limit_s - self._silent()

    def check(self) -> float | None:
        """Seconds without audio when they reach the limit (counted as a stall), else None."""
        silent = self._silent()
        if silent < self.limit_s:
            return None
        self.count += 1
        return silent
