"""Options and detector set-up shared by `classify` and `listen`.

Kept apart from `classify` so that the daemon's imports stay small (no soundfile).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from audio_lstm.device.detector import DEFAULT_REFRACTORY_S, PEAK, REPORT_MODES, Detector
from audio_lstm.device.labels import NON_EVENT_LABELS
from audio_lstm.device.runtime import StreamingClassifier


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code argparse chose (0 after --help, 2 for a usage error, its
    message printed) instead of raising SystemExit, so every `main(argv)` returns its code."""
    try:
        return parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2


def _valid_number(text: str, valid: Callable[[float], bool]) -> float | None:
    """`text` as a number if it parses, is not NaN and is `valid`; else None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if not math.isnan(number) and valid(number) else None


def number_in(text: str, valid: Callable[[float], bool], expected: str) -> float:
    """Parse a number; argparse.ArgumentTypeError("expected <expected>, got ...") unless `valid` (NaN never is)."""
    number = _valid_number(text, valid)
    if number is None:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return number


def label_number(text: str, valid: Callable[[float], bool], expected: str) -> tuple[str, float]:
    """Parse ``LABEL=NUMBER``; argparse.ArgumentTypeError("expected <expected>, got ...") unless `valid`."""
    label, sep, value = text.partition("=")
    number = _valid_number(value, valid)
    if not sep or not label or number is None:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return label, number


def threshold_arg(text: str) -> tuple[str, float]:
    """argparse type for ``LABEL=VALUE`` (VALUE a number in [0, 1])."""
    return label_number(text, lambda number: 0.0 <= number <= 1.0, "LABEL=VALUE with VALUE in [0, 1]")


def resolve_thresholds(
    labels: tuple[str, ...], defaults: dict[str, float], overrides: list[tuple[str, float]]
) -> dict[str, float]:
    """The model's thresholds with --threshold overrides; ValueError names a bad label."""
    thresholds = dict(defaults)
    for label, value in overrides:
        if label not in labels:
            raise ValueError(f"--threshold names unknown label {label!r}; the model's labels are: {', '.join(labels)}")
        if label in NON_EVENT_LABELS:
            raise ValueError(f"--threshold: label {label!r} is never reported as an event")
        thresholds[label] = value
    return thresholds


def event_labels(labels: tuple[str, ...]) -> tuple[str, ...]:
    """The labels of a model that may be reported as events: all but unknown speech and silence."""
    return tuple(label for label in labels if label not in NON_EVENT_LABELS)


def refractory_arg(text: str) -> float:
    """argparse type for a refractory period in seconds (a number >= 0)."""
    return number_in(text, lambda number: 0.0 <= number < math.inf, "seconds >= 0")


def make_detector(
    classifier: StreamingClassifier,
    thresholds: dict[str, float],
    *,
    refractory_s: float = DEFAULT_REFRACTORY_S,
    report: str = PEAK,
) -> Detector:
    """The detector for a model: every event label (`event_labels`) may fire, at its threshold;
    events are returned as `report` says (one of `REPORT_MODES`; see `audio_lstm.device.detector`)."""
    return Detector(
        classifier.labels,
        thresholds,
        classifier.frame_seconds,
        smoothing_frames=classifier.smoothing_frames,
        refractory_s=refractory_s,
        event_labels=event_labels(classifier.labels),
        report=report,
    )


def add_threshold_argument(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """``--threshold LABEL=VALUE`` (repeatable), as `classify`, `listen` and `serve` take it; `scope`
    prefixes the help (classify: "event mode: ")."""
    parser.add_argument(
        "--threshold",
        type=threshold_arg,
        action="append",
        default=[],
        metavar="LABEL=VALUE",
        help=f"{scope}detection threshold of a label, overriding the model's (repeatable; "
        "default: the thresholds stored in the model)",
    )


def add_report_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """``--report crossing|peak``: when the detector returns an event (`listen`: crossing, `classify`: peak)."""
    parser.add_argument(
        "--report",
        choices=REPORT_MODES,
        default=default,
        help=f"return each event when its score crosses the threshold (crossing: sooner; end_s = "
        f"start_s and score = the score at the crossing) or when it ends (peak: end_s and the "
        f"peak score known); default {default}",
    )


def positive_int(text: str) -> int:
    """argparse type for an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value
