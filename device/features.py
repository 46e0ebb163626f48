"""MFCC front end: one definition, used by training (batched, torch) and the device (streaming, numpy).

Everything here is numpy-only so that the device runtime can import it without torch.
The torch version (`audio_lstm.train.torch_features.TorchMfcc`) applies the very same matrices
built by `frontend_matrices`, so training and device compute identical features.

Frames follow librosa's `center=False` convention: frame ``i`` covers samples
``[i * hop_length, i * hop_length + n_fft)``; the ``win_length`` Hann window sits centred in
that span (zero-padded to ``n_fft``), exactly as `librosa.stft` pads it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MfccConfig:
    """Front-end parameters. They travel inside every checkpoint and ONNX file."""

    sample_rate: int = 16000  # Hz; every input is resampled to this
    n_fft: int = 512  # FFT size in samples (32 ms); a frame spans n_fft samples
    win_length: int = 400  # Hann window length in samples (25 ms), centred inside n_fft
    hop_length: int = 160  # hop in samples (10 ms): one feature frame per hop
    n_mels: int = 40  # mel bands (Slaney mel scale, Slaney area normalisation)
    fmin: float = 20.0  # lowest mel band edge, Hz
    fmax: float = 8000.0  # highest mel band edge, Hz (Nyquist at 16 kHz)
    n_mfcc: int = 20  # DCT-II (orthonormal) coefficients kept
    log_floor: float = 1e-10  # power floor before 10*log10 (librosa's `amin`)

    def __post_init__(self) -> None:
        if not 1 <= self.n_mfcc <= self.n_mels:
            raise ValueError(f"n_mfcc {self.n_mfcc} must be between 1 and the {self.n_mels} mel bands")

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form, for JSON metadata."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "MfccConfig":
        """Rebuild from `to_dict` output; unknown or missing keys raise ValueError."""
        expected = set(cls.__dataclass_fields__)
        if set(values) != expected:
            raise ValueError(
                f"front-end parameters do not match this version: missing {sorted(expected - set(values))}, "
                f"unknown {sorted(set(values) - expected)}"
            )
        return cls(**values)


def _hz_to_mel(freq: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    freq = np.asarray(freq, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = freq / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    above = freq >= min_log_hz
    mels = np.where(above, min_log_mel + np.log(np.maximum(freq, 1e-12) / min_log_hz) / logstep, mels)
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    above = mels >= min_log_mel
    return np.where(above, min_log_hz * np.exp(logstep * (mels - min_log_mel)), freqs)


def mel_filterbank(cfg: MfccConfig) -> np.ndarray:
    """Triangular Slaney-normalised mel filters, shape (n_mels, n_fft // 2 + 1)."""
    fft_freqs = np.linspace(0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    mel_points = _mel_to_hz(np.linspace(_hz_to_mel(cfg.fmin), _hz_to_mel(cfg.fmax), cfg.n_mels + 2))
    widths = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2:] - mel_points[:-2]))[:, None]
    return weights


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II basis, shape (n_mfcc, n_mels)."""
    n = np.arange(n_mels)
    k = np.arange(n_mfcc)[:, None]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels)) * np.sqrt(2.0 / n_mels)
    basis[0] /= np.sqrt(2.0)
    return basis


def analysis_window(cfg: MfccConfig) -> np.ndarray:
    """Periodic Hann window of win_length samples, zero-padded (centred) to n_fft."""
    n = np.arange(cfg.win_length)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / cfg.win_length)
    left = (cfg.n_fft - cfg.win_length) // 2
    window = np.zeros(cfg.n_fft)
    window[left : left + cfg.win_length] = hann
    return window


@lru_cache(maxsize=8)
def frontend_matrices(cfg: MfccConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(window (n_fft,), mel filters (n_mels, n_bins), DCT (n_mfcc, n_mels)) as float32."""
    if cfg.win_length > cfg.n_fft or cfg.hop_length <= 0 or cfg.n_mfcc > cfg.n_mels:
        raise ValueError(f"inconsistent front-end parameters: {cfg}")
    return (
        analysis_window(cfg).astype(np.float32),
        mel_filterbank(cfg).astype(np.float32),
        dct_matrix(cfg.n_mfcc, cfg.n_mels).astype(np.float32),
    )


def num_frames(num_samples: int, cfg: MfccConfig) -> int:
    """Number of complete frames in `num_samples` samples."""
    if num_samples < cfg.n_fft:
        return 0
    return 1 + (num_samples - cfg.n_fft) // cfg.hop_length


def samples_for_frames(count: int, cfg: MfccConfig) -> int:
    """Samples that hold `count` (>= 1) complete frames: the inverse of `num_frames`."""
    return cfg.n_fft + (count - 1) * cfg.hop_length


def mfcc_from_frames(frames: np.ndarray, cfg: MfccConfig) -> np.ndarray:
    """MFCC of already-cut frames (T, n_fft) -> (T, n_mfcc), float32."""
    window, mel_t, dct_t = _fast_matrices(cfg)
    spectrum = np.fft.rfft(frames * window, axis=-1)
    squares = spectrum.view(spectrum.real.dtype)  # (T, 2 * bins): real, imaginary interleaved
    squares *= squares
    power = squares[..., 0::2] + squares[..., 1::2]  # re² + im², rounded exactly as computed separately
    mel = power @ mel_t
    np.maximum(mel, cfg.log_floor, out=mel)
    np.log10(mel, out=mel)
    return mel @ dct_t  # the 10 of 10*log10 is folded into dct_t


