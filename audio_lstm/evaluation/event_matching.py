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

Delays, per hit: when `listen` would return the event minus the word's end, for both of the
detector's report modes. Matching always uses the peak-mode events (their spans); a crossing-mode
replay at the same thresholds must find the same events (same labels, same start frames: it is
checked), returned on their crossing frames instead of their last ones.
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

from audio_lstm.device.detector import CROSSING, PEAK, Detector, Event
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
    """When `listen` returns an event: the detector sees the frame that decides it (where the event
    ends in peak mode, its threshold crossing in crossing mode) once the model has scored it, i.e.
    once its int8 group of `frames_per_call` frames is complete and the capture chunk holding the
    group's last sample has arrived."""

    sample_rate: int  # Hz
    hop_length: int  # samples per model step (frame_stack hops)
    n_fft: int  # samples one model step sees (ModelInfo.step_span)
    smoothing_frames: int  # the detector's moving-average length
    frames_per_call: int  # the runtime's frame group (0: every chunk is scored at once)
    chunk_samples: int  # capture chunk (listen's default: 80 ms)
    stream_seconds: float  # events still open at the end are returned at the end

    def end_frame(self, event: Event) -> int:
        """Index of the frame at which the detector returned `event` (inverts the detector's timing:
        ``end_s`` is that frame's time in both modes; crossing events have ``end_s == start_s``)."""
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
    delays_s: tuple[float, ...] = ()  # per hit: return time minus word end, peak mode (returned when it ends)
    false_accept_causes: tuple[tuple[str, int], ...] = ()  # (what was playing, false accepts), most first
    missed: tuple[str, ...] = ()  # per false reject: its true event's source clip
    false_accept_sources: tuple[tuple[str, int], ...] = ()  # (clip playing, or background; false accepts), most first
    crossing_delays_s: tuple[float, ...] = ()  # per hit, crossing mode (returned at the crossing); () if not measured

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

    def delays(self, report: str = PEAK) -> tuple[float, ...]:
        """Per-hit delays of a report mode (`audio_lstm.device.detector.REPORT_MODES`)."""
        return self.crossing_delays_s if report == CROSSING else self.delays_s

    def delay_percentile(self, percent: float, report: str = PEAK) -> float | None:
        delays = self.delays(report)
        return float(np.percentile(delays, percent)) if delays else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-hit delays)."""

        def rounded(percent: float, report: str) -> float | None:
            value = self.delay_percentile(percent, report)
            return None if value is None else round(value, 4)

        return {
            "threshold": self.threshold,
            "events": self.events,
            "hits": self.hits,
            "false_rejects": self.false_rejects,
            "frr": self.frr,
            "false_accepts": self.false_accepts,
            "fa_per_hour": self.fa_per_hour,
            "delay_median_s": rounded(50, PEAK),
            "delay_p90_s": rounded(90, PEAK),
            "crossing_delay_median_s": rounded(50, CROSSING),
            "crossing_delay_p90_s": rounded(90, CROSSING),
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
        candidates = range(
            bisect.bisect_left(self._reach, detection.start_s), bisect.bisect_right(self._starts, detection.end_s)
        )
        return [i for i in candidates if self.events[i].end_s + self.tolerance_s >= detection.start_s]


def at_crossing(peak: Sequence[Event], crossing: Sequence[Event]) -> dict[Event, Event]:
    """Each peak-mode event's crossing-mode twin; ValueError unless both modes found the same events."""

    def key(event: Event) -> tuple[str, float]:
        return event.label, event.start_s

    pairs = list(zip(sorted(peak, key=key), sorted(crossing, key=key)))
    if len(peak) != len(crossing) or any(key(a) != key(b) for a, b in pairs):
        raise ValueError(f"the detector's report modes disagree: {len(peak)} peak and {len(crossing)} crossing events")
    return dict(pairs)


def score_detections(
    truth: Sequence[TrueEvent],
    detections: Sequence[Event],
    thresholds: dict[str, float | None],
    hours: float,
    tolerance_s: float,
    clock: ReportClock,
    crossing: dict[Event, Event] | None = None,
) -> dict[str, ClassOutcome]:
    """Match peak-mode detections to true events (see the module docstring), one outcome per label in
    `thresholds`; with `crossing` (`at_crossing`), crossing-mode delays too."""
    outcomes: dict[str, ClassOutcome] = {}
    everything = _Timeline(truth, tolerance_s)

    def cause(detection: Event) -> TrueEvent | None:
        playing = [everything.events[i] for i in everything.overlapping(detection)]
        return min(playing, key=lambda e: abs(e.start_s - detection.start_s)) if playing else None

    for label, threshold in thresholds.items():
        wanted = _Timeline((e for e in truth if e.label == label), tolerance_s)
        hit = [False] * len(wanted.events)
        delays: list[float] = []
        early: list[float] = []
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
            if crossing is not None:
                early.append(clock.emitted_s(crossing[detection]) - wanted.events[match].end_s)
        missed = tuple(event.source for event, found in zip(wanted.events, hit) if not found)
        outcomes[label] = ClassOutcome(
            label,
            threshold,
            len(wanted.events),
            sum(hit),
            sum(causes.values()),
            hours,
            tuple(delays),
            tuple(causes.most_common()),
            missed,
            tuple(sources.most_common()),
            tuple(early),
        )
    return outcomes


def measure(
    make_detector: Callable[..., Detector],
    scores: np.ndarray,
    truth: Sequence[TrueEvent],
    thresholds: dict[str, float | None],
    hours: float,
    tolerance_s: float,
    clock: ReportClock,
    crossing: bool = False,
) -> dict[str, ClassOutcome]:
    """Replay the detector at `thresholds` (None: the label never fires) and score what it reports.

    `make_detector(thresholds)` builds a peak-mode detector; with `crossing`, the crossing-mode
    replay (`make_detector(thresholds, "crossing")`) gives the crossing delays too.
    """
    active = {label: value for label, value in thresholds.items() if value is not None}
    detector = make_detector(active)
    if detector.report != PEAK:
        raise ValueError(f"make_detector() must build a {PEAK}-mode detector, got {detector.report}")
    events = replay(detector, scores)
    twins = at_crossing(events, replay(make_detector(active, CROSSING), scores)) if crossing else None
    return score_detections(truth, events, thresholds, hours, tolerance_s, clock, twins)


def sweep(
    make_detector: Callable[..., Detector],
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
        outcomes = measure(
            make_detector, scores, truth, {label: float(threshold) for label in labels}, hours, tolerance_s, clock
        )
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
