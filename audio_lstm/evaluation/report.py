"""The tables `evaluate --streaming` prints: per class at the model's and the chosen thresholds,
negatives only, and what was playing at each false accept."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audio_lstm.device.labels import KEYWORDS
from audio_lstm.evaluation.event_matching import ClassOutcome
from audio_lstm.evaluation.streaming import StreamingResult


def pooled_delay_median(outcomes: dict[str, ClassOutcome], report: str) -> float | None:
    """Median delay of every hit of every label in one report mode; None without hits."""
    delays = [delay for o in outcomes.values() for delay in o.delays(report)]
    return float(np.median(delays)) if delays else None


def format_delay_summary(result: StreamingResult) -> str:
    """One line: the median delay word end -> event over all labels, per report mode, at both threshold sets."""
    parts = []
    for name, outcomes in (("model's", result.current), ("chosen", result.chosen)):
        medians = [(mode, pooled_delay_median(outcomes, mode)) for mode in result.reports]
        parts.append(
            f"{name} thresholds " + ", ".join(f"{mode} {'-' if m is None else f'{m:.3f} s'}" for mode, m in medians)
        )
    return "median delay from word end to event, all labels: " + "; ".join(parts)


def format_streaming_table(result: StreamingResult) -> str:
    """One line per label: events, then threshold/FRR/FA per hour at the model's and the chosen
    thresholds, and the delay median and p90 at the chosen ones in each measured report mode."""

    def cells(o: ClassOutcome) -> str:
        thr = "   -" if o.threshold is None else f"{o.threshold:4.2f}"
        frr = "     -" if o.frr is None else f"{o.frr:6.3f}"
        return f"{thr} {frr} {o.fa_per_hour:6.2f}"

    def seconds(value: float | None) -> str:
        return "     -" if value is None else f"{value:6.2f}"

    heads = "".join(f" {mode[:5] + ' p50':>10} {'p90':>6}" for mode in result.reports)
    lines = [
        f"{'label':<12} {'events':>6} | {'model thr':>9} {'FRR':>5} {'FA/h':>6} | "
        f"{'chosen':>6} {'FRR':>6} {'FA/h':>6}{heads}"
    ]
    for label, chosen in result.chosen.items():
        note = "" if result.targets_met[label] else "  (target not met)"
        delays = "".join(
            f" {'':>4}{seconds(chosen.delay_percentile(50, mode))} {seconds(chosen.delay_percentile(90, mode))}"
            for mode in result.reports
        )
        lines.append(
            f"{label:<12} {chosen.events:>6} | {'':>4}{cells(result.current[label])} | {'':>2}{cells(chosen)}"
            f"{delays}{note}"
        )
    lines.append(format_delay_summary(result))
    return "\n".join(lines)


def format_negative_table(result: StreamingResult) -> str:
    """Thresholds chosen counting only negative false accepts (background, unknown speech; audio_lstm.evaluation.event_matching)."""  # noqa: E501
    hours = result.negative_hours
    lines = [
        f"counting only false accepts during background and unknown speech ({hours:.2f} h outside event words); "
        "substitutions: false accepts while another event word played",
        f"{'label':<12} {'model thr':>9} {'FA/h':>6} | {'chosen':>6} {'FRR':>6} {'FA/h':>6} {'subst/h':>7}",
    ]
    for label, o in result.negative.items():
        if not o.events:
            continue
        rate = o.negative_fa_per_hour(hours) if hours > 0 else 0.0
        current = result.current[label]
        at_model = current.negative_fa_per_hour(hours) if hours > 0 and current.threshold is not None else 0.0
        model_thr = f"{current.threshold:9.2f}" if current.threshold is not None else f"{'-':>9}"
        lines.append(
            f"{label:<12} {model_thr} {at_model:6.2f} | {o.threshold:6.2f} {o.frr:6.3f} {rate:6.2f} "
            f"{o.substitutions / o.hours:7.2f}"
        )
    keywords = [label for label in KEYWORDS if result.chosen.get(label) and result.chosen[label].events]
    if keywords:
        strict = np.mean([result.chosen[label].frr for label in keywords])
        quiet = np.mean([result.negative[label].frr for label in keywords])
        lines.append(
            f"mean keyword FRR at the chosen thresholds: {strict:.3f} counting every false accept, "
            f"{quiet:.3f} counting only those during background and unknown speech"
        )
    return "\n".join(lines)


def short_source(source: str) -> str:
    """``.../speech_commands/go/a6f2fd71_nohash_0.flac`` -> ``go/a6f2fd71_nohash_0``; other names kept."""
    path = Path(source)
    return f"{path.parent.name}/{path.stem}" if path.suffix and path.parent.name else source


def format_false_accept_causes(outcomes: dict[str, ClassOutcome], top_sources: int = 3) -> str:
    """Per label with false accepts: how many and during what (a true event's label or background),
    then the `top_sources` clips that raised most of them (each clip is placed several times)."""
    lines = []
    for label, o in outcomes.items():
        if not o.false_accepts:
            continue
        lines.append(f"  {label} {o.false_accepts}: " + ", ".join(f"{cause} {n}" for cause, n in o.false_accept_causes))
        top = ", ".join(f"{short_source(source)} {n}" for source, n in o.false_accept_sources[:top_sources])
        lines.append(f"    most from: {top}")
    return "\n".join(["false accepts at the model's thresholds, by what was playing:", *lines]) if lines else ""
