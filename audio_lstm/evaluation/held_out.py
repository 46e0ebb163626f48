"""Thresholds chosen on one half of the real negatives, counted on the other half, both ways.

The thresholds `evaluate --choose-on real-negatives` writes are chosen on the very hours whose false
accepts the report counts, so those counts flatter them. This check splits the validation
recordings into two halves by group (a package's language, a voice: never one group in both),
chooses thresholds on each half as `choose_on_negatives` does, and counts the false accepts those
thresholds raise on the other half: the figure a room that chose nothing would see. Torch-free.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from audio_lstm.data.negatives_cache import NegativeRecording
from audio_lstm.device.labels import GLASS, KEYWORDS
from audio_lstm.device.runtime import StreamingClassifier
from audio_lstm.evaluation.event_matching import ClassOutcome
from audio_lstm.evaluation.negatives import RUNNING_SPEECH, NegativeResult, choose_on_negatives, evaluate_negatives


@dataclass(frozen=True)
class HeldOutFigures:
    """False accepts per hour on the half that did not choose the thresholds, summed both ways."""

    hours: float
    keyword_fa_per_hour: float
    running_speech_fa_per_hour: float | None  # None when neither half holds running speech
    glass_fa_per_hour: float | None  # None for a model without glass_break
    mean_keyword_frr: float  # on the streams at each half's thresholds, over the two (keywords with events)


def split_in_halves(recordings: Sequence[NegativeRecording]) -> tuple[list[NegativeRecording], list[NegativeRecording]]:
    """Two halves by a hash of each recording's group (stable across runs and machines)."""
    halves: tuple[list[NegativeRecording], list[NegativeRecording]] = ([], [])
    for recording in recordings:
        halves[int(hashlib.sha1(recording.group.encode()).hexdigest(), 16) % 2].append(recording)
    return halves


def held_out_figures(
    halves: tuple[NegativeResult, NegativeResult], curves: dict[str, list[ClassOutcome]], target_per_hour: float
) -> HeldOutFigures:
    """The check's arithmetic: choose on each half, count on the other (same grid as `curves`)."""
    events = {"keywords": 0, "running": 0, "glass": 0}
    hours = {"all": 0.0, "running": 0.0}
    frr: list[float] = []
    has_glass = False
    for chose, other in ((halves[0], halves[1]), (halves[1], halves[0])):
        thresholds = choose_on_negatives(chose, target_per_hour)
        index = {label: other.grid.index(value) for label, value in thresholds.items()}
        keywords = [label for label in KEYWORDS if label in index]
        for kind in other.kinds:
            counts = sum(kind.sweep[label][index[label]] for label in keywords)
            events["keywords"] += counts
            hours["all"] += kind.hours
            if kind.kind in RUNNING_SPEECH:
                events["running"] += counts
                hours["running"] += kind.hours
            if GLASS in index:
                has_glass = True
                events["glass"] += kind.sweep[GLASS][index[GLASS]]
        outcomes = [curves[label][index[label]] for label in keywords if label in curves]
        frr += [outcome.frr for outcome in outcomes if outcome.frr is not None]
    counted = hours["all"] or 1.0  # each half's hours, once as the counted half
    return HeldOutFigures(
        hours=hours["all"],
        keyword_fa_per_hour=events["keywords"] / counted,
        running_speech_fa_per_hour=events["running"] / hours["running"] if hours["running"] else None,
        glass_fa_per_hour=events["glass"] / counted if has_glass else None,
        mean_keyword_frr=sum(frr) / len(frr) if frr else 1.0,
    )


def held_out_check(
    classifier: StreamingClassifier,
    recordings: Sequence[NegativeRecording],
    curves: dict[str, list[ClassOutcome]],
    grid: Sequence[float],
    target_per_hour: float,
) -> HeldOutFigures | None:
    """Score each half (one more pass over the negatives) and run `held_out_figures`; None when a
    half is empty."""
    first, second = split_in_halves(recordings)
    if not first or not second:
        return None
    halves = (evaluate_negatives(classifier, first, grid), evaluate_negatives(classifier, second, grid))
    return held_out_figures(halves, curves, target_per_hour)


def format_held_out(figures: HeldOutFigures, target_per_hour: float) -> str:
    """One paragraph for `evaluate --streaming`."""
    running = "n/a" if figures.running_speech_fa_per_hour is None else f"{figures.running_speech_fa_per_hour:.2f}"
    glass = "" if figures.glass_fa_per_hour is None else f", glass_break {figures.glass_fa_per_hour:.2f}"
    return (
        f"held-out check (thresholds for {target_per_hour:g}/h chosen on one half of the real negatives by group, "
        f"counted on the other, both ways; {figures.hours:.2f} h): keywords {figures.keyword_fa_per_hour:.2f} "
        f"false accepts/h, running speech {running}{glass}; mean keyword FRR on the streams "
        f"{figures.mean_keyword_frr:.3f}"
    )


def to_dict(figures: HeldOutFigures) -> dict[str, float | None]:
    """The figures for negatives.json."""
    return {key: None if value is None else round(value, 4) for key, value in asdict(figures).items()}
