"""Hard-negative mining: the windows of real negative audio where the current model nearly fires.

The loop (`make model`): score every training-split recording of the negatives cache with the
current int8 file through the device runtime, keep a window of `window_s` around each run of steps
where an event label's smoothed score reaches `near` times its threshold, and train the next model
with those windows as backgrounds for `StreamConfig.hard_negative_share` of its negative streams.
Scoring costs what the device costs (about 1.3 ms of CPU per second of audio), so mining hours
of audio takes well under a minute per hour. Torch-free.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import numpy as np

from audio_lstm.augment.signal import NoiseBank
from audio_lstm.device.audio_io import load_audio
from audio_lstm.device.decisions import smooth
from audio_lstm.device.labels import NON_EVENT_LABELS
from audio_lstm.device.runtime import StreamingClassifier

CHUNK_SAMPLES = 16000  # how much audio the classifier gets per call while mining


@dataclass(frozen=True)
class MinedWindow:
    """A stretch of a negative recording where `label` came near its threshold."""

    path: str
    start_s: float
    end_s: float
    label: str
    score: float  # the peak smoothed score in the window


def score_file(classifier: StreamingClassifier, audio: np.ndarray) -> np.ndarray:
    """Smoothed per-step scores of one recording, fed as the device feeds it."""
    classifier.reset()
    parts = [classifier.process(audio[i : i + CHUNK_SAMPLES]) for i in range(0, len(audio), CHUNK_SAMPLES)]
    parts.append(classifier.flush())
    classifier.reset()
    return smooth(np.concatenate(parts), classifier.smoothing_frames)


def windows_near_threshold(
    scores: np.ndarray,
    labels: Sequence[str],
    thresholds: dict[str, float],
    step_s: float,
    near: float,
    window_s: float,
    duration_s: float,
) -> list[tuple[float, float, str, float]]:
    """(start_s, end_s, label, peak) of a `window_s` window centred on the peak of each run of
    steps where an event label's score is at least `near` times its threshold."""
    found = []
    for column, label in enumerate(labels):
        if label in NON_EVENT_LABELS or label not in thresholds:
            continue
        above = scores[:, column] >= near * thresholds[label]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(np.int8), [0]])))
        for first, last in zip(edges[::2], edges[1::2]):
            peak = first + int(np.argmax(scores[first:last, column]))
            centre = (peak + 0.5) * step_s
            start = float(np.clip(centre - window_s / 2, 0.0, max(0.0, duration_s - window_s)))
            found.append((start, min(duration_s, start + window_s), label, float(scores[peak, column])))
    return found


def mine(
    model: Path, files: Iterable[Path], near: float = 0.5, window_s: float = 3.0, threads: int = 1
) -> tuple[list[MinedWindow], float]:
    """The mined windows of `files` and the hours of audio scored."""
    classifier = StreamingClassifier(model, threads=threads)
    thresholds = classifier.info.thresholds
    mined: list[MinedWindow] = []
    seconds = 0.0
    for path in files:
        audio = load_audio(path, classifier.sample_rate)
        duration = len(audio) / classifier.sample_rate
        seconds += duration
        scores = score_file(classifier, audio)
        for start, end, label, peak in windows_near_threshold(
            scores, classifier.labels, thresholds, classifier.frame_seconds, near, window_s, duration
        ):
            mined.append(MinedWindow(str(path), round(start, 3), round(end, 3), label, round(peak, 4)))
    return mined, seconds / 3600


def write_windows(path: Path, windows: Sequence[MinedWindow]) -> None:
    """The windows as a TSV with a header row."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow([f.name for f in fields(MinedWindow)])
        writer.writerows(astuple(window) for window in windows)


def read_windows(path: Path) -> list[MinedWindow]:
    """Windows written by `write_windows`; ValueError names the file when it is not such a list."""
    with path.open(newline="") as source:
        rows = list(csv.DictReader(source, delimiter="\t"))
    try:
        return [
            MinedWindow(r["path"], float(r["start_s"]), float(r["end_s"]), r["label"], float(r["score"])) for r in rows
        ]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a list of mined windows ({error})") from error


def window_bank(windows: Sequence[MinedWindow], sample_rate: int = 16000) -> NoiseBank:
    """The windows' audio in memory, as backgrounds for the stream sampler."""
    arrays: list[np.ndarray] = []
    by_file: dict[str, list[MinedWindow]] = {}
    for window in windows:
        by_file.setdefault(window.path, []).append(window)
    for path, in_file in by_file.items():
        audio = load_audio(path, sample_rate)
        for window in in_file:
            piece = audio[int(window.start_s * sample_rate) : int(window.end_s * sample_rate)]
            if len(piece):
                arrays.append(piece)
    return NoiseBank.from_arrays(arrays, sample_rate)
