"""`audio-lstm export CHECKPOINT`: fp32 + int8 streaming ONNX files, with parity checks printed."""

from __future__ import annotations

import argparse
import shutil
import sys
from importlib import resources
from pathlib import Path

from audio_lstm.device.bundled import DEFAULT_MODEL_FILE, MODELS_PACKAGE

PARITY_CLIPS = 2000  # at most this many validation clips drive the int8-vs-fp32 agreement check


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audio-lstm export", description=__doc__)
    parser.add_argument("checkpoint", type=Path, help="best.pt from `audio-lstm train`")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the checkpoint's folder)")
    parser.add_argument("--name", default="model", help="file stem: NAME.fp32.onnx and NAME.int8.onnx (default: model)")
    parser.add_argument(
        "--data",
        type=Path,
        nargs="*",
        default=None,
        help="data folder(s) whose validation clips drive the parity checks (default: the training data)",
    )
    parser.add_argument(
        "--model-version", default=None, help="version string stored in the file (default: a timestamp)"
    )
    parser.add_argument(
        "--reduce-range",
        action="store_true",
        help="7-bit weights (not needed: weights are stored unsigned, which does not saturate on x86)",
    )
    parser.add_argument(
        "--per-tensor",
        action="store_true",
        help="one int8 scale per weight tensor instead of per output channel (about 3 us per call "
        "faster on x86, lower int8/fp32 agreement)",
    )
    parser.add_argument(
        "--bundle", action="store_true", help=f"also install the int8 file as the package's {DEFAULT_MODEL_FILE}"
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    parser.add_argument("--skip-parity", action="store_true", help="do not run the parity checks")
    return parser


def bundled_path() -> Path:
    """Where the package's default model lives (inside the audio_lstm.models package)."""
    return Path(str(resources.files(MODELS_PACKAGE))) / DEFAULT_MODEL_FILE


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (1 when a parity target is missed)."""
    args = build_parser().parse_args(argv)
    import numpy as np

    from audio_lstm.data.layouts import open_corpora
    from audio_lstm.evaluation.clip_eval import ClipSet
    from audio_lstm.export.onnx_export import export_checkpoint
    from audio_lstm.export.parity import check_parity
    from audio_lstm.train.model import load_checkpoint

    try:
        model, mfcc_cfg, extra = load_checkpoint(args.checkpoint)
    except (FileNotFoundError, ValueError) as error:
        print(f"audio-lstm export: {error}", file=sys.stderr)
        return 2
    out = args.out or args.checkpoint.parent
    targets = [out / f"{args.name}.fp32.onnx", out / f"{args.name}.int8.onnx"]
    existing = [str(path) for path in targets if path.exists()]
    if existing and not args.force:
        print(f"audio-lstm export: would overwrite {', '.join(existing)}; pass --force", file=sys.stderr)
        return 2
    thresholds = extra.get("thresholds")
    fp32_path, int8_path = export_checkpoint(
        model,
        mfcc_cfg,
        out,
        args.name,
        thresholds=thresholds,
        model_version=args.model_version,
        reduce_range=args.reduce_range,
        per_channel=not args.per_tensor,
        extra_metadata={"parameters": str(sum(p.numel() for p in model.parameters()))},
    )
    for path in (fp32_path, int8_path):
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    status = 0
    if not args.skip_parity:
        roots = args.data if args.data else [Path(p) for p in extra.get("data", [])]
        roots = [root for root in roots if root.is_dir()]
        if not roots:
            print("audio-lstm export: no data folder for the parity checks (pass --data)", file=sys.stderr)
            return 2
        clips = open_corpora(roots, extra.get("layout", "auto")).subset("validation")
        clips = [clips[i] for i in np.random.default_rng(0).permutation(len(clips))[:PARITY_CLIPS]]
        report = check_parity(model, mfcc_cfg, fp32_path, int8_path, ClipSet.load(clips, mfcc_cfg.sample_rate).audio)
        print(report.format())
        status = 0 if report.ok else 1
    if args.bundle and status:
        print(
            f"audio-lstm export: parity failed, so {int8_path} was not installed as the bundled model "
            f"({bundled_path()} is unchanged)",
            file=sys.stderr,
        )
    elif args.bundle:
        shutil.copyfile(int8_path, bundled_path())
        print(f"installed {int8_path} as the bundled default model {bundled_path()}")
    return status


if __name__ == "__main__":
    sys.exit(main())
