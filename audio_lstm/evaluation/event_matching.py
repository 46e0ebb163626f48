"""Detections against known event times: false rejects, false accepts per hour, delay, DET curves.

Torch-free. The detector is never re-implemented here: per-frame scores of a stream are stored once
and the real `Detector` is replayed over them for each candidate threshold (it is numpy and its
results do not depend on how the frames are chunked), so every number, including the ones at the
chosen thresholds, is what `classify` / `listen` would report on that audio.

Matching, per label: a detection is a **hit** when it overlaps ``[word start, word end + tolerance]``
of a not yet hit true event of its label (the earliest such event); every other detection is a
**false accept** of its label (a second detection of one word included). A true event without a
hit is a **false reject**. Each false accept is put down to what was playing: the label of a true
event it overlaps (the one starting nearest it) or ``background`` when it overlaps none.

The false accepts put down to background or to unknown speech are the **negative** ones: what
goes off in a room where nobody says a keyword (the issue's "real ambience plus unknown speech"),
counted per hour of the stream outside every event word (`negative_hours`). The rest, raised while
another keyword or glass was playing, are **substitutions**: an error too, but one a user meets
only while talking to the device.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from audio_lstm.device.detector import Detector, Event
from audio_lstm.device.labels import SILENCE, UNKNOWN

BACKGROUND_CAUSE = "background"  # a false accept that overlaps no true event of any label
NEGATIVE_CAUSES = (BACKGROUND_CAUSE, UNKNOWN, SILENCE)  # false accepts with no event of any label playing
REPLAY_BLOCK_FRAMES = 1024  # frames per Detector.update call when replaying stored scores
SECONDS_PER_HOUR = 3600.0
TOP_SOURCES = 10  # false-accept source clips kept per label in the JSON report


@dataclass(frozen=True)
class TrueEvent:
    """One placed clip: its label and where its word is in the stream."""

    label: str
    start_s: float  # word start, stream seconds
    end_s: float  # word end, stream seconds
    source: str = ""  # the clip file it came from


@dataclass(frozen=True)
class ReportClock:
    """When `listen` returns an event: the detector sees the frame where the event ends once the
    model has scored it, i.e. once its int8 group of `frames_per_call` frames is complete and the
    capture chunk holding the group's last sample has arrived."""

    sample_rate: int  # Hz
    hop_length: int  # samples per model step (frame_stack hops)
    n_fft: int  # samples one model step sees (ModelInfo.step_span)
    smoothing_frames: int  # the detector's moving-average length
    frames_per_call: int  # the runtime's frame group (0: every chunk is scored at once)
    chunk_samples: int  # capture chunk (listen's default: 80 ms)
    stream_seconds: float  # events still open at the end are returned at the end

    def end_frame(self, event: Event) -> int:
        """Index of the frame at which the detector closed `event` (inverts the detector's timing)."""
        delay = (self.smoothing_frames - 1) / 2.0
        return int(round(event.end_s * self.sample_rate / self.hop_length + delay))

    def emitted_s(self, event: Event) -> float:
        """Stream time at which the event is returned."""
        needed = self.end_frame(event) + 1
        if self.frames_per_call:
            needed = self.frames_per_call * math.ceil(needed / self.frames_per_call)
        samples = (needed - 1) * self.hop_length + self.n_fft
        samples = self.chunk_samples * math.ceil(samples / self.chunk_samples)
        return min(samples / self.sample_rate, self.stream_seconds)


