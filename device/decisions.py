"""Turning per-frame scores into a clip-level label (torch-free; shared by evaluate and classify)."""

from __future__ import annotations

import numpy as np

from audio_lstm.device.labels import SILENCE

SMOOTHING_SECONDS = 0.05  # span of the moving average applied to per-step probabilities


def smoothing_frames_for(step_seconds: float) -> int:
    """Moving-average length, in model steps, that spans about SMOOTHING_SECONDS (at least 1).

    The one definition of the smoothing: clip labels (`classify --clip`, `evaluate`, training's
    validation), the event detector (`classify`, `listen`, `serve`) and the tests all take it from
    the model's step length, e.g. ``StreamingClassifier.smoothing_frames`` or ``ModelInfo.step_seconds``
    (2 steps for a model stepping every 20 ms, 5 for one stepping every 10 ms).
    """
    if step_seconds <= 0:
        raise ValueError(f"step_seconds must be > 0, got {step_seconds}")
    return max(1, int(round(SMOOTHING_SECONDS / step_seconds)))


def smooth(frame_probs: np.ndarray, frames: int) -> np.ndarray:
    """Causal moving average over the last `frames` frames (`smoothing_frames_for`), (T, C) -> (T, C)."""
    if frames <= 1 or len(frame_probs) == 0:
        return frame_probs
    cumulative = np.cumsum(np.pad(frame_probs, ((frames, 0), (0, 0))), axis=0)
    window = cumulative[frames:] - cumulative[:-frames]
    counts = np.minimum(np.arange(1, len(frame_probs) + 1), frames)[:, None]
    return window / counts


def clip_scores(frame_probs: np.ndarray, labels: tuple[str, ...], smoothing_frames: int) -> np.ndarray:
    """One score per class for a whole clip, smoothing over `smoothing_frames` steps (`smoothing_frames_for`).

    A sound class scores its peak (smoothed) probability anywhere in the clip; silence scores
    its *lowest* smoothed probability, i.e. it wins only if nothing else ever took over.
    """
    frame_probs = np.asarray(frame_probs, dtype=np.float64)
    if frame_probs.ndim != 2 or frame_probs.shape[1] != len(labels):
        raise ValueError(f"expected frame scores of shape (frames, {len(labels)}), got {frame_probs.shape}")
    if len(frame_probs) == 0:
        raise ValueError("clip is too short to produce a single feature frame")
    smoothed = smooth(frame_probs, smoothing_frames)
    scores = smoothed.max(axis=0)
    if SILENCE in labels:
        index = labels.index(SILENCE)
        scores[index] = smoothed[:, index].min()
    return scores


def clip_label(frame_probs: np.ndarray, labels: tuple[str, ...], smoothing_frames: int) -> tuple[str, float]:
    """Top label of a clip and its score, from per-frame probabilities (T, C) (see `clip_scores`)."""
    scores = clip_scores(frame_probs, labels, smoothing_frames)
    best = int(np.argmax(scores))
    return labels[best], float(scores[best])


CLIP_TAIL_SECONDS = 0.3  # zeros appended to a short clip so the model sees the word's end


def pad_clip(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """A clip as the clip classifier scores it: the audio followed by CLIP_TAIL_SECONDS of zeros."""
    tail = np.zeros(int(round(CLIP_TAIL_SECONDS * sample_rate)), dtype=np.float32)
    return np.concatenate([np.asarray(audio, dtype=np.float32), tail])
