"""Stacked feature frames: one model step sees `stack` consecutive MFCC frames side by side.

A model with ``frame_stack = k`` steps its LSTM once per k hops (every 30 ms for k = 3) on the
features of k frames concatenated frame by frame. Training (torch) and the device (numpy) stack
the same way: whole steps only, counted from the start of the stream; frames of an incomplete
step wait for the rest.
"""

from __future__ import annotations

import numpy as np

from audio_lstm.device.features import MfccConfig, StreamingMfcc


def stack_frames(frames: np.ndarray, stack: int) -> np.ndarray:
    """(frames, n) -> (frames // stack, stack * n): consecutive frames side by side, the rest dropped."""
    steps = len(frames) // stack
    return np.ascontiguousarray(frames[: steps * stack]).reshape(steps, stack * frames.shape[1])


def step_seconds(cfg: MfccConfig, stack: int) -> float:
    """Seconds between the steps of a model that stacks `stack` frames (`ModelInfo.step_seconds` of its file).

    For a checkpoint, whose smoothing is ``smoothing_frames_for(step_seconds(cfg, stack))``.
    """
    return stack * cfg.hop_length / cfg.sample_rate


class StackedStreamingMfcc:
    """`StreamingMfcc` whose rows are whole model steps of `stack` frames each (`stack` >= 2).

    ``process(chunk, min_frames)`` returns (steps, stack * n_mfcc); `min_frames` counts steps,
    so the runtime groups steps exactly as it groups frames of an unstacked model.
    """

    def __init__(self, cfg: MfccConfig, stack: int) -> None:
        if stack < 2:
            raise ValueError(f"stack must be >= 2 (use StreamingMfcc for 1), got {stack}")
        self.cfg = cfg
        self.stack = stack
        self._mfcc = StreamingMfcc(cfg)
        self._waiting = np.zeros((0, cfg.n_mfcc), dtype=np.float32)  # frames of the incomplete step
        self._none = np.zeros((0, stack * cfg.n_mfcc), dtype=np.float32)

    def reset(self) -> None:
        """Forget buffered samples and waiting frames."""
        self._mfcc.reset()
        self._waiting = self._waiting[:0]

    @property
    def buffered_samples(self) -> int:
        """Samples held by the MFCC front end (frames not yet computed)."""
        return self._mfcc.buffered_samples

    @property
    def waiting_frames(self) -> int:
        """MFCC frames computed but waiting for the rest of their step."""
        return len(self._waiting)

    @property
    def pending_frames(self) -> int:
        """Complete steps (this front end's rows) that waiting frames plus held samples would give now."""
        return (len(self._waiting) + self._mfcc.pending_frames) // self.stack

    def process(self, chunk: np.ndarray, min_frames: int = 1) -> np.ndarray:
        """Feed samples; return the whole steps now complete, or none until `min_frames` steps are."""
        needed = max(min_frames, 1) * self.stack - len(self._waiting)
        frames = self._mfcc.process(chunk, min_frames=needed)
        if not len(frames):
            return self._none
        if len(self._waiting):
            frames = np.concatenate([self._waiting, frames])
        steps = stack_frames(frames, self.stack)
        self._waiting = frames[len(steps) * self.stack :].copy()
        return steps


def streaming_frontend(cfg: MfccConfig, stack: int) -> StreamingMfcc | StackedStreamingMfcc:
    """The device front end for a model that stacks `stack` frames per step."""
    return StreamingMfcc(cfg) if stack == 1 else StackedStreamingMfcc(cfg, stack)
