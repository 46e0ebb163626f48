"""The generated set's vocabulary: every keyword, and non-keywords that sound like them or like speech.

Near-misses of each keyword ("yet" for "yes", "write" for "right", ...), Speech Commands' auxiliary
words and common English words; `default_words_per_label` turns them into clip counts.
"""

from __future__ import annotations

import numpy as np

from audio_lstm.device.labels import KEYWORDS

NEAR_MISSES: dict[str, tuple[str, ...]] = {
    "yes": ("yet", "yeah", "less", "yellow", "chess", "yell", "guess"),
    "no": ("know", "now", "note", "snow", "nope", "nose"),
    "up": ("cup", "pup", "op", "upper", "app"),
    "down": ("town", "gown", "dawn", "done", "round"),
    "left": ("lift", "laughed", "lefty", "theft", "lest", "loft"),
    "right": ("write", "light", "bright", "night", "ride", "rate"),
    "on": ("own", "an", "in", "gone", "upon"),
    "off": ("of", "cough", "often", "oft", "half"),
    "stop": ("top", "shop", "stomp", "step", "spot"),
    "go": ("goal", "ghost", "grow", "though", "so", "glow"),
}
AUXILIARY = [
    "bed",
    "bird",
    "cat",
    "dog",
    "eight",
    "five",
    "four",
    "happy",
    "house",
    "marvin",
    "nine",
    "one",
    "seven",
    "sheila",
    "six",
    "three",
    "tree",
    "two",
    "wow",
    "zero",
    "backward",
    "forward",
    "follow",
    "learn",
    "visual",
]
COMMON = [
    "the",
    "and",
    "hello",
    "time",
    "people",
    "water",
    "money",
    "morning",
    "because",
    "about",
    "would",
    "could",
    "maybe",
    "please",
    "thanks",
    "okay",
    "open",
    "close",
    "start",
    "wait",
    "turn",
    "play",
    "pause",
    "next",
    "back",
    "music",
    "window",
    "door",
    "table",
    "phone",
    "computer",
    "kitchen",
    "garden",
    "yesterday",
    "today",
    "tomorrow",
    "number",
    "little",
    "big",
    "small",
    "quick",
    "slow",
    "again",
    "never",
    "always",
    "something",
    "nothing",
    "question",
    "answer",
    "button",
    "paper",
    "doctor",
    "coffee",
    "dinner",
    "river",
    "mountain",
    "apple",
    "orange",
    "banana",
    "purple",
    "green",
    "blue",
    "red",
    "black",
    "white",
    "world",
    "family",
    "friend",
    "school",
    "city",
    "moment",
    "minute",
    "hour",
    "weather",
    "summer",
    "winter",
    "under",
    "over",
    "around",
    "between",
    "behind",
    "before",
    "after",
    "enough",
    "really",
    "very",
    "just",
    "only",
    "still",
    "also",
    "hundred",
    "thousand",
    "computer",
    "listen",
    "silence",
    "kitten",
    "picture",
    "travel",
    "animal",
]
NEAR_MISS_WEIGHT = 2  # near-misses get twice the clips of other unknown words


def unknown_words() -> list[str]:
    """The non-keyword vocabulary, near-misses first (deduplicated, no keyword)."""
    near = [w for words in NEAR_MISSES.values() for w in words]
    return [w for w in dict.fromkeys([*near, *AUXILIARY, *COMMON]) if w not in KEYWORDS]


def default_words_per_label(keyword_clips: int = 300, unknown_clips: int = 3000) -> dict[str, int]:
    """{word: clip count}: `keyword_clips` per keyword, `unknown_clips` spread over the unknown words."""
    near = {w for words in NEAR_MISSES.values() for w in words}
    words = unknown_words()
    weights = np.array([NEAR_MISS_WEIGHT if w in near else 1 for w in words], dtype=float)
    counts = np.maximum(1, np.round(unknown_clips * weights / weights.sum())).astype(int)
    return {**{k: keyword_clips for k in KEYWORDS}, **dict(zip(words, counts.tolist()))}
