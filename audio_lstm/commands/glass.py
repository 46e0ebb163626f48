"""`audio-lstm glass [OUT_DIR] [--validate]`: synthetic breaking glass for training.

Writes `OUT_DIR/glass_break/glass-s<seed>_nohash_<k>.flac` and the generated-set marker
(`audio_lstm.synth.glass` says how a break is built); `--validate` scores generated clips, the real
glass windows and ambience windows with a model and prints how often each is called glass.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audio_lstm.commands.base import EXIT_FAILED, EXIT_OK, fail
from audio_lstm.data.generated_sets import MARKER
from audio_lstm.device.labels import GLASS
from audio_lstm.synth.glass import build_glass_set, validate

PROG = "audio-lstm glass"


def build_parser() -> argparse.ArgumentParser:
    """The command's options."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0].split(": ", 1)[1])
    parser.add_argument("out_dir", type=Path, nargs="?", help="cache folder to (re)build, e.g. cache/glass")
    parser.add_argument("--count", type=int, default=500, help="clips to generate (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument(
        "--validate", action="store_true", help="score --count synthetic clips, real glass and ambience"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("../shared/data"),
        help="shared data folder for --validate (default ../shared/data)",
    )
    parser.add_argument("--model", type=Path, default=None, help="ONNX model for --validate (default: the bundled one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line: build a glass set into OUT_DIR and/or --validate it against the real windows.
    Exit codes as `audio_lstm.commands.base` says (2: usage, OUT_DIR not a glass set, no --data, bad --model)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out_dir is None and not args.validate:
        parser.error("give OUT_DIR to write clips, --validate to score them, or both")
    if args.count < 1 or args.seed < 0:
        parser.error(f"--count must be >= 1 and --seed >= 0, got {args.count} and {args.seed}")
    try:
        if args.out_dir is not None:
            marker = build_glass_set(args.out_dir, args.count, args.seed)
            print(
                f"{marker['written']} clips in {marker['seconds']} s: {args.out_dir / GLASS}; {args.out_dir / MARKER}"
            )
        if args.validate:
            report = validate(args.data, args.count, args.seed, model=args.model)
            print(f"{'set':<14} {'clips':>5} {'median glass score':>19} {'called glass':>13} {'energy > 2 kHz':>15}")
            for name, row in report.items():
                print(
                    f"{name:<14} {row['clips']:>5} {row['median_score']:>19.3f} {row['glass_fraction']:>12.1%}"
                    f" {row['high_band']:>15.2f}"
                )
    except (FileExistsError, FileNotFoundError, NotADirectoryError, ValueError) as error:  # ModelFileError too
        return fail(PROG, str(error))
    except OSError as error:  # e.g. the disk filled up while writing clips
        print(f"{PROG}: {error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
