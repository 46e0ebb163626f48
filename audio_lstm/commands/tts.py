"""`audio-lstm tts OUT_DIR`: generated speech for training, every offline TTS voice at varied prosody.

Writes `OUT_DIR/<word>/<voice-id>_nohash_<k>.flac` for every keyword and ~180 non-keywords
(`audio_lstm.synth.tts` says how); `--quick` builds a small set. Exit codes as
`audio_lstm.commands.base` says (2: a misspelt engine or share, no engine installed, OUT_DIR not a
generated set).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from audio_lstm.commands.base import EXIT_OK, fail
from audio_lstm.data.generated_sets import MARKER
from audio_lstm.synth.tts import build_generated_set
from audio_lstm.synth.voices import ENGINES
from audio_lstm.synth.words import default_words_per_label

PROG = "audio-lstm tts"


def _share(text: str) -> tuple[str, float]:
    name, _, weight = text.partition("=")
    try:
        return name, float(weight)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--share wants ENGINE=WEIGHT, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The command's options."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0].split(": ", 1)[1])
    parser.add_argument("out_dir", type=Path, help="cache folder to (re)build, e.g. cache/tts")
    parser.add_argument(
        "--engines",
        default=None,
        help=f"comma-separated engines (default: every installed one of {','.join(e.name for e in ENGINES)})",
    )
    parser.add_argument(
        "--share",
        type=_share,
        action="append",
        default=[],
        metavar="ENGINE=WEIGHT",
        help="relative share of each word's clips for an engine (default 1 each; 0 leaves it out)",
    )
    parser.add_argument(
        "--voices",
        type=int,
        default=None,
        help="use a seeded sample of at most N voice specs per engine (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="small set: 30 clips per keyword, 300 unknown")
    parser.add_argument("--keyword-clips", type=int, default=300, help="clips per keyword (default 300)")
    parser.add_argument("--unknown-clips", type=int, default=3000, help="clips over all unknown words (default 3000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the plan (default 0)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """`audio-lstm tts OUT_DIR [options]`: build the generated speech set."""
    parser = build_parser()
    args = parser.parse_args(argv)
    words = default_words_per_label(*((30, 300) if args.quick else (args.keyword_clips, args.unknown_clips)))
    names = [n.strip() for n in args.engines.split(",") if n.strip()] if args.engines else None
    try:
        marker = build_generated_set(args.out_dir, words, args.seed, args.jobs, args.voices, names, dict(args.share))
    except (KeyError, ValueError, RuntimeError, FileExistsError) as error:
        return fail(PROG, str(error.args[0] if error.args else error))
    summary = ("written", "skipped", "seconds", "counts_per_engine", "counts_per_label")
    print(json.dumps({k: marker[k] for k in summary}, indent=1))
    print(f"{len(marker['voices'])} voice specs from {len(marker['engines'])} engines; {args.out_dir / MARKER}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
