"""`audio-lstm mine MODEL --out FILE.tsv`: windows of the negatives' training split where MODEL nearly fires.

Train the next model with `audio-lstm train ... --hard-negatives FILE.tsv` (see
`audio_lstm.train.hard_negatives` for the loop and its cost).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from audio_lstm.commands.base import EXIT_OK, fail, refuse_overwrite

PROG = "audio-lstm mine"


def build_parser() -> argparse.ArgumentParser:
    """The command's options."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="ONNX model file, or 'bundled'")
    parser.add_argument("--out", type=Path, required=True, help="TSV of mined windows to write")
    parser.add_argument(
        "--negatives",
        type=Path,
        default=None,
        metavar="DIR",
        help="negatives cache (default: the cache of `audio-lstm data negatives`)",
    )
    parser.add_argument(
        "--near",
        type=float,
        default=0.5,
        help="keep steps whose smoothed score reaches NEAR x the label's threshold (default: 0.5)",
    )
    parser.add_argument("--window-s", type=float, default=3.0, help="window length in seconds (default: 3)")
    parser.add_argument("--force", action="store_true", help="overwrite --out")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = build_parser().parse_args(argv)
    from audio_lstm.commands.train import training_negatives
    from audio_lstm.device.bundled import default_model_path
    from audio_lstm.device.model_file import ModelFileError
    from audio_lstm.train.hard_negatives import mine, write_windows

    refused = refuse_overwrite(PROG, args.out, args.force)
    if refused is not None:
        return refused
    if not 0 < args.near <= 1 or args.window_s <= 0:
        return fail(PROG, f"--near must be in (0, 1] and --window-s > 0, got {args.near} and {args.window_s}")
    try:
        files = training_negatives(args.negatives)
        if not files:
            return fail(PROG, "no negatives to mine: build the cache with `audio-lstm data negatives`")
        model = default_model_path() if args.model == "bundled" else Path(args.model)
        started = time.process_time()
        windows, hours = mine(model, files, args.near, args.window_s)
    except (FileNotFoundError, ValueError, ModelFileError) as error:
        return fail(PROG, str(error))
    write_windows(args.out, windows)
    by_label = ", ".join(f"{label} {n}" for label, n in Counter(w.label for w in windows).most_common())
    print(
        f"{len(windows)} windows from {hours:.2f} h of negatives ({by_label or 'none'}) in "
        f"{time.process_time() - started:.0f} s of CPU -> {args.out}"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
