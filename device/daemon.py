"""Building blocks of the live daemon (`audio-lstm listen`): capture queue, processing worker and
event output. Torch-free; sounddevice is passed in, not imported.

Threads: PortAudio's callback only copies audio and hands it to a bounded queue once the model has
enough for its next call; one worker thread resamples, classifies, detects and emits events (and
reopens the events file after SIGHUP); the main thread owns the stream and sleeps until a signal
(`audio_lstm.device.signals`). `--exec` commands: `audio_lstm.device.hooks`; the events file:
`audio_lstm.device.events_file`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np
import soxr

from audio_lstm.device.detector import Detector, Event
from audio_lstm.device.events_file import EventsFile
from audio_lstm.device.hooks import CommandRunner
from audio_lstm.device.messages import PROG, warn
from audio_lstm.device.runtime import StreamingClassifier

__all__ = ["PROG", "CaptureQueue", "CommandRunner", "EventSink", "Worker", "warn"]

POLL_S = 0.1  # how soon a thread waiting to queue a marker sees the worker end or a stop
IDLE_WAIT_S = 0.5  # the worker's longest wait for audio: how soon an idle worker reopens the events file
HOLD_MARGIN_S = 0.002  # the capture callback hands audio over this much before the model needs it
STOP_DRAIN_S = 0.5  # on a stop, queued audio is still processed for this long, then dropped


class CaptureQueue:
    """Bounded hand-off from the audio callback to the worker; counts overflows and drops.

    The callback holds blocks until `release_samples` are waiting (the worker sets it to what the
    model needs for its next scores), then hands them over in one piece: the worker wakes once per
    model call instead of once per block, and a group is still processed in the block that
    completes it.
    """

    def __init__(self, max_chunks: int) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=max_chunks)
        self.overflows = 0  # PortAudio reported input overflow (audio lost before us)
        self.dropped = 0  # chunks thrown away because the worker fell behind
        self.last_chunk = 0.0  # time.monotonic() of the latest callback (the stall watchdog reads it)
        self.release_samples = 0  # set by the worker; 0: every block goes over at once
        self._held: list[np.ndarray] = []  # blocks the callback holds back (its thread only)
        self._held_samples = 0

    def callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:  # noqa: ARG002
        """sounddevice InputStream callback: copy the first channel, never block."""
        self.last_chunk = time.monotonic()
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        self._held.append(indata[:, 0].copy())
        self._held_samples += len(indata)
        if self._held_samples < self.release_samples:
            return
        blocks, self._held, self._held_samples = self._held, [], 0
        try:
            self.queue.put_nowait(blocks[0] if len(blocks) == 1 else np.concatenate(blocks))
        except queue.Full:
            self.dropped += len(blocks)

    def new_stream(self) -> None:
        """A stream is about to open: forget blocks held from the previous one and the worker's hint."""
        self._held, self._held_samples, self.release_samples = [], 0, 0

    def counts(self) -> tuple[int, int]:
        """(input overflows, dropped chunks) so far."""
        return self.overflows, self.dropped


class Publisher(Protocol):
    """Another destination of events (e.g. `audio_lstm.device.mqtt_events.MqttEventPublisher`)."""

    def publish(self, event: Event) -> None: ...

    def close(self) -> None: ...

    def summary(self) -> str: ...


class EventSink:
    """Each event as one JSON line on stdout (flushed), appended to the events file, --exec, and
    handed to each publisher. OSError from opening `events_file` propagates (a usage error)."""

    def __init__(
        self,
        out: TextIO,
        events_file: Path | None = None,
        runner: CommandRunner | None = None,
        publishers: Sequence[Publisher] = (),
    ) -> None:
        self.out = out
        self.runner = runner
        self.publishers = tuple(publishers)
        self.file = EventsFile(events_file) if events_file else None
        self.count = 0
        self.closed = False
        self._hangups = 0  # SIGHUPs received (a counter, set in the signal handler)
        self._hangups_seen = 0

    def request_reopen(self) -> None:
        """SIGHUP handler: reopen the events file (log rotation) soon, from the worker thread."""
        self._hangups += 1
        if self.file is not None:
            self.file.request_reopen()

    def poll(self) -> None:
        """Called by the worker between chunks: carries out a requested reopen."""
        if self._hangups != self._hangups_seen:
            self._hangups_seen = self._hangups
            if self.file is None:
                warn("SIGHUP: no --events-file to reopen; going on")
        if self.file is not None:
            self.file.poll()

    def emit(self, event: Event) -> None:
        """Send `event` to every output."""
        record = {"time": dt.datetime.now().astimezone().isoformat(timespec="milliseconds"), **event.to_dict()}
        line = json.dumps(record)
        print(line, file=self.out, flush=True)
        if self.file is not None:
            self.file.write(line)
        if self.runner is not None:
            self.runner.run(event)
        for publisher in self.publishers:
            publisher.publish(event)
        self.count += 1

    def close(self) -> None:
        """Close every output (once; later calls do nothing)."""
        if self.closed:
            return
        self.closed = True
        if self.runner is not None:
            self.runner.close()
        for publisher in self.publishers:
            publisher.close()
        if self.file is not None:
            self.file.close()

    def summary(self) -> str:
        """For the daemon's exit line: events emitted, events the file missed, each publisher's summary."""
        parts = [f"{self.count} events", self.file.summary() if self.file is not None else ""]
        return "; ".join(part for part in [*parts, *(publisher.summary() for publisher in self.publishers)] if part)


