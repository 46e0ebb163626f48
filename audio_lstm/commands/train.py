"""`audio-lstm train`: train a model on one or more data folders."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

from audio_lstm.data.layouts import LAYOUTS


def label_weight(text: str) -> tuple[str, float]:
    """argparse type: 'LABEL=W' with W a finite number > 0."""
    from audio_lstm.device.options import label_number

    return label_number(text, lambda weight: 0.0 < weight < math.inf, "LABEL=WEIGHT with WEIGHT > 0")


def ema_decay(text: str) -> float:
    """argparse type: a decay D with 0 <= D < 1."""
    from audio_lstm.device.options import number_in

    return number_in(text, lambda decay: 0.0 <= decay < 1.0, "a decay D with 0 <= D < 1")


def distill_weight(text: str) -> float:
    """argparse type: a loss share W with 0 < W <= 1."""
    from audio_lstm.device.options import number_in

    return number_in(text, lambda weight: 0.0 < weight <= 1.0, "a share W with 0 < W <= 1")


def max_pool_weight(text: str) -> float:
    """argparse type: a loss share W with 0 <= W <= 1."""
    from audio_lstm.device.options import number_in

    return number_in(text, lambda weight: 0.0 <= weight <= 1.0, "a share W with 0 <= W <= 1")


def warp_width(text: str) -> float:
    """argparse type: a warp half-width W with 0 <= W <= 0.3."""
    from audio_lstm.device.options import number_in

    return number_in(text, lambda width: 0.0 <= width <= 0.3, "a half-width W with 0 <= W <= 0.3")


def model_source(text: str) -> Path:
    """--init / --teacher: a path, or 'bundled' for the model shipped in the package."""
    if text == "bundled":
        from audio_lstm.device.bundled import default_model_path

        return default_model_path()
    return Path(text)


def training_negatives(cache: Path | None, generated_hours: float | None = None, seed: int = 0) -> list[Path]:
    """The training split of the negatives cache (`cache`, else the default one when it exists), with
    at most `generated_hours` of generated speech (None: all of it, as `mine` scores it)."""
    from audio_lstm.data.negatives_cache import default_negatives_dir, read_negatives, training_recordings

    if cache is not None and not (cache / "manifest.tsv").is_file():
        raise FileNotFoundError(
            f"--negatives: {cache} holds no manifest.tsv; build it with `audio-lstm data negatives`"
        )
    recordings = read_negatives(cache or default_negatives_dir())
    return [recording.path for recording in training_recordings(recordings, generated_hours, seed)]


def build_parser() -> argparse.ArgumentParser:
    from audio_lstm.augment.training_streams import UNKNOWN_ONSET_TARGETS
    from audio_lstm.device.features import MfccConfig
    from audio_lstm.device.options import positive_int
    from audio_lstm.train.loop import TrainConfig
    from audio_lstm.train.model import ModelConfig

    model, train = ModelConfig(), TrainConfig()
    parser = argparse.ArgumentParser(prog="audio-lstm train", description=__doc__)
    parser.add_argument(
        "data", nargs="+", type=Path, help="data folder(s): shared, Speech Commands, ESC-50 or folder-per-label"
    )
    parser.add_argument("--layout", choices=LAYOUTS, default="auto", help="data layout (default: detect)")
    parser.add_argument("--out", type=Path, default=Path("runs/latest"), help="run folder (default: runs/latest)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing run folder's results")
    parser.add_argument("--epochs", type=int, default=train.epochs, help=f"training epochs (default: {train.epochs})")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=train.batch_size,
        help=f"training streams per batch (default: {train.batch_size})",
    )
    parser.add_argument(
        "--lr", type=float, default=train.learning_rate, help=f"peak learning rate (default: {train.learning_rate:g})"
    )
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="default: one pass over the training clips")
    parser.add_argument(
        "--hidden", type=int, default=model.hidden_size, help=f"LSTM units per layer (default: {model.hidden_size})"
    )
    parser.add_argument(
        "--layers", type=int, default=model.num_layers, help=f"LSTM layers (default: {model.num_layers})"
    )
    parser.add_argument(
        "--frame-stack",
        type=positive_int,
        default=model.frame_stack,
        metavar="K",
        help=f"MFCC frames per LSTM step, each 10 ms (default: {model.frame_stack}: one step per 20 ms)",
    )
    parser.add_argument(
        "--n-mfcc",
        type=positive_int,
        default=MfccConfig().n_mfcc,
        metavar="N",
        help=f"MFCC coefficients per frame, at most the {MfccConfig().n_mels} mel bands "
        f"(default: {MfccConfig().n_mfcc}); the front end travels in the model file",
    )
    parser.add_argument(
        "--workers", type=int, default=train.num_workers, help=f"data worker processes (default: {train.num_workers})"
    )
    parser.add_argument("--seed", type=int, default=train.seed, help=f"random seed (default: {train.seed})")
    parser.add_argument(
        "--spec-augment",
        type=float,
        default=train.spec_augment.probability,
        metavar="P",
        help="chance a training stream's log-mel spectrogram is masked "
        f"(0: off; default: {train.spec_augment.probability:g})",
    )
    parser.add_argument(
        "--vtlp",
        type=warp_width,
        default=1.0 - train.spec_augment.warp_range[0],
        metavar="W",
        help="warp each training stream's frequency axis by a factor drawn from 1-W..1+W "
        "(vocal-tract-length perturbation; default: 0, off)",
    )
    parser.add_argument(
        "--ema-decay",
        type=ema_decay,
        default=train.ema_decay,
        metavar="D",
        help="validate and save a moving average of the weights with this per-step decay "
        f"(0: the raw weights; default: {train.ema_decay:g})",
    )
    parser.add_argument(
        "--generated-share",
        type=float,
        default=None,
        metavar="F",
        help="fraction of each label's draws from generated (TTS) clips (default: weighed like recordings)",
    )
    parser.add_argument(
        "--label-weight",
        action="append",
        type=label_weight,
        default=None,
        metavar="LABEL=W",
        help="relative draw weight of a label's clips (repeatable; others 1; default: "
        + ", ".join(f"{label}={weight:g}" for label, weight in train.stream.label_weights)
        + ")",
    )
    parser.add_argument(
        "--unknown-onset",
        choices=UNKNOWN_ONSET_TARGETS,
        default=train.stream.unknown_onset,
        help="target of unknown words' early frames: ignore (like keywords'), unknown, or "
        "not_keyword (unknown or silence), so keywords learn not to fire inside other "
        f"words (default: {train.stream.unknown_onset})",
    )
    parser.add_argument(
        "--max-pool-weight",
        type=max_pool_weight,
        default=train.max_pool_weight,
        metavar="W",
        help="share of each keyword's loss taken at its best step (max-pooling loss) instead of "
        f"on every step of its target window (default: {train.max_pool_weight:g})",
    )
    parser.add_argument(
        "--init",
        type=model_source,
        default=None,
        metavar="CHECKPOINT",
        help="start from this trained checkpoint's weights (fine-tuning): a .pt checkpoint, an "
        "exported .onnx file (int8 weights dequantized) or 'bundled' (the shipped model); "
        "its model and front end must be the ones this command would build "
        "(default: random initial weights)",
    )
    parser.add_argument(
        "--teacher",
        action="append",
        type=model_source,
        default=None,
        metavar="CHECKPOINT",
        help="distil from this trained checkpoint (.pt, .onnx or 'bundled'; repeatable: the "
        "teachers' probabilities are averaged); its front end, labels and frame stack must match "
        "(default: none, no distillation)",
    )
    parser.add_argument(
        "--distill-weight",
        type=distill_weight,
        default=None,
        metavar="W",
        help="share of the loss that is KL to the teachers, 0 < W <= 1 "
        f"(default: {train.distill_weight:g}; needs --teacher)",
    )
    negatives = parser.add_argument_group("real negative audio (see `audio-lstm data negatives`)")
    negatives.add_argument(
        "--negatives",
        type=Path,
        default=None,
        metavar="DIR",
        help="negatives cache whose training split becomes stream backgrounds "
        "(default: the cache of `audio-lstm data negatives`, when it exists)",
    )
    negatives.add_argument("--no-negatives", action="store_true", help="train without the negatives cache")
    negatives.add_argument(
        "--negative-hours",
        type=float,
        default=train.negative_hours,
        metavar="H",
        help=f"cap on the negative audio held in memory (default: {train.negative_hours:g})",
    )
    negatives.add_argument(
        "--generated-negative-hours",
        type=float,
        default=train.generated_negative_hours,
        metavar="H",
        help="of which generated speech (`audio-lstm data speech`) at most H hours, whole voices in a seeded "
        f"order (default: {train.generated_negative_hours:g})",
    )
    negatives.add_argument(
        "--negative-probability",
        type=float,
        default=train.stream.negative_probability,
        metavar="P",
        help=f"chance a stream's background is real negative audio (default: {train.stream.negative_probability:g})",
    )
    negatives.add_argument(
        "--hard-negatives",
        type=Path,
        default=None,
        metavar="TSV",
        help="mined windows (`audio-lstm mine`) drawn for part of the negative backgrounds "
        f"(default: none; share {train.stream.hard_negative_share:g})",
    )
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    from audio_lstm.data.layouts import open_corpora
    from audio_lstm.device.features import MfccConfig
    from audio_lstm.train.distill import TeacherEnsemble
    from audio_lstm.train.loop import TrainConfig, starting_model, train
    from audio_lstm.train.model import ModelConfig

    if (args.out / "best.pt").exists() and not args.force:
        print(
            f"audio-lstm train: {args.out} already holds a trained model; pass --force or choose another --out",
            file=sys.stderr,
        )
        return 2
    if args.n_mfcc > MfccConfig().n_mels:
        print(
            f"audio-lstm train: --n-mfcc {args.n_mfcc} exceeds the front end's {MfccConfig().n_mels} mel bands",
            file=sys.stderr,
        )
        return 2
    mfcc = MfccConfig(n_mfcc=args.n_mfcc)
    model = ModelConfig(
        n_features=mfcc.n_mfcc, hidden_size=args.hidden, num_layers=args.layers, frame_stack=args.frame_stack
    )
    stray = sorted({label for label, _ in args.label_weight or ()} - set(model.labels))
    if stray:
        print(
            f"audio-lstm train: --label-weight names {', '.join(stray)}, not a model label ({', '.join(model.labels)})",
            file=sys.stderr,
        )
        return 2
    if args.distill_weight is not None and not args.teacher:
        print("audio-lstm train: --distill-weight needs --teacher", file=sys.stderr)
        return 2
    try:
        corpus = open_corpora(args.data, args.layout)
        if not args.no_negatives:
            corpus.negative_files = training_negatives(args.negatives, args.generated_negative_hours, args.seed)
        if args.hard_negatives is not None and not args.hard_negatives.is_file():
            raise FileNotFoundError(f"--hard-negatives: no such file: {args.hard_negatives}")
        if args.init is not None:
            starting_model(args.init, model, mfcc)
        for teacher in args.teacher or ():  # a mismatched teacher is refused by name before training starts
            TeacherEnsemble([teacher], model, mfcc)
    except (FileNotFoundError, ValueError) as error:
        print(f"audio-lstm train: {error}", file=sys.stderr)
        return 2
    weights = TrainConfig().stream.label_weights if args.label_weight is None else tuple(args.label_weight)
    cfg = dataclasses.replace(
        TrainConfig(),
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        steps_per_epoch=args.steps_per_epoch,
        ema_decay=args.ema_decay,
        num_workers=args.workers,
        seed=args.seed,
        teachers=tuple(str(path) for path in args.teacher or ()),
        distill_weight=TrainConfig().distill_weight if args.distill_weight is None else args.distill_weight,
        max_pool_weight=args.max_pool_weight,
        init_from=str(args.init or ""),
        negative_hours=args.negative_hours,
        generated_negative_hours=args.generated_negative_hours,
        hard_negatives=str(args.hard_negatives or ""),
        spec_augment=dataclasses.replace(
            TrainConfig().spec_augment, probability=args.spec_augment, warp_range=(1.0 - args.vtlp, 1.0 + args.vtlp)
        ),
        stream=dataclasses.replace(
            TrainConfig().stream,
            generated_share=args.generated_share,
            label_weights=weights,
            unknown_onset=args.unknown_onset,
            negative_probability=args.negative_probability,
        ),
    )
    extra = {"data": [str(path.resolve()) for path in args.data], "layout": args.layout}
    metrics = train(corpus, args.out, model, mfcc, cfg, device=args.device, progress=not args.no_progress, extra=extra)
    best = metrics["best"]
    print(
        f"best validation accuracy {best['val_accuracy']:.4f} at epoch {best['epoch']}; "
        f"checkpoint {args.out / 'best.pt'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
