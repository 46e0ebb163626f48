"""`StopSignals.wait`: the daemon's main thread sleeps until a signal or a `wake`, not in short polls."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from audio_lstm.device.signals import StopSignals


@pytest.fixture
def signals():  # noqa: ANN201
    stop = StopSignals()
    stop.install()
    yield stop
    stop.restore()


def test_sigterm_ends_a_long_wait_at_once(signals: StopSignals) -> None:
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()
    signals.wait(30.0)
    assert signals.stopping
    assert time.monotonic() - started < 2.0


def test_wake_from_another_thread_ends_the_wait_without_stopping(signals: StopSignals) -> None:
    threading.Timer(0.2, signals.wake).start()
    started = time.monotonic()
    signals.wait(30.0)
    assert 0.15 < time.monotonic() - started < 2.0
    assert not signals.stopping
    # The wake-up was used up: the next wait sleeps its full time again.
    started = time.monotonic()
    signals.wait(0.3)
    assert time.monotonic() - started >= 0.25


def test_a_wait_after_stop_returns_at_once_and_restore_puts_everything_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    stop = StopSignals()
    stop.install()
    stop.request_stop()
    started = time.monotonic()
    stop.wait(30.0)
    assert time.monotonic() - started < 0.5
    stop.restore()
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.set_wakeup_fd(-1) == -1  # no wake-up fd left installed
    stop.wake()  # after restore: does nothing, raises nothing


def test_outside_the_main_thread_wait_is_a_plain_sleep() -> None:
    results: list[float] = []

    def run() -> None:
        stop = StopSignals()
        stop.install()  # not the main thread: nothing installed
        started = time.monotonic()
        stop.wait(0.2)
        results.append(time.monotonic() - started)
        stop.restore()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(5)
    assert results and results[0] >= 0.15