class _Restart:
    """Queue marker: the stream (re)opened at `rate`; the audio before it is finished."""

    def __init__(self, rate: int) -> None:
        self.rate = rate


_STOP = object()  # queue marker: no more audio


class Worker(threading.Thread):
    """Consumes captured chunks: resample to the model rate, classify, detect, emit.

    Event times are seconds of audio processed since the daemon started; a stream restart
    closes open events and continues the clock (the gap itself is not counted).
    """

    def __init__(
        self, capture: CaptureQueue, classifier: StreamingClassifier, detector: Detector, sink: EventSink
    ) -> None:
        super().__init__(name="audio-lstm-worker", daemon=True)
        self.capture, self.classifier, self.detector, self.sink = capture, classifier, detector, sink
        self.resampler: soxr.ResampleStream | None = None
        self.capture_rate = classifier.sample_rate  # of the current stream (set by `restart`)
        self.offset_s = 0.0  # stream time at the start of the current segment
        self.error: BaseException | None = None
        self._stop_by: float | None = None  # set by finish(): queued audio is dropped after this time

    @property
    def seconds(self) -> float:
        """Seconds of audio processed so far, all segments together."""
        return self.offset_s + self.classifier.frames_processed * self.classifier.frame_seconds

    def restart(self, rate: int, stopping: Callable[[], bool] = lambda: False) -> None:
        """Called from the main thread when a stream opens; waits while the queue is full, unless
        the worker has ended or `stopping()`."""
        while self.is_alive() and not stopping():
            try:
                self.capture.queue.put(_Restart(rate), timeout=POLL_S)
                return
            except queue.Full:
                pass

    def stop_soon(self, drain_s: float = STOP_DRAIN_S) -> None:
        """Ask the worker to stop: queued audio is still processed for up to `drain_s`, then dropped;
        open events are flushed. Does not wait (see `finish`)."""
        if self._stop_by is None:
            self._stop_by = time.monotonic() + drain_s
        with contextlib.suppress(queue.Full):  # when full, the worker sees `_stop_by` instead
            self.capture.queue.put_nowait(_STOP)

    def finish(self, timeout: float | None = 2 * STOP_DRAIN_S) -> None:
        """Stop the worker and wait for it. With a timeout, a bounded stop (`stop_soon`, then wait up
        to `timeout` in all); None: all queued audio is processed first, as at the end of a file."""
        if not self.is_alive():
            return
        if timeout is None:
            while self.is_alive():
                try:
                    self.capture.queue.put(_STOP, timeout=POLL_S)
                    break
                except queue.Full:
                    pass
            self.join()
            return
        self.stop_soon(min(STOP_DRAIN_S, timeout / 2))
        self.join(max(0.0, self._stop_by + timeout / 2 - time.monotonic()))  # type: ignore[operator]

    def run(self) -> None:
        try:
            while True:
                if self._stop_by is not None and time.monotonic() >= self._stop_by:
                    break
                try:
                    item = self.capture.queue.get(timeout=IDLE_WAIT_S)
                except queue.Empty:
                    self.sink.poll()
                    continue
                if item is _STOP:
                    break
                if isinstance(item, _Restart):
                    self._end_segment()
                    self.capture_rate = item.rate
                    rate = self.classifier.sample_rate
                    self.resampler = (
                        None
                        if item.rate == rate
                        else soxr.ResampleStream(item.rate, rate, 1, dtype="float32", quality="HQ")
                    )
                else:
                    self._feed(item)
                    self.sink.poll()
            self._end_segment()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            self.error = error

    def _feed(self, chunk: np.ndarray) -> None:
        if self.resampler is not None:
            chunk = self.resampler.resample_chunk(chunk)
        self._emit(self.detector.update(self.classifier.process(chunk)))
        # Capture rate samples the model still needs, less HOLD_MARGIN_S (rounding and the resampler's
        # delay): early is one more wake-up, late would delay a group by one block.
        need = self.classifier.samples_to_next_scores * self.capture_rate / self.classifier.sample_rate
        self.capture.release_samples = max(0, int(need - HOLD_MARGIN_S * self.capture_rate))

    def _end_segment(self) -> None:
        if self.resampler is not None:
            self._feed_tail()
        self._emit(self.detector.update(self.classifier.flush()))
        self._emit(self.detector.flush())
        self.offset_s = self.seconds
        self.classifier.reset()
        self.detector.reset()

    def _feed_tail(self) -> None:
        tail = self.resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self.resampler = None
        if len(tail):
            self._emit(self.detector.update(self.classifier.process(tail)))

    def _emit(self, events: list[Event]) -> None:
        for event in events:
            self.sink.emit(
                dataclasses.replace(event, start_s=event.start_s + self.offset_s, end_s=event.end_s + self.offset_s)
            )
