"""Numpy augmentation primitives for training streams: gain, SNR mixing, noise segments, word activity.

Everything takes an explicit `np.random.Generator`, so a stream is a pure function of its seed.
Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from audio_lstm.device.audio_io import load_audio

ACTIVITY_FRAME_SECONDS = 0.01  # word_activity measures energy in 10 ms frames
SILENT_POWER = 1e-10  # mean square below this (-100 dBFS) counts as silence


def pad_or_trim(audio: np.ndarray, length: int) -> np.ndarray:
    """First `length` samples of `audio`, zero-padded at the end when shorter; float32."""
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) >= length:
        return audio[:length].copy()
    return np.pad(audio, (0, length - len(audio)))


def rms(audio: np.ndarray) -> float:
    """Root mean square of a signal (0.0 for an empty one)."""
    audio = np.asarray(audio, dtype=np.float64)
    return float(np.sqrt(np.mean(audio**2))) if len(audio) else 0.0


def db_to_gain(db: float) -> float:
    """Amplitude factor for a level change in dB."""
    return float(10.0 ** (db / 20.0))


def random_gain(audio: np.ndarray, rng: np.random.Generator, low_db: float = -10.0, high_db: float = 6.0) -> np.ndarray:
    """`audio` scaled by a gain drawn uniformly in [low_db, high_db] dB; float32."""
    if low_db > high_db:
        raise ValueError(f"low_db ({low_db}) must not exceed high_db ({high_db})")
    gain = db_to_gain(rng.uniform(low_db, high_db))
    return (np.asarray(audio, dtype=np.float32) * np.float32(gain)).astype(np.float32, copy=False)


def word_activity(audio: np.ndarray, sample_rate: int = 16000, threshold_db: float = 25.0) -> tuple[int, int] | None:
    """(start, end) samples of the active region, end exclusive; None for silent audio.

    The audio is cut into 10 ms frames; the region runs from the first to the last frame whose
    energy is within `threshold_db` of the loudest frame. Audio whose loudest frame is below
    -100 dBFS (digital silence) has no activity.
    """
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio of shape (samples,), got shape {audio.shape}")
    frame = max(1, int(round(ACTIVITY_FRAME_SECONDS * sample_rate)))
    count = -(-len(audio) // frame)
    if count == 0:
        return None
    padded = np.zeros(count * frame)
    padded[: len(audio)] = audio
    energy = np.mean(padded.reshape(count, frame) ** 2, axis=1)
    loudest = float(energy.max())
    if loudest <= SILENT_POWER:
        return None
    active = np.flatnonzero(energy >= loudest * 10.0 ** (-threshold_db / 10.0))
    return int(active[0] * frame), int(min(len(audio), (active[-1] + 1) * frame))


def active_rms(audio: np.ndarray, sample_rate: int = 16000) -> float:
    """RMS over the word-activity region (0.0 for silent audio)."""
    span = word_activity(audio, sample_rate)
    return 0.0 if span is None else rms(np.asarray(audio)[span[0] : span[1]])


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float, sample_rate: int = 16000) -> np.ndarray:
    """signal + noise, the noise scaled so that active RMS(signal) / RMS(noise) is `snr_db`.

    Both must have the same length. Silent noise adds nothing; silent signal leaves the noise
    unscaled (the SNR is undefined). Never produces NaN. Returns float32.
    """
    signal = np.asarray(signal, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)
    if signal.shape != noise.shape or signal.ndim != 1:
        raise ValueError(f"signal and noise must be mono and the same length, got {signal.shape} and {noise.shape}")
    noise_level = rms(noise)
    signal_level = active_rms(signal, sample_rate)
    if noise_level <= 0.0:
        return signal.copy()
    if signal_level <= 0.0:
        return signal + noise
    scale = signal_level / (noise_level * db_to_gain(snr_db))
    return (signal + noise * np.float32(scale)).astype(np.float32, copy=False)


class NoiseBank:
    """Background recordings held in memory as 16 kHz mono float32 arrays, loaded once.

    With more audio than `max_seconds`, a seeded random choice of files is kept and the last
    one is cut, so the bank never exceeds the cap. Files that cannot be read raise AudioFileError.
    """

    def __init__(
        self,
        paths: Sequence[Path | str] = (),
        max_seconds: float = 1800.0,
        sample_rate: int = 16000,
        seed: int = 0,
        workers: int = 8,
    ) -> None:
        self.sample_rate = sample_rate
        self.paths: list[Path] = []
        self.arrays: list[np.ndarray] = []
        order = [Path(p) for p in paths]
        if max_seconds <= 0:
            raise ValueError(f"max_seconds must be positive, got {max_seconds}")
        budget = int(max_seconds * sample_rate)
        rng = np.random.default_rng(seed)
        order = [order[i] for i in rng.permutation(len(order))]
        # Load in batches so a huge list stops reading as soon as the cap is reached.
        batch = max(1, workers * 4)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for first in range(0, len(order), batch):
                chunk = order[first : first + batch]
                for path, audio in zip(chunk, pool.map(lambda p: load_audio(p, sample_rate), chunk)):
                    if budget <= 0:
                        break
                    audio = audio[:budget]
                    self.paths.append(path)
                    self.arrays.append(np.ascontiguousarray(audio, dtype=np.float32))
                    budget -= len(audio)
                if budget <= 0:
                    break
        self._refresh()

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray], sample_rate: int = 16000) -> "NoiseBank":
        """A bank over arrays already in memory (mono float, at `sample_rate`)."""
        bank = cls((), sample_rate=sample_rate)
        for i, audio in enumerate(arrays):
            audio = np.asarray(audio, dtype=np.float32)
            if audio.ndim != 1 or len(audio) == 0:
                raise ValueError(f"noise array {i} must be mono and non-empty, got shape {audio.shape}")
            bank.arrays.append(audio)
        bank._refresh()
        return bank

    def _refresh(self) -> None:
        lengths = np.array([len(a) for a in self.arrays], dtype=np.float64)
        self._weights = lengths / lengths.sum() if len(lengths) else lengths

    def __len__(self) -> int:
        return len(self.arrays)

    @property
    def seconds(self) -> float:
        """Total audio held, in seconds."""
        return sum(len(a) for a in self.arrays) / self.sample_rate

    def choose(self, rng: np.random.Generator) -> np.ndarray:
        """One recording, chosen with probability proportional to its length."""
        if not self.arrays:
            raise ValueError("the noise bank is empty")
        return self.arrays[int(rng.choice(len(self.arrays), p=self._weights))]


def random_noise_segment(
    noise_bank: NoiseBank | Sequence[np.ndarray], length: int, rng: np.random.Generator
) -> np.ndarray:
    """`length` samples of background: a random segment of a random recording.

    Recordings are chosen with probability proportional to their length (every second of noise
    equally likely). A recording shorter than what is still needed is used whole and followed
    by further random ones until `length` is reached. Returns float32.
    """
    bank = noise_bank if isinstance(noise_bank, NoiseBank) else NoiseBank.from_arrays(noise_bank)
    if length <= 0:
        return np.zeros(0, dtype=np.float32)
    pieces: list[np.ndarray] = []
    needed = length
    while needed > 0:
        audio = bank.choose(rng)
        if len(audio) > needed:
            start = int(rng.integers(0, len(audio) - needed + 1))
            audio = audio[start : start + needed]
        pieces.append(audio)
        needed -= len(audio)
    return np.concatenate(pieces).astype(np.float32, copy=False)


__all__ = [
    "NoiseBank",
    "active_rms",
    "db_to_gain",
    "mix_at_snr",
    "pad_or_trim",
    "random_gain",
    "random_noise_segment",
    "rms",
    "word_activity",
]


def change_speed(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play `audio` `factor` times faster (tempo and pitch together, like `sox speed`).

    Linear interpolation; the result has round(len / factor) samples.
    """
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    if factor == 1.0 or len(audio) == 0:
        return np.asarray(audio, dtype=np.float32)
    count = max(1, int(round(len(audio) / factor)))
    positions = np.arange(count, dtype=np.float64) * factor
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)
