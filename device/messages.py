"""Exit codes of every `audio-lstm` command, and the daemon's one-line messages on stderr (`audio-lstm listen: ...`).

The exit codes live here, in the torch-free runtime, so that the device commands and the training
side's `audio_lstm.commands.base` share one definition without `device/` importing the training side.
"""

from __future__ import annotations

import sys

EXIT_OK = 0  # done
EXIT_FAILED = 1  # ran, but a check or a file failed (the output says which)
EXIT_BAD_INPUT = 2  # usage, a missing or unreadable file, a model that does not fit: said in one line

PROG = "audio-lstm listen"


def warn(message: str) -> None:
    """Print `PROG: message` on stderr in one write call, so that lines from several threads do not mix."""
    try:
        sys.stderr.write(f"{PROG}: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed: nowhere left to say it
        pass