@dataclass(frozen=True)
class ClassOutcome:
    """One label's result at one threshold."""

    label: str
    threshold: float | None  # None: the label has no threshold, so it never fires
    events: int  # true events of this label
    hits: int
    false_accepts: int
    hours: float  # audio measured
    delays_s: tuple[float, ...] = ()  # per hit: return time minus word end
    false_accept_causes: tuple[tuple[str, int], ...] = ()  # (what was playing, false accepts), most first
    missed: tuple[str, ...] = ()  # per false reject: its true event's source clip
    false_accept_sources: tuple[tuple[str, int], ...] = ()  # (clip playing, or background; false accepts), most first

    @property
    def false_rejects(self) -> int:
        return self.events - self.hits

    @property
    def frr(self) -> float | None:
        """False-reject rate; None without true events."""
        return self.false_rejects / self.events if self.events else None

    @property
    def fa_per_hour(self) -> float:
        return self.false_accepts / self.hours if self.hours > 0 else 0.0

    @property
    def negative_false_accepts(self) -> int:
        """False accepts during background or unknown speech (see the module docstring)."""
        return sum(count for cause, count in self.false_accept_causes if cause in NEGATIVE_CAUSES)

    def negative_fa_per_hour(self, negative_hours: float) -> float:
        """Negative false accepts per hour of stream outside event words (inf without such time)."""
        return self.negative_false_accepts / negative_hours if negative_hours > 0 else math.inf

    @property
    def substitutions(self) -> int:
        """False accepts while another event label's word was playing."""
        return self.false_accepts - self.negative_false_accepts

    def delay_percentile(self, percent: float) -> float | None:
        return float(np.percentile(self.delays_s, percent)) if self.delays_s else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-hit delays)."""
        median, p90 = self.delay_percentile(50), self.delay_percentile(90)
        return {
            "threshold": self.threshold,
            "events": self.events,
            "hits": self.hits,
            "false_rejects": self.false_rejects,
            "frr": self.frr,
            "false_accepts": self.false_accepts,
            "fa_per_hour": self.fa_per_hour,
            "delay_median_s": None if median is None else round(median, 4),
            "delay_p90_s": None if p90 is None else round(p90, 4),
            "false_accepts_during": dict(self.false_accept_causes),
            "false_accepts_from": dict(self.false_accept_sources[:TOP_SOURCES]),
        }


def replay(detector: Detector, scores: np.ndarray, block_frames: int = REPLAY_BLOCK_FRAMES) -> list[Event]:
    """Every event the detector reports over stored frame scores (from a reset, flushed at the end)."""
    detector.reset()
    events: list[Event] = []
    for start in range(0, len(scores), block_frames):
        events += detector.update(scores[start : start + block_frames])
    return events + detector.flush()


class _Timeline:
    """True events sorted by start, for finding those a detection overlaps (see the module docstring)."""

    def __init__(self, events: Iterable[TrueEvent], tolerance_s: float) -> None:
        self.events = sorted(events, key=lambda e: e.start_s)
        self.tolerance_s = tolerance_s
        self._starts = [event.start_s for event in self.events]
        # running maximum of (end + tolerance): events before bisect_left(reach, t) all end too early for t
        self._reach = list(itertools.accumulate((event.end_s + tolerance_s for event in self.events), max))

    def overlapping(self, detection: Event) -> list[int]:
        """Indices (earliest first) of the events whose [start, end + tolerance] overlaps the detection."""
        candidates = range(bisect.bisect_left(self._reach, detection.start_s),
                           bisect.bisect_right(self._starts, detection.end_s))
        return [i for i in candidates if self.events[i].end_s + self.tolerance_s >= detection.start_s]


def score_detections(
    truth: Sequence[TrueEvent],
    detections: Sequence[Event],
    thresholds: dict[str, float | None],
    hours: float,
    tolerance_s: float,
    clock: ReportClock,
) -> dict[str, ClassOutcome]:
    """Match detections to true events (see the module docstring), one outcome per label in `thresholds`."""
    outcomes: dict[str, ClassOutcome] = {}
    everything = _Timeline(truth, tolerance_s)

    def cause(detection: Event) -> TrueEvent | None:
        playing = [everything.events[i] for i in everything.overlapping(detection)]
        return min(playing, key=lambda e: abs(e.start_s - detection.start_s)) if playing else None

    for label, threshold in thresholds.items():
        wanted = _Timeline((e for e in truth if e.label == label), tolerance_s)
        hit = [False] * len(wanted.events)
        delays: list[float] = []
        causes: Counter[str] = Counter()
        sources: Counter[str] = Counter()
        for detection in sorted((d for d in detections if d.label == label), key=lambda d: (d.start_s, d.end_s)):
            match = next((i for i in wanted.overlapping(detection) if not hit[i]), None)
            if match is None:
                playing = cause(detection)
                causes[playing.label if playing else BACKGROUND_CAUSE] += 1
                sources[(playing.source or playing.label) if playing else BACKGROUND_CAUSE] += 1
                continue
            hit[match] = True
            delays.append(clock.emitted_s(detection) - wanted.events[match].end_s)
        missed = tuple(event.source for event, found in zip(wanted.events, hit) if not found)
        outcomes[label] = ClassOutcome(label, threshold, len(wanted.events), sum(hit), sum(causes.values()), hours,
                                       tuple(delays), tuple(causes.most_common()), missed,
                                       tuple(sources.most_common()))
    return outcomes


def measure(
    make_detector: Callable[[dict[str, float]], Detector],
    scores: np.ndarray,
    truth: Sequence[TrueEvent],
    thresholds: dict[str, float | None],
    hours: float,
    tolerance_s: float,
    clock: ReportClock,
) -> dict[str, ClassOutcome]:
    """Replay the detector at `thresholds` (None: the label never fires) and score what it reports."""
    active = {label: value for label, value in thresholds.items() if value is not None}
    events = replay(make_detector(active), scores)
    return score_detections(truth, events, thresholds, hours, tolerance_s, clock)


def sweep(
    make_detector: Callable[[dict[str, float]], Detector],
    scores: np.ndarray,
    truth: Sequence[TrueEvent],
    labels: Iterable[str],
    grid: Sequence[float],
    hours: float,
    tolerance_s: float,
    clock: ReportClock,
) -> dict[str, list[ClassOutcome]]:
    """Outcomes of every label at every threshold of `grid`: one detector replay per threshold.

    Labels are independent in the detector, so one replay with every label at the same threshold
    gives each label's result at that threshold.
    """
    labels = list(labels)
    curves: dict[str, list[ClassOutcome]] = {label: [] for label in labels}
    for threshold in grid:
        outcomes = measure(make_detector, scores, truth, {label: float(threshold) for label in labels}, hours,
                           tolerance_s, clock)
        for label in labels:
            curves[label].append(outcomes[label])
    return curves


def negative_hours(
    truth: Iterable[TrueEvent], event_labels: Iterable[str], tolerance_s: float, seconds: float
) -> float:
    """Hours of a `seconds`-long stream outside every ``[start, end + tolerance]`` of an event label's word."""
    wanted = set(event_labels)
    covered, reach = 0.0, 0.0
    for event in sorted((e for e in truth if e.label in wanted), key=lambda e: e.start_s):
        start, end = max(event.start_s, reach), min(event.end_s + tolerance_s, seconds)
        covered += max(0.0, end - start)
        reach = max(reach, end)
    return max(0.0, seconds - covered) / SECONDS_PER_HOUR


def choose_threshold(
    curve: Sequence[ClassOutcome], target_fa_per_hour: float, negative_hours: float | None = None
) -> ClassOutcome | None:
    """The outcome with the lowest threshold whose false accepts per hour are <= the target; None if none is.

    With `negative_hours`, only the negative false accepts count, per that many hours.
    """

    def rate(o: ClassOutcome) -> float:
        return o.fa_per_hour if negative_hours is None else o.negative_fa_per_hour(negative_hours)

    meeting = [o for o in curve if o.threshold is not None and rate(o) <= target_fa_per_hour]
    return min(meeting, key=lambda o: o.threshold) if meeting else None  # type: ignore[arg-type, return-value]
