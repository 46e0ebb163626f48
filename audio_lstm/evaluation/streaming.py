"""Streaming evaluation: long seeded streams with known event times, run through the device runtime.

`audio_lstm.evaluation.scenes` builds the streams: scenes of real background with keyword, glass and
unknown-speech clips at random gaps and SNRs, each clip heard about equally often. They are fed
straight to the `StreamingClassifier`, which never resets in between, as `listen` never does; only
the per-frame scores are kept. `audio_lstm.evaluation.event_matching` then replays the real `Detector`
over those scores for every threshold of the sweep (and, at the model's and the chosen thresholds, in
both report modes, for the delays of each), and `audio_lstm.evaluation.speakers` breaks the keyword
misses down by speaker.

Torch-free: needs the model file, numpy, soundfile and soxr (matplotlib only for the DET plots).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from audio_lstm.augment.signal import NoiseBank
from audio_lstm.data.readers import Clip
from audio_lstm.device.detector import CROSSING, PEAK, REPORT_MODES, Detector
from audio_lstm.device.labels import KEYWORDS, NON_EVENT_LABELS
from audio_lstm.device.options import make_detector
from audio_lstm.device.runtime import StreamingClassifier
from audio_lstm.evaluation.event_matching import (
    ClassOutcome,
    ReportClock,
    choose_threshold,
    measure,
    negative_hours,
    sweep,
)
from audio_lstm.evaluation.scenes import StreamingEvalConfig, StreamPlan, iter_stream, load_event_clips, plan_streams
from audio_lstm.evaluation.speakers import SpeakerOutcome, speaker_outcomes, speakers_dict


def score_stream(classifier: StreamingClassifier, blocks: Iterator[np.ndarray], chunk_samples: int) -> np.ndarray:
    """Per-frame scores (frames, classes) of one continuous stream, fed in `chunk_samples` pieces as
    `listen` feeds its capture chunks (the front end's float sums may differ in the last bit between
    chunk sizes); the classifier is reset before and flushed and reset after."""
    classifier.reset()
    parts: list[np.ndarray] = []
    pending = np.zeros(0, dtype=np.float32)
    for block in blocks:
        block = np.concatenate([pending, block]) if len(pending) else block
        usable = len(block) - len(block) % chunk_samples
        parts += [classifier.process(block[i : i + chunk_samples]) for i in range(0, usable, chunk_samples)]
        pending = block[usable:]
    parts += [classifier.process(pending), classifier.flush()]
    classifier.reset()
    return np.concatenate(parts)


@dataclass
class StreamingResult:
    """Everything `evaluate --streaming` measured."""

    cfg: StreamingEvalConfig
    plan: StreamPlan
    model: dict[str, Any]  # path, model_version, precision
    background: dict[str, Any]  # files and seconds of background audio
    skipped_silent_clips: int
    current: dict[str, ClassOutcome]  # at the model file's thresholds
    chosen: dict[str, ClassOutcome]  # at the chosen thresholds (replayed through the real Detector)
    targets_met: dict[str, bool]
    curves: dict[str, list[ClassOutcome]] = field(repr=False)
    # thresholds chosen counting only the negative false accepts (background, unknown speech), per
    # negative_hours of stream outside every event word (audio_lstm.evaluation.event_matching)
    negative: dict[str, ClassOutcome] = field(default_factory=dict)
    negative_hours: float = 0.0
    reports: tuple[str, ...] = REPORT_MODES  # the report modes whose delays were measured

    @property
    def hours(self) -> float:
        return self.plan.seconds / 3600.0

    @property
    def thresholds(self) -> dict[str, float]:
        """The chosen thresholds: those of the labels that had true events."""
        return {label: o.threshold for label, o in self.chosen.items() if o.threshold is not None and o.events}

    @property
    def negative_thresholds(self) -> dict[str, float]:
        """The thresholds chosen counting only negative false accepts, for the labels with true events."""
        return {label: o.threshold for label, o in self.negative.items() if o.threshold is not None and o.events}

    def event_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for event in self.plan.events:
            counts[event.label] = counts.get(event.label, 0) + 1
        return counts

    def _class_dict(self, label: str) -> dict[str, Any]:
        found = {
            "current": self.current[label].to_dict(),
            "chosen": self.chosen[label].to_dict(),
            "target_met": self.targets_met[label],
        }
        if label in self.negative:
            found["chosen_on_negatives"] = self.negative[label].to_dict()
            quiet = self.negative_hours > 0  # no time outside event words: nothing measured (JSON has no inf)
            found["current"]["negative_fa_per_hour"] = (
                self.current[label].negative_fa_per_hour(self.negative_hours) if quiet else None
            )
        return found

    @cached_property
    def speakers(self) -> dict[str, list[SpeakerOutcome]]:
        """Keyword false rejects per speaker at the model's thresholds and at the chosen ones,
        strict and negatives-only."""
        keywords = [label for label in KEYWORDS if label in self.chosen and self.chosen[label].events]
        found = {"model thresholds": self.current, "every false accept": self.chosen, "negatives only": self.negative}
        return {
            name: speaker_outcomes(self.plan.events, outcomes, keywords) for name, outcomes in found.items() if outcomes
        }

    def to_dict(self) -> dict[str, Any]:
        grid = self.cfg.thresholds()
        return {
            "model": self.model,
            "seed": self.cfg.seed,
            "hours": round(self.hours, 6),
            "config": asdict(self.cfg),
            "target_fa_per_hour": self.cfg.target_fa_per_hour,
            "event_counts": self.event_counts(),
            "background": self.background,
            "skipped_silent_clips": self.skipped_silent_clips,
            "thresholds": self.thresholds,
            "thresholds_on_negatives": self.negative_thresholds,
            "negative_hours": round(self.negative_hours, 6),
            "report_modes": list(self.reports),
            "classes": {label: self._class_dict(label) for label in self.chosen},
            "keyword_frr_per_speaker": {name: speakers_dict(rows) for name, rows in self.speakers.items()},
            "sweep": {
                "thresholds": grid,
                **{
                    label: {"frr": [o.frr for o in curve], "fa_per_hour": [o.fa_per_hour for o in curve]}
                    for label, curve in self.curves.items()
                },
            },
        }


def evaluate_streaming(
    classifier: StreamingClassifier,
    clips: Sequence[Clip],
    background_files: Sequence[Path],
    cfg: StreamingEvalConfig,
    reports: Sequence[str] = REPORT_MODES,
) -> StreamingResult:
    """Build the streams, score them once, sweep thresholds and choose one per label (see module doc);
    delays of the detector's `reports` modes (peak-mode delays are always measured)."""
    if not reports or set(reports) - set(REPORT_MODES):
        raise ValueError(f"report modes must be among {', '.join(REPORT_MODES)}, got {list(reports)}")
    rate = classifier.sample_rate
    if not background_files:
        raise ValueError("no background recordings (noise files or _silence_ clips) for the streams")
    event_clips, skipped = load_event_clips(clips, rate)
    background = NoiseBank(background_files, max_seconds=cfg.background_max_seconds, sample_rate=rate, seed=cfg.seed)
    plan = plan_streams(event_clips, cfg, rate)
    chunk = int(round(cfg.chunk_seconds * rate))
    scores = score_stream(classifier, iter_stream(plan, event_clips, background), chunk)

    def detector_for(thresholds: dict[str, float], report: str = PEAK) -> Detector:
        return make_detector(classifier, thresholds, report=report)

    info = classifier.info
    clock = ReportClock(
        rate,
        info.step_hop,
        info.step_span,
        detector_for({}).smoothing_frames,
        classifier.frames_per_call,
        chunk,
        plan.seconds,
    )
    labels = [label for label in classifier.labels if label not in NON_EVENT_LABELS]
    scoring = (plan.seconds / 3600.0, cfg.tolerance_s, clock)  # hours, tolerance, clock
    crossing = CROSSING in reports
    current = measure(
        detector_for,
        scores,
        plan.events,
        {label: classifier.info.thresholds.get(label) for label in labels},
        *scoring,
        crossing,
    )
    curves = sweep(detector_for, scores, plan.events, labels, cfg.thresholds(), *scoring)
    quiet = negative_hours(plan.events, labels, cfg.tolerance_s, plan.seconds)

    def pick(label: str, best: ClassOutcome | None) -> float | None:
        """The lowest threshold meeting the target (`best`), else the highest swept; with no true
        events, nothing to trade false accepts against: the model's own."""
        if current[label].events == 0:
            return current[label].threshold
        return best.threshold if best is not None else cfg.thresholds()[-1]

    strict = {label: choose_threshold(curves[label], cfg.target_fa_per_hour) for label in labels}
    on_negatives = {label: choose_threshold(curves[label], cfg.target_fa_per_hour, quiet) for label in labels}
    met = {label: best is not None for label, best in strict.items()}
    chosen = measure(detector_for, scores, plan.events, {k: pick(k, v) for k, v in strict.items()}, *scoring, crossing)
    negative = measure(
        detector_for, scores, plan.events, {k: pick(k, v) for k, v in on_negatives.items()}, *scoring, crossing
    )
    model = {
        "path": str(classifier.path),
        "model_version": classifier.info.model_version,
        "precision": classifier.info.precision,
    }
    return StreamingResult(
        cfg,
        plan,
        model,
        {"files": len(background), "seconds": round(background.seconds, 2)},
        skipped,
        current,
        chosen,
        met,
        curves,
        negative,
        quiet,
        tuple(mode for mode in REPORT_MODES if mode in reports),
    )
