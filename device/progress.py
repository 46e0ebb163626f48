"""A one-line progress indicator on a terminal, so the device install needs no tqdm.

`ProgressLine` rewrites one stderr line (``NAME:  42% 13/30 s``) at most every `MIN_INTERVAL_S`,
and erases it on `clear()` (before other output) and at the end of its `with` block. Disabled, it
does nothing; `audio-lstm classify` enables it only when stderr is a terminal.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

MIN_INTERVAL_S = 0.25  # redraws at most this often


class ProgressLine:
    """Seconds done out of `total` seconds, drawn on `stream` with carriage returns."""

    def __init__(self, name: str, total: float, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.name, self.total, self.enabled = name, max(total, 0.0), enabled
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0.0
        self._width = 0  # characters of the line now shown (0: none)
        self._drawn_at = float("-inf")

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.clear()

    def text(self) -> str:
        """The line as it is drawn now."""
        percent = 100.0 * min(self.done / self.total, 1.0) if self.total else 100.0
        return f"{self.name}: {percent:3.0f}% {self.done:.0f}/{self.total:.0f} s"

    def update(self, seconds: float) -> None:
        """Count `seconds` more as done; redraw when the last drawing is old enough."""
        self.done += seconds
        now = time.monotonic()
        if not self.enabled or now - self._drawn_at < MIN_INTERVAL_S:
            return
        self._drawn_at = now
        line = self.text()
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def clear(self) -> None:
        """Erase the line (the next `update` draws it again)."""
        if not self._width:
            return
        self.stream.write("\r" + " " * self._width + "\r")
        self.stream.flush()
        self._width, self._drawn_at = 0, float("-inf")
