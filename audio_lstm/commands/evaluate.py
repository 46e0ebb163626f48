"""`audio-lstm evaluate MODEL DATA`: clip accuracy, per-class precision/recall, confusion matrix.

MODEL is a torch checkpoint (.pt) or a streaming ONNX file (.onnx, scored through the device
runtime exactly as `classify --clip` scores a file).

With --streaming (ONNX models only): false rejects per keyword, false accepts per hour, detection
delay and DET curves on seeded long streams built from the split (see audio_lstm.evaluation.streaming),
with per-class thresholds chosen for --target-fa-per-hour; --write-thresholds stores them in MODEL.
--report names the detector's report modes whose delays are measured (default both: `listen`
returns events at the threshold crossing, `classify` when they end; the detections are the same).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from audio_lstm.data.layouts import LAYOUTS
from audio_lstm.device.decisions import smoothing_frames_for
from audio_lstm.device.detector import REPORT_MODES
from audio_lstm.device.frame_stack import step_seconds
from audio_lstm.device.labels import GLASS, KEYWORDS, LABELS
from audio_lstm.device.options import number_in, parse_arguments
from audio_lstm.device.runtime import StreamingClassifier
from audio_lstm.evaluation.clip_eval import BatchScorer, ClipReport, ClipSet, evaluate_clips
from audio_lstm.evaluation.scenes import StreamingEvalConfig
from audio_lstm.evaluation.speakers import clip_speaker_outcomes, format_speaker_table, speakers_dict

PROG = "audio-lstm evaluate"
CHOOSE_ON = ("every", "negatives", "real-negatives")  # --choose-on: which false accepts the written thresholds count
BOTH_REPORTS = "both"  # --report: measure the delays of every report mode


def torch_scorer(path: Path) -> tuple[BatchScorer, tuple[str, ...], int, int]:
    """Batch scorer, labels, sample rate and clip smoothing (steps) of a torch checkpoint."""
    import torch

    from audio_lstm.train.model import load_checkpoint
    from audio_lstm.train.torch_features import TorchMfcc

    model, mfcc_cfg, _ = load_checkpoint(path)
    frontend = TorchMfcc(mfcc_cfg)

    def score(audio: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits, _ = model(frontend(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))))
            return torch.softmax(logits, -1).numpy()

    smoothing = smoothing_frames_for(step_seconds(mfcc_cfg, model.cfg.frame_stack))
    return score, model.cfg.labels, mfcc_cfg.sample_rate, smoothing


def onnx_scorer(path: Path, threads: int = 1) -> tuple[BatchScorer, tuple[str, ...], int, int]:
    """Batch scorer, labels, sample rate and clip smoothing (steps) of an ONNX model, run clip by clip."""
    classifier = StreamingClassifier(path, threads=threads)

    def score(audio: np.ndarray) -> np.ndarray:
        return np.stack([classifier.predict_clip(clip) for clip in audio])

    return score, tuple(classifier.labels), classifier.sample_rate, classifier.smoothing_frames


def glass_figures(report: ClipReport) -> dict[str, Any] | None:
    """Glass recall (glass clips labelled glass_break) and false-alarm rate (other clips labelled
    glass_break); None when the model has no glass label."""
    if GLASS not in report.labels:
        return None
    column = report.labels.index(GLASS)
    glass_clips = int(report.confusion[column].sum())
    recalled = int(report.confusion[column, column])
    other_clips = int(report.confusion.sum()) - glass_clips
    false_alarms = int(report.confusion[:, column].sum()) - recalled
    return {
        "glass_clips": glass_clips,
        "recall": recalled / glass_clips if glass_clips else None,
        "other_clips": other_clips,
        "false_alarms": false_alarms,
        "false_alarm_rate": false_alarms / other_clips if other_clips else None,
    }


def format_glass(figures: dict[str, Any]) -> str:
    """One line: glass recall and false-alarm rate with their counts."""

    def rate(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    recalled = round((figures["recall"] or 0.0) * figures["glass_clips"])
    return (
        f"{GLASS}: recall {rate(figures['recall'])} ({recalled}/{figures['glass_clips']} glass clips), "
        f"false-alarm rate {rate(figures['false_alarm_rate'])} "
        f"({figures['false_alarms']}/{figures['other_clips']} other clips)"
    )


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    return number_in(text, lambda value: 0 < value < math.inf, "a positive number")


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    return number_in(text, lambda value: 0 <= value < math.inf, "a number >= 0")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", type=Path, help="checkpoint (.pt) or ONNX model (.onnx)")
    parser.add_argument("data", nargs="+", type=Path, help="data folder(s)")
    parser.add_argument("--layout", choices=LAYOUTS, default="auto", help="data layout (default: auto, detected)")
    parser.add_argument(
        "--split",
        choices=("validation", "test", "train", "all"),
        default="validation",
        help="clips to score (default: validation)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write report.json and confusion.png (--streaming: streaming.json and det_<label>.png) here "
        "(default: print only)",
    )
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads for ONNX models (default: 1)")
    stream = parser.add_argument_group("streaming evaluation")
    stream.add_argument("--streaming", action="store_true", help="measure detection on long streams instead of clips")
    defaults = StreamingEvalConfig()
    stream.add_argument(
        "--hours",
        type=positive_float,
        default=defaults.hours,
        help=f"stream audio to build and score (default {defaults.hours:g})",
    )
    stream.add_argument("--seed", type=int, default=defaults.seed, help=f"stream seed (default {defaults.seed})")
    stream.add_argument(
        "--target-fa-per-hour",
        type=non_negative_float,
        default=defaults.target_fa_per_hour,
        help=f"false accepts per hour the chosen thresholds allow (default {defaults.target_fa_per_hour:g})",
    )
    stream.add_argument(
        "--write-thresholds",
        nargs="?",
        const="all",
        default=None,
        metavar="LABELS",
        help="write the chosen thresholds into MODEL's metadata (in place; other keys kept); "
        "optionally only those of LABELS, comma-separated (e.g. glass_break; 'keywords': the ten; "
        "default: write none)",
    )
    stream.add_argument(
        "--choose-on",
        choices=CHOOSE_ON,
        default="every",
        help="the false accepts the written thresholds count: every one (default), only "
        "'negatives', those during background and unknown speech in the streams, or "
        "'real-negatives', those on the negatives cache's validation hours (the ten keywords "
        "share the target)",
    )
    stream.add_argument(
        "--negatives",
        type=Path,
        default=None,
        metavar="DIR",
        help="negatives cache whose validation split is also measured "
        "(default: the cache of `audio-lstm data negatives`, when it exists)",
    )
    stream.add_argument("--no-negatives", action="store_true", help="skip the real negatives")
    stream.add_argument(
        "--report",
        choices=(BOTH_REPORTS, *REPORT_MODES),
        default=BOTH_REPORTS,
        help="the detector's report mode(s) whose delays are measured: crossing (listen's "
        "default: at the threshold crossing), peak (classify's: when the event ends) or "
        "both (default); false rejects and accepts are the same in both",
    )
    return parser


def expand_label_names(names: str) -> set[str]:
    """--write-thresholds' comma-separated labels, with 'keywords' standing for the ten keywords."""
    named = set(names.split(","))
    return (named - {"keywords"}) | set(KEYWORDS) if "keywords" in named else named


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    args = parse_arguments(parser, argv)
    if isinstance(args, int):
        return args
    from audio_lstm.data.layouts import open_corpora

    if args.write_thresholds and not args.streaming:
        print(f"{PROG}: --write-thresholds needs --streaming", file=sys.stderr)
        return 2
    unknown = sorted(expand_label_names(args.write_thresholds or "all") - {"all", *LABELS})
    if unknown:
        print(
            f"{PROG}: --write-thresholds names unknown labels {unknown}; labels are: {', '.join(LABELS)}",
            file=sys.stderr,
        )
        return 2
    try:
        if not args.model.is_file():
            raise FileNotFoundError(f"model not found: {args.model}")
        if args.streaming and args.model.suffix != ".onnx":
            raise ValueError(
                f"{args.model}: --streaming needs an exported ONNX model (.onnx), "
                f"not {args.model.suffix or 'a file without suffix'}"
            )
        if args.streaming:
            classifier = StreamingClassifier(args.model, threads=args.threads)
        elif args.model.suffix == ".onnx":
            scorer, labels, rate, smoothing = onnx_scorer(args.model, args.threads)
        else:
            scorer, labels, rate, smoothing = torch_scorer(args.model)
        corpus = open_corpora(args.data, args.layout)
    except (FileNotFoundError, ValueError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    if args.streaming:
        from audio_lstm.commands.evaluate_streaming import run_streaming

        return run_streaming(args, classifier, corpus)
    clips = corpus.clips if args.split == "all" else corpus.subset(args.split)
    unknown = sorted({clip.label for clip in clips} - set(labels))
    if unknown:
        print(f"{PROG}: the model has no label for {unknown}; those clips are skipped", file=sys.stderr)
        clips = [clip for clip in clips if clip.label in labels]
    if not clips:
        print(f"{PROG}: no clips in split {args.split!r}", file=sys.stderr)
        return 2
    report = evaluate_clips(scorer, ClipSet.load(clips, rate), labels, smoothing_frames=smoothing)
    glass = glass_figures(report)
    print(f"{args.model} on {len(clips)} {args.split} clips")
    print(report.format_table())
    if glass is not None:
        print(format_glass(glass))
    speakers = clip_speaker_outcomes([c.path for c in clips], [c.label for c in clips], report.predictions, KEYWORDS)
    if speakers:
        print(format_speaker_table({"clips": speakers}, title="share of keyword clips called another label, in"))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        found = {**report.to_dict(), "glass": glass, "keyword_frr_per_speaker": speakers_dict(speakers)}
        (args.out / "report.json").write_text(json.dumps(found, indent=2))
        report.plot_confusion(args.out / "confusion.png", title=f"{args.model.name}: {args.split}")
        print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
