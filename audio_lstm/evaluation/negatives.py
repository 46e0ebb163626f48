"""False accepts per hour on long real negative audio, the measure of a device that must stay quiet.

The validation split of the negatives cache (`audio_lstm.data.negatives_cache`: packages, speakers
and voices training never heard) is played kind by kind, recordings back to back as a radio or a
room would play them, through the int8 file and the real `Detector` (`event_matching.replay`), as
`listen` runs it: never reset within a kind. Every event is a false accept. The detector is
replayed at the model's thresholds and at every threshold of the sweep, so the keyword
false-reject rates of the streaming evaluation can be read off at a fixed rate of false accepts
on real negatives (`frr_at_rates`).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audio_lstm.data.negatives_cache import NegativeRecording
from audio_lstm.device.audio_io import load_audio
from audio_lstm.device.labels import KEYWORDS, NON_EVENT_LABELS
from audio_lstm.device.options import make_detector
from audio_lstm.device.runtime import StreamingClassifier
from audio_lstm.evaluation.event_matching import ClassOutcome, replay
from audio_lstm.evaluation.streaming import score_stream

RUNNING_SPEECH = ("speech, English", "speech, other languages", "generated speech")  # a radio or TV talking
RATES_PER_HOUR = (0.1, 0.5, 1.0)  # false accepts per hour at which keyword FRR is reported
TOP_SOURCES = 5


def category_of(recording: NegativeRecording) -> str:
    """The kind a negative recording is reported under (docs/streaming-evaluation.md: Real negatives)."""
    if recording.kind == "generated":
        return "generated speech"
    if recording.kind != "speech":
        return recording.kind
    if recording.package == "ktuberling-data":
        return "spoken words"
    return "speech, English" if recording.language == "en" else "speech, other languages"


@dataclass
class KindResult:
    """One kind of negative audio: its hours and the events raised on it."""

    kind: str
    hours: float
    files: int
    at_model: Counter[str]  # events per label at the model's thresholds
    sweep: dict[str, list[int]]  # label -> events at each threshold of the grid
    sources: Counter[str] = field(default_factory=Counter)  # recording -> events at the model's thresholds


@dataclass
class NegativeResult:
    """Every kind's result, with the grid the sweep used."""

    grid: list[float]
    kinds: list[KindResult]

    @property
    def hours(self) -> float:
        return sum(kind.hours for kind in self.kinds)

    def rate(self, label: str, threshold_index: int, kinds: Sequence[str] | None = None) -> float:
        """False accepts per hour of `label` at a grid threshold, over `kinds` (default all)."""
        chosen = [k for k in self.kinds if kinds is None or k.kind in kinds]
        hours = sum(k.hours for k in chosen)
        return sum(k.sweep[label][threshold_index] for k in chosen) / hours if hours else 0.0

    def model_rate(self, labels: Sequence[str], kinds: Sequence[str] | None = None) -> float:
        """False accepts per hour of `labels` together at the model's thresholds, over `kinds`."""
        chosen = [k for k in self.kinds if kinds is None or k.kind in kinds]
        hours = sum(k.hours for k in chosen)
        return sum(k.at_model[label] for k in chosen for label in labels) / hours if hours else 0.0

    def lowest_threshold(self, label: str, rate_per_hour: float) -> int | None:
        """Index of the lowest grid threshold from which on (it and every higher one) `label` raises at
        most `rate_per_hour`. Counts are not monotone: far below the scores' usual range, events merge
        into a few long ones, and such a threshold must not be taken for a quiet one."""
        index = None
        for i in reversed(range(len(self.grid))):
            if self.rate(label, i) > rate_per_hour:
                break
            index = i
        return index

    def to_dict(self) -> dict[str, Any]:
        return {
            "hours": round(self.hours, 3),
            "grid": self.grid,
            "kinds": [
                {
                    "kind": k.kind,
                    "hours": round(k.hours, 3),
                    "files": k.files,
                    "at_model": dict(k.at_model),
                    "false_accepts_from": dict(k.sources.most_common(TOP_SOURCES)),
                    "sweep": k.sweep,
                }
                for k in self.kinds
            ],
        }


def _audio(recordings: Sequence[NegativeRecording], rate: int) -> Iterator[np.ndarray]:
    for recording in recordings:
        yield load_audio(recording.path, rate)


def evaluate_negatives(
    classifier: StreamingClassifier,
    recordings: Sequence[NegativeRecording],
    grid: Sequence[float],
    chunk_seconds: float = 0.08,
) -> NegativeResult:
    """Score each kind's recordings back to back and replay the detector at the model's thresholds
    and at every threshold of `grid`."""
    rate = classifier.sample_rate
    labels = [label for label in classifier.labels if label not in NON_EVENT_LABELS]
    by_kind: dict[str, list[NegativeRecording]] = {}
    for recording in sorted(recordings, key=lambda r: str(r.path)):
        by_kind.setdefault(category_of(recording), []).append(recording)
    results = []
    for kind, members in sorted(by_kind.items()):
        scores = score_stream(classifier, _audio(members, rate), int(round(chunk_seconds * rate)))
        starts = np.cumsum([0.0] + [r.duration_s for r in members]).tolist()
        model_events = replay(make_detector(classifier, classifier.info.thresholds), scores)
        at_model = Counter(event.label for event in model_events if event.label in labels)
        sources = Counter(
            str(members[min(len(members) - 1, bisect.bisect_right(starts, e.start_s) - 1)].path)
            for e in model_events
            if e.label in labels
        )
        sweep: dict[str, list[int]] = {label: [] for label in labels}
        for threshold in grid:
            counts = Counter(
                e.label for e in replay(make_detector(classifier, dict.fromkeys(labels, threshold)), scores)
            )
            for label in labels:
                sweep[label].append(counts[label])
        hours = len(scores) * classifier.frame_seconds / 3600
        results.append(KindResult(kind, hours, len(members), at_model, sweep, sources))
    return NegativeResult(list(grid), results)


