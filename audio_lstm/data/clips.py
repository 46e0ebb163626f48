"""One-second clips as training, validation and the streaming evaluation load them (numpy only)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from audio_lstm.augment.signal import word_activity
from audio_lstm.device.audio_io import load_audio

CLIP_SECONDS = 1.0  # every clip is loaded, and every generated clip written, as exactly this much audio

LoadedClip = tuple[np.ndarray, tuple[int, int] | None]  # (audio, word activity [a, b) or None)
# Loaded clips per (path, sample rate, length); process-local, shared by every sampler in a process.
_CLIP_CACHE: dict[tuple[str, int, int], LoadedClip] = {}


def load_clip(path: Path, sample_rate: int, length: int) -> LoadedClip:
    """A clip as exactly `length` samples plus its word activity.

    Shorter files are zero-padded at the end; longer ones keep the `length` samples centred on
    their word activity (so a long recording's word is not cut off).
    """
    audio = load_audio(path, sample_rate)
    if len(audio) > length:
        span = word_activity(audio, sample_rate)
        middle = len(audio) // 2 if span is None else (span[0] + span[1]) // 2
        first = int(np.clip(middle - length // 2, 0, len(audio) - length))
        audio = audio[first : first + length]
    audio = np.ascontiguousarray(np.pad(audio, (0, length - len(audio))), dtype=np.float32)
    return audio, word_activity(audio, sample_rate)


def load_clips(paths: list[Path], sample_rate: int, length: int, cache: dict | None = None) -> list[LoadedClip]:
    """`load_clip` for many files (8 threads), each file read once per `cache` (default: per process)."""
    cache = _CLIP_CACHE if cache is None else cache
    keys = [(str(path), sample_rate, length) for path in paths]
    todo = list(dict.fromkeys(key for key in keys if key not in cache))
    with ThreadPoolExecutor(max_workers=8) as pool:
        for key, loaded in zip(todo, pool.map(lambda k: load_clip(Path(k[0]), sample_rate, length), todo)):
            cache[key] = loaded
    return [cache[key] for key in keys]
