"""The daemon's one-line messages on stderr (`audio-lstm listen: ...`)."""

from __future__ import annotations

import sys

PROG = "audio-lstm listen"


def warn(message: str) -> None:
    """Print `PROG: message` on stderr in one write call, so that lines from several threads do not mix."""
    try:
        sys.stderr.write(f"{PROG}: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed: nowhere left to say it
        pass
