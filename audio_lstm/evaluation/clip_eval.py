"""Clip-level evaluation shared by training, `evaluate`, and export parity checks (torch-free)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio_lstm.data.clips import CLIP_SECONDS, load_clip
from audio_lstm.data.readers import Clip
from audio_lstm.device.decisions import clip_label, pad_clip

# Scores a batch of equal-length clips (batch, samples) -> per-frame probabilities (batch, frames, classes).
BatchScorer = Callable[[np.ndarray], np.ndarray]


@dataclass
class ClipSet:
    """Validation clips loaded once: padded audio (clips, samples) and their labels."""

    audio: np.ndarray
    labels: list[str]
    paths: list[Path]

    @classmethod
    def load(cls, clips: Sequence[Clip], sample_rate: int = 16000) -> "ClipSet":
        length = int(CLIP_SECONDS * sample_rate)
        rows = [pad_clip(load_clip(clip.path, sample_rate, length)[0], sample_rate) for clip in clips]
        audio = np.stack(rows) if rows else np.zeros((0, length), dtype=np.float32)
        return cls(audio, [clip.label for clip in clips], [clip.path for clip in clips])


@dataclass
class ClipReport:
    """Accuracy, per-class precision/recall and the confusion matrix (rows: truth, cols: prediction)."""

    labels: tuple[str, ...]
    confusion: np.ndarray
    predictions: list[str]

    @property
    def accuracy(self) -> float:
        total = self.confusion.sum()
        return float(np.trace(self.confusion) / total) if total else 0.0

    def per_class(self) -> dict[str, dict[str, float]]:
        """{label: {precision, recall, support}} (precision/recall are 0 when undefined)."""
        result = {}
        for i, label in enumerate(self.labels):
            predicted, actual = self.confusion[:, i].sum(), self.confusion[i].sum()
            result[label] = {
                "precision": float(self.confusion[i, i] / predicted) if predicted else 0.0,
                "recall": float(self.confusion[i, i] / actual) if actual else 0.0,
                "support": int(actual),
            }
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "clips": int(self.confusion.sum()),
            "per_class": self.per_class(),
            "labels": list(self.labels),
            "confusion": self.confusion.tolist(),
        }

    def format_table(self) -> str:
        """Human-readable per-class table and overall accuracy."""
        lines = [f"{'label':<12} {'precision':>9} {'recall':>7} {'clips':>6}"]
        for label, row in self.per_class().items():
            lines.append(f"{label:<12} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['support']:>6d}")
        lines.append(f"accuracy {self.accuracy:.4f} on {int(self.confusion.sum())} clips")
        return "\n".join(lines)

    def plot_confusion(self, path: Path, title: str = "") -> None:
        """Confusion matrix as a PNG (needs matplotlib, from the `train` extra)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axis = plt.subplots(figsize=(8, 7))
        axis.imshow(self.confusion, cmap="Blues")
        ticks = range(len(self.labels))
        axis.set_xticks(ticks, self.labels, rotation=60, ha="right")
        axis.set_yticks(ticks, self.labels)
        for (row, col), value in np.ndenumerate(self.confusion):
            if value:
                axis.text(
                    col,
                    row,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value > self.confusion.max() / 2 else "black",
                )
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        axis.set_title(title or f"accuracy {self.accuracy:.3f}")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def evaluate_clips(
    score_batch: BatchScorer,
    clips: ClipSet,
    labels: tuple[str, ...],
    batch_size: int = 256,
    *,
    smoothing_frames: int,
) -> ClipReport:
    """Score every clip, take `clip_label` (smoothing over `smoothing_frames` steps), tabulate against the truth."""
    index = {label: i for i, label in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    predictions: list[str] = []
    for start in range(0, len(clips.audio), batch_size):
        frame_scores = score_batch(clips.audio[start : start + batch_size])
        for truth, scores in zip(clips.labels[start : start + batch_size], frame_scores):
            predicted, _ = clip_label(scores, labels, smoothing_frames)
            predictions.append(predicted)
            if truth in index:
                confusion[index[truth], index[predicted]] += 1
    return ClipReport(labels, confusion, predictions)
