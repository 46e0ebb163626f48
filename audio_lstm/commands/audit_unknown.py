"""`audio-lstm audit-unknown SHARED [--out FILE]`: list the shared unknown_words clips that are keywords.

`audio_lstm.data.unknown_audit` says what the evidence is; the list written to
`audio_lstm/data/unknown_words_excluded.tsv` is what `read_shared_data` leaves out of training.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from audio_lstm.commands.base import EXIT_OK, fail, refuse_overwrite
from audio_lstm.data.unknown_audit import HEADER, audit

PROG = "audio-lstm audit-unknown"


def build_parser() -> argparse.ArgumentParser:
    """The command's options."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("shared", type=Path, help="the shared data folder (holding unknown_words/)")
    parser.add_argument("--model", type=Path, action="append", help="ONNX model (repeatable; default: the bundled one)")
    parser.add_argument("--out", type=Path, help="write the list here (default: print it)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Audit a shared data folder's `unknown_words` and write (or print) the exclusion list.

    0: done; 2: bad input (an --out that exists, no `unknown_words` folder, an unusable --model).
    """
    args = build_parser().parse_args(argv)
    if args.out is not None and (refused := refuse_overwrite(PROG, args.out, args.force)) is not None:
        return refused
    if args.model is None:
        from audio_lstm.device.bundled import default_model_path

        args.model = [default_model_path()]
    try:
        rows, total = audit(args.shared, args.model)
    except (OSError, ValueError) as error:  # a missing folder, an unreadable clip or model
        return fail(PROG, str(error))
    models = ", ".join(path.name for path in args.model)
    lines = [f"# unknown_words clips that are not unknown speech (models: {models})", HEADER]
    text = "\n".join(lines + ["\t".join(row) for row in rows]) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
    counts = ", ".join(f"{sum(row[1] == reason for row in rows)} {reason}" for reason in ("duplicate", "model"))
    where = "" if args.out is None else f" in {args.out}"
    print(f"{len(rows)} of {total} clips listed ({counts}){where}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
