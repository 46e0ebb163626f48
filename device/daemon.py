"""Building blocks of the live daemon (`audio-lstm listen`): capture queue, processing worker,
event output and fire-and-forget commands. Torch-free; sounddevice is passed in, not imported.

Threads: PortAudio's callback only copies audio into a bounded queue; one worker thread resamples,
classifies, detects and emits events; the main thread owns the stream and the signals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import numpy as np
import soxr

from audio_lstm.device.detector import Detector, Event
from audio_lstm.device.runtime import StreamingClassifier

PROG = "audio-lstm listen"
MAX_CHILDREN = 8  # --exec commands still running beyond this are not started again (reported)


def warn(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


class CaptureQueue:
    """Bounded hand-off from the audio callback to the worker; counts overflows and drops."""

    def __init__(self, max_chunks: int) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=max_chunks)
        self.overflows = 0  # PortAudio reported input overflow (audio lost before us)
        self.dropped = 0  # chunks thrown away because the worker fell behind

    def callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:  # noqa: ARG002
        """sounddevice InputStream callback: copy the first channel, never block."""
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        try:
            self.queue.put_nowait(indata[:, 0].copy())
        except queue.Full:
            self.dropped += 1

    def counts(self) -> tuple[int, int]:
        return self.overflows, self.dropped


class StopSignals:
    """SIGINT/SIGTERM set `stopping` (a plain flag: safe inside a handler) between `install` and `restore`.

    Only the main thread may install handlers; elsewhere both calls do nothing.
    """

    def __init__(self) -> None:
        self.stopping = False
        self._previous: dict[int, Any] = {}

    def request_stop(self, *_: Any) -> None:
        self.stopping = True

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self.request_stop)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


class CommandRunner:
    """Runs `--exec` for each event without a shell and without waiting for it."""

    def __init__(self, command: str) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as error:
            raise ValueError(f"--exec: cannot parse {command!r}: {error}") from error
        if not self.argv:
            raise ValueError("--exec: empty command")
        if shutil.which(self.argv[0]) is None:
            raise ValueError(f"--exec: command not found: {self.argv[0]}")
        self.children: list[subprocess.Popen] = []

    def reap(self) -> None:
        """Forget children that have finished (poll() collects their exit status)."""
        self.children = [child for child in self.children if child.poll() is None]

    def run(self, event: Event) -> None:
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
        try:
            child = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL, close_fds=True,
                                     start_new_session=True)  # a Ctrl-C at the terminal is ours, not theirs
        except OSError as error:
            warn(f"--exec: cannot run {self.argv[0]}: {error}")
            return
        self.children.append(child)

    def close(self) -> None:
        """Reap what has finished; still-running commands are left to finish on their own."""
        self.reap()


class Publisher(Protocol):
    """Another destination of events (e.g. `audio_lstm.device.mqtt_events.MqttEventPublisher`)."""

    def publish(self, event: Event) -> None: ...

    def close(self) -> None: ...

    def summary(self) -> str: ...


class EventSink:
    """Each event as one JSON line on stdout (flushed), appended to the events file, --exec, and
    handed to each publisher."""

    def __init__(self, out: TextIO, events_file: Path | None = None, runner: CommandRunner | None = None,
                 publishers: Sequence[Publisher] = ()) -> None:
        self.out = out
        self.runner = runner
        self.publishers = tuple(publishers)
        self.file = open(events_file, "a", encoding="utf-8") if events_file else None  # noqa: SIM115
        self.count = 0
        self.closed = False

    def emit(self, event: Event) -> None:
        record = {"time": dt.datetime.now().astimezone().isoformat(timespec="milliseconds"), **event.to_dict()}
        line = json.dumps(record)
        print(line, file=self.out, flush=True)
        if self.file is not None:
            self.file.write(line + "\n")
            self.file.flush()
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
        """For the daemon's exit line: events emitted, and each publisher's own summary."""
        return "; ".join([f"{self.count} events", *(publisher.summary() for publisher in self.publishers)])


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

    def __init__(self, capture: CaptureQueue, classifier: StreamingClassifier, detector: Detector,
                 sink: EventSink) -> None:
        super().__init__(name="audio-lstm-worker", daemon=True)
        self.capture, self.classifier, self.detector, self.sink = capture, classifier, detector, sink
        self.resampler: soxr.ResampleStream | None = None
        self.offset_s = 0.0  # stream time at the start of the current segment
        self.error: BaseException | None = None

    @property
    def seconds(self) -> float:
        """Seconds of audio processed so far, all segments together."""
        return self.offset_s + self.classifier.frames_processed * self.classifier.frame_seconds

    def restart(self, rate: int) -> None:
        """Called from the main thread when a stream opens (blocks only while the queue is full)."""
        self.capture.queue.put(_Restart(rate))

    def finish(self, timeout: float | None = 1.0) -> None:
        """Ask the worker to drain the queue, flush open events and stop; wait up to `timeout`
        (None: until all queued audio is processed, as at the end of a file)."""
        if self.is_alive():
            deadline = None if timeout is None else time.monotonic() + timeout / 2
            while self.is_alive() and (deadline is None or time.monotonic() < deadline):
                try:
                    self.capture.queue.put(_STOP, timeout=0.1)
                    break
                except queue.Full:
                    pass
            self.join(timeout)

    def run(self) -> None:
        try:
            while True:
                item = self.capture.queue.get()
                if item is _STOP:
                    break
                if isinstance(item, _Restart):
                    self._end_segment()
                    rate = self.classifier.sample_rate
                    self.resampler = None if item.rate == rate else soxr.ResampleStream(
                        item.rate, rate, 1, dtype="float32", quality="HQ")
                else:
                    self._feed(item)
            self._end_segment()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            self.error = error

    def _feed(self, chunk: np.ndarray) -> None:
        if self.resampler is not None:
            chunk = self.resampler.resample_chunk(chunk)
        self._emit(self.detector.update(self.classifier.process(chunk)))

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
            self.sink.emit(dataclasses.replace(event, start_s=event.start_s + self.offset_s,
                                               end_s=event.end_s + self.offset_s))
