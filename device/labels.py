"""The label set of the standard 12-class Speech Commands task plus glass breaking."""

from __future__ import annotations

KEYWORDS: tuple[str, ...] = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN = "_unknown_"
SILENCE = "_silence_"
GLASS = "glass_break"
LABELS: tuple[str, ...] = KEYWORDS + (UNKNOWN, SILENCE, GLASS)
# Labels that are reported as events by the detector; unknown speech and silence never are.
EVENT_LABELS: tuple[str, ...] = KEYWORDS + (GLASS,)
NON_EVENT_LABELS: tuple[str, ...] = (UNKNOWN, SILENCE)  # scored but never reported as events
