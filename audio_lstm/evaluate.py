"""`audio-lstm evaluate MODEL DATA`: clip accuracy, per-class precision/recall, confusion matrix.

MODEL is a torch checkpoint (.pt) or a streaming ONNX file (.onnx, scored through the device
runtime exactly as `classify --clip` scores a file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from audio_lstm.sources import LAYOUTS
from audio_lstm.validation import BatchScorer, ClipSet, evaluate_clips


def torch_scorer(path: Path) -> tuple[BatchScorer, tuple[str, ...], int]:
    """Batch scorer, labels and sample rate of a torch checkpoint."""
    import torch

    from audio_lstm.model import load_checkpoint
    from audio_lstm.torch_features import TorchMfcc

    model, mfcc_cfg, _ = load_checkpoint(path)
    frontend = TorchMfcc(mfcc_cfg)

    def score(audio: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits, _ = model(frontend(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))))
            return torch.softmax(logits, -1).numpy()

    return score, model.cfg.labels, mfcc_cfg.sample_rate


def onnx_scorer(path: Path, threads: int = 1) -> tuple[BatchScorer, tuple[str, ...], int]:
    """Batch scorer, labels and sample rate of an ONNX model, run clip by clip through the runtime."""
    from audio_lstm.device.runtime import StreamingClassifier

    classifier = StreamingClassifier(path, threads=threads)

    def score(audio: np.ndarray) -> np.ndarray:
        return np.stack([classifier.predict_clip(clip) for clip in audio])

    return score, tuple(classifier.labels), classifier.sample_rate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audio-lstm evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="checkpoint (.pt) or ONNX model (.onnx)")
    parser.add_argument("data", nargs="+", type=Path, help="data folder(s)")
    parser.add_argument("--layout", choices=LAYOUTS, default="auto")
    parser.add_argument("--split", choices=("validation", "test", "train", "all"), default="validation")
    parser.add_argument("--out", type=Path, default=None, help="write report.json and confusion.png here")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads for ONNX models")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    from audio_lstm.sources import open_corpora

    try:
        if not args.model.is_file():
            raise FileNotFoundError(f"model not found: {args.model}")
        if args.model.suffix == ".onnx":
            scorer, labels, rate = onnx_scorer(args.model, args.threads)
        else:
            scorer, labels, rate = torch_scorer(args.model)
        corpus = open_corpora(args.data, args.layout)
    except (FileNotFoundError, ValueError) as error:
        print(f"audio-lstm evaluate: {error}", file=sys.stderr)
        return 2
    clips = corpus.clips if args.split == "all" else corpus.subset(args.split)
    unknown = sorted({clip.label for clip in clips} - set(labels))
    if unknown:
        print(f"audio-lstm evaluate: the model has no label for {unknown}; those clips are skipped", file=sys.stderr)
        clips = [clip for clip in clips if clip.label in labels]
    if not clips:
        print(f"audio-lstm evaluate: no clips in split {args.split!r}", file=sys.stderr)
        return 2
    report = evaluate_clips(scorer, ClipSet.load(clips, rate), labels)
    print(f"{args.model} on {len(clips)} {args.split} clips")
    print(report.format_table())
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "report.json").write_text(json.dumps(report.to_dict(), indent=2))
        report.plot_confusion(args.out / "confusion.png", title=f"{args.model.name}: {args.split}")
        print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