@lru_cache(maxsize=8)
def _fast_matrices(cfg: MfccConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transposed, contiguous float32 forms of `frontend_matrices` for the hot path (10 * DCT)."""
    window, mel, dct = frontend_matrices(cfg)
    return window, np.ascontiguousarray(mel.T), np.ascontiguousarray(10.0 * dct.T, dtype=np.float32)


def _frames(audio: np.ndarray, count: int, cfg: MfccConfig) -> np.ndarray:
    """Read-only view of `count` overlapping frames (count, n_fft) of a contiguous 1-D array (no copy).

    Built with the plain `np.ndarray` constructor (which checks that the frames fit in `audio`):
    `as_strided` does the same at several times the cost, which matters at one call per chunk.
    """
    step = audio.itemsize
    frames = np.ndarray((count, cfg.n_fft), audio.dtype, buffer=audio, strides=(cfg.hop_length * step, step))
    frames.setflags(write=False)
    return frames


def mfcc(audio: np.ndarray, cfg: MfccConfig = MfccConfig()) -> np.ndarray:
    """MFCC of a whole mono float signal -> (num_frames, n_mfcc)."""
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio of shape (samples,), got shape {audio.shape}")
    count = num_frames(len(audio), cfg)
    if count == 0:
        return np.zeros((0, cfg.n_mfcc), dtype=np.float32)
    return mfcc_from_frames(_frames(audio, count, cfg), cfg)


def pcm_to_float(chunk: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """int16 PCM or float audio -> float32 in [-1, 1]; other dtypes are refused.

    With `out` (float32, the chunk's length) the samples are written there and `out` is returned.
    """
    chunk = np.asarray(chunk)
    if chunk.ndim != 1:
        raise ValueError(f"expected a mono chunk of shape (samples,), got shape {chunk.shape}")
    if chunk.dtype == np.int16:
        return np.divide(chunk, 32768.0, out=out, dtype=np.float32)  # exact: int16 -> float32, / 2**15
    if np.issubdtype(chunk.dtype, np.floating):
        if out is None:
            return chunk.astype(np.float32, copy=False)
        out[...] = chunk
        return out
    raise TypeError(f"audio chunk must be int16 or float, got {chunk.dtype}")


class StreamingMfcc:
    """MFCC one hop at a time: feed chunks of any length, get the frames they complete.

    Holds at most ``n_fft - 1`` samples between calls (the frame overlap plus any remainder; more
    while `process` is asked to wait for `min_frames`), so the output over a stream equals `mfcc`
    over the concatenated stream, whatever the chunking.
    The samples live in one reused buffer: the held samples at its start, each new chunk written
    after them; it grows to fit the largest chunk seen.
    """

    def __init__(self, cfg: MfccConfig = MfccConfig()) -> None:
        self.cfg = cfg
        frontend_matrices(cfg)  # validate early
        self._buffer = np.zeros(cfg.n_fft - 1 + 16 * cfg.hop_length, dtype=np.float32)
        self._held = 0  # samples at the start of _buffer waiting for the next frame
        self._no_frames = np.zeros((0, cfg.n_mfcc), dtype=np.float32)
        self._no_frames.setflags(write=False)

    def reset(self) -> None:
        """Forget buffered samples."""
        self._held = 0

    @property
    def buffered_samples(self) -> int:
        """Samples held back for the next frame."""
        return self._held

    @property
    def waiting_frames(self) -> int:
        """Frames computed but not yet returned: always 0 here (see `StackedStreamingMfcc.waiting_frames`)."""
        return 0

    @property
    def pending_frames(self) -> int:
        """Complete frames in the held samples (not yet returned while `process` waits for `min_frames`)."""
        return num_frames(self._held, self.cfg)

    def process(self, chunk: np.ndarray, min_frames: int = 1) -> np.ndarray:
        """Append a chunk (int16 or float, mono) and return the new frames (T, n_mfcc).

        With `min_frames` > 1, nothing is computed (and (0, n_mfcc) returned) until at least that
        many frames are complete; the samples wait in the buffer. Each frame's values do not
        depend on how frames are batched, so this only saves calls.
        """
        chunk = np.asarray(chunk)
        cfg, held = self.cfg, self._held
        end = held + chunk.size  # pcm_to_float refuses anything but a mono chunk before writing
        if end > len(self._buffer):
            grown = np.zeros(max(end, 2 * len(self._buffer)), dtype=np.float32)
            grown[:held] = self._buffer[:held]
            self._buffer = grown
        audio = self._buffer[:end]
        pcm_to_float(chunk, out=audio[held:])
        count = num_frames(end, cfg)
        if count < max(min_frames, 1):
            self._held = end
            return self._no_frames
        features = mfcc_from_frames(_frames(audio, count, cfg), cfg)
        used = count * cfg.hop_length
        self._held = end - used
        audio[: self._held] = audio[used:]  # keep the remainder at the start (overlap-safe copy)
        return features
