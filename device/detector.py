"""Per-frame class scores -> discrete events ("stop" at 3.21-3.62 s), causally and in bounded memory.

Per class, with ``s`` the causal moving average of the last `smoothing_frames` frame scores
(by default ``smoothing_frames_for(frame_seconds)``: the span every command smooths over):

* an event **starts** on the first frame where ``s >= threshold`` (the label must be *armed*);
* it **ends** on the first later frame where ``s < threshold * RELEASE_RATIO`` (hysteresis), and
  its score is the peak of ``s`` while it was open;
* after an event ends, the label is in a **refractory** period of `refractory_s`; a crossing in
  that period fires nothing and *disarms* the label until ``s`` falls below the release level
  again, so one spoken word that wobbles around the threshold gives one event;
* only labels in `event_labels` that have a threshold ever fire (never ``_unknown_``/``_silence_``).

Times: frame ``i`` (counted since the last `reset`) is at ``i * frame_seconds`` (its first sample).
The moving average lags the raw scores by ``(smoothing_frames - 1) / 2`` frames, so both
``start_s`` and ``end_s`` are the crossing frames' times minus that delay (clamped to >= 0):
``start_s`` approximates when the raw scores rose, ``end_s`` when they fell.

When an event is returned (`report`, one of `REPORT_MODES`); both modes make the same decisions
(the same events, starting on the same frames), only the moment and two fields differ:

* ``"peak"`` (the default; `classify`): by the `update` call that sees the event end (or by `flush`
  at the end of a stream), with ``end_s`` as above and ``score`` the peak of ``s``;
* ``"crossing"`` (`listen`'s default): by the `update` call that sees ``s`` cross the threshold,
  about 0.4 s earlier (median over 1 h of evaluation streams: docs/streaming-evaluation.md). The end is not known yet, so ``end_s == start_s`` and
  ``score`` is ``s`` on the crossing frame; the event stays open until ``s`` falls below the
  release level, and the refractory period runs from there, as in peak mode, so no second event
  of that label is raised meanwhile. `flush` closes open events and returns nothing new.
"""  # noqa: E501

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from audio_lstm.device.decisions import smoothing_frames_for
from audio_lstm.device.labels import EVENT_LABELS

RELEASE_RATIO = 0.8  # an open event ends when its smoothed score falls below threshold * RELEASE_RATIO
DEFAULT_REFRACTORY_S = 1.0  # after an event ends, its label cannot fire again for this long
REPORT_MODES = ("crossing", "peak")  # when an event is returned: at its threshold crossing or when it ends
CROSSING, PEAK = REPORT_MODES