def frr_at_rates(
    negatives: NegativeResult, curves: dict[str, list[ClassOutcome]], rates: Sequence[float] = RATES_PER_HOUR
) -> dict[str, dict[float, float | None]]:
    """Each keyword's false-reject rate on the streams (`curves`, swept on the same grid) at the
    lowest threshold whose false accepts on the real negatives are at most each rate per hour."""
    table: dict[str, dict[float, float | None]] = {}
    for label in KEYWORDS:
        if label not in curves:
            continue
        table[label] = {}
        for rate_per_hour in rates:
            index = negatives.lowest_threshold(label, rate_per_hour)
            table[label][rate_per_hour] = None if index is None else curves[label][index].frr
    return table


def format_negatives_table(negatives: NegativeResult, labels: Sequence[str]) -> str:
    """Per kind: hours, and false accepts per hour of the keywords together and of glass, at the
    model's thresholds."""
    keywords = [label for label in labels if label in KEYWORDS]
    others = [label for label in labels if label not in KEYWORDS]
    lines = [
        f"real negatives ({negatives.hours:.2f} h, validation split), false accepts/h at the model's thresholds:",
        f"  {'kind':<26}{'hours':>7}{'keywords':>10}" + "".join(f"{label:>13}" for label in others) + "  most from",
    ]
    for kind in negatives.kinds:
        top = ", ".join(f"{name.rsplit('/', 1)[-1]} {n}" for name, n in kind.sources.most_common(3))
        lines.append(
            f"  {kind.kind:<26}{kind.hours:>7.2f}{negatives.model_rate(keywords, [kind.kind]):>10.2f}"
            + "".join(f"{negatives.model_rate([label], [kind.kind]):>13.2f}" for label in others)
            + f"  {top}"
        )
    lines.append(
        f"  {'all':<26}{negatives.hours:>7.2f}{negatives.model_rate(keywords):>10.2f}"
        + "".join(f"{negatives.model_rate([label]):>13.2f}" for label in others)
    )
    running = [k.kind for k in negatives.kinds if k.kind in RUNNING_SPEECH]
    if running:
        lines.append(
            f"  running speech ({', '.join(running)}): {negatives.model_rate(keywords, running):.2f} "
            "keyword false accepts/h"
        )
    return "\n".join(lines)


def format_frr_table(table: dict[str, dict[float, float | None]]) -> str:
    """Keyword FRR on the streams at fixed false-accept rates on the real negatives."""
    rates = sorted({rate for row in table.values() for rate in row})
    lines = [
        "keyword FRR at a false-accept rate on the real negatives (per keyword):",
        f"  {'keyword':<10}" + "".join(f"{f'<= {r:g}/h':>11}" for r in rates),
    ]

    def cell(value: float | None) -> str:
        return f"{'off':>11}" if value is None else f"{value:>11.3f}"

    for label, row in table.items():
        lines.append(f"  {label:<10}" + "".join(cell(row[r]) for r in rates))
    lines.append(f"  {'mean':<10}" + "".join(cell(mean_frr(table, r)) for r in rates))
    if any(value is None for row in table.values() for value in row.values()):
        lines.append("  off: no threshold of the grid is that quiet; in the mean it counts as never found (FRR 1)")
    return "\n".join(lines)


def mean_frr(table: dict[str, dict[float, float | None]], rate_per_hour: float) -> float | None:
    """The keywords' mean FRR at one rate of `frr_at_rates`' table; a keyword that no threshold makes
    that quiet counts as switched off (FRR 1.0), so the mean never leaves the hardest keywords out."""
    values = [row[rate_per_hour] for row in table.values() if rate_per_hour in row]
    return sum(1.0 if value is None else value for value in values) / len(values) if values else None


def choose_on_negatives(negatives: NegativeResult, target_per_hour: float) -> dict[str, float]:
    """Thresholds from the real negatives: the ten keywords share `target_per_hour` (each the lowest
    grid threshold with at most a tenth of it), every other event label has it alone; a label that
    never gets there takes the highest threshold of the grid."""
    labels = negatives.kinds[0].sweep if negatives.kinds else {}
    chosen = {}
    for label in labels:
        target = target_per_hour / len(KEYWORDS) if label in KEYWORDS else target_per_hour
        index = negatives.lowest_threshold(label, target)
        chosen[label] = negatives.grid[-1 if index is None else index]
    return chosen
