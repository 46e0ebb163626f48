"""Parity checks between the torch model, the fp32 ONNX file and the int8 ONNX file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from audio_lstm.device.decisions import clip_label, smoothing_frames_for
from audio_lstm.device.features import MfccConfig, mfcc
from audio_lstm.device.frame_stack import stack_frames, step_seconds
from audio_lstm.device.model_file import INPUT_C, INPUT_FEATURES, INPUT_H, OUTPUT_C, OUTPUT_H, OUTPUT_SCORES
from audio_lstm.train.model import KeywordLSTM

TORCH_TOLERANCE = 1e-4  # max |score difference| allowed between torch and fp32 ONNX
AGREEMENT_TARGET = 0.99  # min fraction of clips whose top label int8 and fp32 agree on
STREAMING_TOLERANCE = 1e-5  # max |difference| between chunked and one-pass ONNX scores


@dataclass(frozen=True)
class ParityReport:
    """Results of `check_parity`; `ok` says whether every target is met."""

    torch_max_diff: float
    int8_agreement: float
    streaming_max_diff: float
    clips: int

    @property
    def ok(self) -> bool:
        return (
            self.torch_max_diff <= TORCH_TOLERANCE
            and self.int8_agreement >= AGREEMENT_TARGET
            and self.streaming_max_diff <= STREAMING_TOLERANCE
        )

    def format(self) -> str:
        mark = lambda good: "ok" if good else "FAILED"  # noqa: E731
        return "\n".join(
            [
                f"parity on {self.clips} validation clips:",
                f"  torch vs fp32 ONNX   max |diff| {self.torch_max_diff:.2e} (limit {TORCH_TOLERANCE:g}) "
                f"{mark(self.torch_max_diff <= TORCH_TOLERANCE)}",
                f"  int8 vs fp32 labels  agreement {self.int8_agreement:.2%} (target {AGREEMENT_TARGET:.0%}) "
                f"{mark(self.int8_agreement >= AGREEMENT_TARGET)}",
                f"  chunked vs one pass  max |diff| {self.streaming_max_diff:.2e} (limit {STREAMING_TOLERANCE:g}) "
                f"{mark(self.streaming_max_diff <= STREAMING_TOLERANCE)}",
            ]
        )


class OnnxScorer:
    """Minimal direct ONNX runner over feature arrays (the device runtime adds the front end)."""

    def __init__(self, path: Path) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        shape = self.session.get_inputs()[1].shape
        self.state_shape = tuple(int(v) for v in shape)

    def run(self, features: np.ndarray, chunk_frames: list[int] | None = None) -> np.ndarray:
        """Scores (frames, classes) for features (frames, n), optionally fed in chunks, zero state."""
        h = np.zeros(self.state_shape, dtype=np.float32)
        c = np.zeros(self.state_shape, dtype=np.float32)
        sizes = chunk_frames or [len(features)]
        outputs, start = [], 0
        for size in sizes:
            if start >= len(features):
                break
            part = features[None, start : start + size].astype(np.float32)
            scores, h, c = self.session.run(
                [OUTPUT_SCORES, OUTPUT_H, OUTPUT_C], {INPUT_FEATURES: part, INPUT_H: h, INPUT_C: c}
            )
            outputs.append(scores[0])
            start += size
        return np.concatenate(outputs)


def check_parity(
    model: KeywordLSTM, mfcc_cfg: MfccConfig, fp32_path: Path, int8_path: Path, clips: np.ndarray, seed: int = 0
) -> ParityReport:
    """Compare torch, fp32 and int8 on `clips` (clips, samples) of validation audio."""
    stack = model.cfg.frame_stack
    features = [mfcc(clip, mfcc_cfg) for clip in clips]
    fp32, int8 = OnnxScorer(fp32_path), OnnxScorer(int8_path)
    labels = model.cfg.labels
    smoothing = smoothing_frames_for(step_seconds(mfcc_cfg, stack))
    torch_diff, streaming_diff, agree = 0.0, 0.0, 0
    rng = np.random.default_rng(seed)
    model = model.eval()
    for index, frames in enumerate(features):
        with torch.no_grad():
            logits, _ = model(torch.from_numpy(frames)[None])
            reference = torch.softmax(logits, -1)[0].numpy()
        frames = stack_frames(frames, stack)  # the graph's rows: one model step each
        scores = fp32.run(frames)
        torch_diff = max(torch_diff, float(np.abs(scores - reference).max()))
        agree += clip_label(scores, labels, smoothing)[0] == clip_label(int8.run(frames), labels, smoothing)[0]
        if index < 32:
            chunks = list(rng.integers(1, 12, size=len(frames)))
            streaming_diff = max(streaming_diff, float(np.abs(fp32.run(frames, chunks) - scores).max()))
    return ParityReport(torch_diff, agree / max(1, len(features)), streaming_diff, len(features))