@dataclass(frozen=True)
class Event:
    """One detection: label, start and end time in stream seconds, peak smoothed score."""

    label: str
    start_s: float
    end_s: float
    score: float

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form: times rounded to 3 decimals (ms), score to 4."""
        return {
            "label": self.label,
            "start_s": round(float(self.start_s), 3),
            "end_s": round(float(self.end_s), 3),
            "score": round(float(self.score), 4),
        }


class Detector:
    """Turns consecutive frame scores (frames, classes) into `Event`s; see the module docstring.

    `frame_seconds` is the model's step (``StreamingClassifier.frame_seconds``); `smoothing_frames`
    defaults to ``smoothing_frames_for(frame_seconds)``, as for clip labels.
    """

    def __init__(
        self,
        labels: Iterable[str],
        thresholds: dict[str, float],
        frame_seconds: float,
        smoothing_frames: int | None = None,
        refractory_s: float = DEFAULT_REFRACTORY_S,
        event_labels: Iterable[str] = EVENT_LABELS,
        report: str = PEAK,
    ) -> None:
        if report not in REPORT_MODES:
            raise ValueError(f"report must be one of {', '.join(REPORT_MODES)}, got {report!r}")
        self.report = report
        self.labels = tuple(labels)
        unknown = sorted(set(thresholds) - set(self.labels))
        if unknown:
            raise ValueError(f"thresholds name unknown labels {unknown}; labels are {list(self.labels)}")
        if not all(math.isfinite(float(v)) and float(v) >= 0 for v in thresholds.values()):
            raise ValueError(f"thresholds must be finite numbers >= 0, got {thresholds}")
        if frame_seconds <= 0 or (smoothing_frames is not None and smoothing_frames < 1) or refractory_s < 0:
            raise ValueError("need frame_seconds > 0, smoothing_frames >= 1 and refractory_s >= 0")
        if smoothing_frames is None:
            smoothing_frames = smoothing_frames_for(frame_seconds)
        self.thresholds = {label: float(value) for label, value in thresholds.items()}
        self.frame_seconds = float(frame_seconds)
        self.smoothing_frames = int(smoothing_frames)
        self.refractory_s = float(refractory_s)
        allowed = set(event_labels)
        # Columns that can fire, with their start and release levels.
        self._watch = [i for i, label in enumerate(self.labels) if label in allowed and label in self.thresholds]
        self._on = {i: self.thresholds[self.labels[i]] for i in self._watch}
        self._off = {i: self._on[i] * RELEASE_RATIO for i in self._watch}
        self._delay = (self.smoothing_frames - 1) / 2.0
        self._refractory_frames = int(math.ceil(self.refractory_s / self.frame_seconds - 1e-9))
        # Columns that cannot fire get an unreachable level, so one comparison finds the hot ones.
        self._start_levels = np.full(len(self.labels), np.inf)
        self._start_levels[self._watch] = [self._on[i] for i in self._watch]
        # Smoothing window: the last smoothing_frames - 1 frames, then room for the next batch
        # (grown to the largest batch seen, so memory is bounded by the caller's chunk size).
        self._window = np.zeros((self.smoothing_frames - 1 + 16, len(self.labels)), dtype=np.float64)
        self.reset()

    # -- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything: new stream starting at frame 0, no open events, all labels armed."""
        self._frame = 0  # global index of the next frame
        self._window[:] = 0.0  # zeros before the stream
        self._open_start: dict[int, int] = {}  # column -> start frame of its open event
        self._peak: dict[int, float] = {}  # column -> peak smoothed score of its open event
        self._disarmed: set[int] = set()  # columns waiting to fall below release after a suppressed crossing
        self._refractory_until = {i: 0 for i in self._watch}  # first frame the column may fire again

    @property
    def frames_seen(self) -> int:
        """Frames consumed since the last reset."""
        return self._frame

    @property
    def open_labels(self) -> tuple[str, ...]:
        """Labels with an event in progress."""
        return tuple(self.labels[i] for i in sorted(self._open_start))

    # -- processing --------------------------------------------------------------------------

    def _smooth(self, scores: np.ndarray) -> np.ndarray:
        """Causal moving average continuing across calls (shorter window at stream start).

        Each frame's mean sums the same values in the same order and divides by the same count,
        whatever the chunking, so results are bit-identical for any chunk size.
        """
        n, count = self.smoothing_frames, len(scores)
        if n == 1:
            return np.array(scores, dtype=np.float64)
        held = n - 1
        if held + count > len(self._window):
            grown = np.zeros((held + count, len(self.labels)), dtype=np.float64)
            grown[:held] = self._window[:held]
            self._window = grown
        window = self._window
        window[held : held + count] = scores
        row = window.strides[0]
        # (count, n, classes) view: frame k's window is rows k .. k + n - 1 of the buffer
        frames = np.ndarray((count, n, window.shape[1]), window.dtype, window, strides=(row, row, window.strides[1]))
        total = np.add.reduce(frames, axis=1)
        window[:held] = window[count : count + held]
        if self._frame >= held:
            total /= n
            return total
        return total / np.minimum(self._frame + 1 + np.arange(count), n)[:, None]

    def _time(self, frame: int) -> float:
        return max(0.0, (frame - self._delay) * self.frame_seconds)

    def _close(self, column: int, end_frame: int) -> Event | None:
        """End the column's open event at `end_frame`; the event to return (None in crossing mode,
        which returned it when it opened)."""
        start = self._open_start.pop(column)
        peak = self._peak.pop(column)
        self._refractory_until[column] = end_frame + self._refractory_frames
        if self.report == CROSSING:
            return None
        start_s = self._time(start)
        return Event(self.labels[column], start_s, max(start_s, self._time(end_frame)), peak)

    def _open(self, column: int, frame: int, score: float) -> Event | None:
        """Open an event on `frame`; the event to return now (crossing mode) or None (peak mode)."""
        self._open_start[column] = frame
        self._peak[column] = score
        if self.report != CROSSING:
            return None
        start_s = self._time(frame)
        return Event(self.labels[column], start_s, start_s, score)

    def _scan(self, column: int, s: np.ndarray, first: int, events: list[Event]) -> None:
        """Run one column's state machine over its smoothed scores `s` (frame `first` onwards)."""
        on, off = self._on[column], self._off[column]
        t, count = 0, len(s)
        while t < count:
            if column in self._open_start:
                below = np.flatnonzero(s[t:] < off)
                stop = t + int(below[0]) if len(below) else count
                if stop > t:
                    self._peak[column] = max(self._peak[column], float(s[t:stop].max()))
                if stop == count:
                    return
                closed = self._close(column, first + stop)
                if closed is not None:
                    events.append(closed)
                t = stop
            elif column in self._disarmed:
                below = np.flatnonzero(s[t:] < off)
                if not len(below):
                    return
                self._disarmed.discard(column)
                t += int(below[0])
            else:
                above = np.flatnonzero(s[t:] >= on)
                if not len(above):
                    return
                t += int(above[0])
                if first + t < self._refractory_until[column]:
                    self._disarmed.add(column)  # suppressed: wait for a fall before re-arming
                else:
                    opened = self._open(column, first + t, float(s[t]))
                    if opened is not None:
                        events.append(opened)
                t += 1  # s[t] >= on >= off: this frame can neither end nor re-arm anything

    def update(self, frame_scores: np.ndarray) -> list[Event]:
        """Consume the next frames (frames, classes); return the events that ended in them (peak
        mode) or crossed their threshold in them (crossing mode), by time."""
        scores = np.asarray(frame_scores)
        if scores.ndim != 2 or scores.shape[1] != len(self.labels):
            raise ValueError(f"expected frame scores of shape (frames, {len(self.labels)}), got {scores.shape}")
        if len(scores) == 0:
            return []
        smoothed = self._smooth(scores)
        first = self._frame
        events: list[Event] = []
        # Fast path, vectorised: only columns that reach their threshold in this batch, or that are
        # mid-event or waiting to re-arm, need the per-column state machine.
        margin = np.maximum.reduce(smoothed, axis=0) - self._start_levels  # >= 0 exactly where a level is reached
        self._frame += len(scores)
        if np.maximum.reduce(margin) < 0 and not self._open_start and not self._disarmed:
            return events
        hot = np.flatnonzero(margin >= 0).tolist()
        for column in sorted(set(hot) | self._open_start.keys() | self._disarmed):
            self._scan(column, smoothed[:, column], first, events)
        events.sort(key=lambda event: (event.end_s, event.start_s, event.label))
        return events

    def flush(self) -> list[Event]:
        """End of stream: close every open event at the current frame; return them in peak mode
        (crossing mode returned them when they opened: nothing new)."""
        closed = [self._close(column, self._frame) for column in sorted(self._open_start)]
        events = [event for event in closed if event is not None]
        events.sort(key=lambda event: (event.start_s, event.label))
        return events
