"""What every `audio-lstm` subcommand shares: exit codes and the one-line error.

Exit codes: 0 done; 1 ran, but a check or a file failed (the output says which); 2 bad input
(usage, a missing or unreadable file, a model that does not fit), said in one line on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from audio_lstm.device.messages import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "UsageError", "fail", "refuse_overwrite"]


class UsageError(Exception):
    """Bad input: the command exits with EXIT_BAD_INPUT and this one-line message."""


def fail(prog: str, message: str) -> int:
    """Print `prog: message` on stderr; returns EXIT_BAD_INPUT for `return fail(...)`."""
    print(f"{prog}: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def refuse_overwrite(prog: str, path: Path, force: bool) -> int | None:
    """EXIT_BAD_INPUT (with the message) when `path` exists and `force` is not set, else None."""
    if path.exists() and not force:
        return fail(prog, f"{path} exists; pass --force to overwrite it")
    return None
