"""Rooms and microphones for augmentation: synthetic impulse responses, FFT reverb, cheap-mic filtering.

A room impulse response (RIR) here is a unit direct path at lag 0, a few early reflections
(image-source style taps) and an exponentially decaying noise tail whose decay time is the RT60
and whose energy relative to the direct path sets the direct-to-reverberant ratio (DRR). Because
the direct path sits at lag 0, reverberation never moves a sound's onset. A microphone is a
zero-phase Butterworth-shaped band limit (high-pass and low-pass applied in the FFT domain),
optional soft clipping and a gain. numpy only; every random draw comes from an explicit
`np.random.Generator`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DECAY_PER_RT60 = 3.0 * np.log(10.0)  # amplitude exp(-k t / RT60) falls 60 dB (x1e-3) at t = RT60
BAND_LIMIT_PAD = 4096  # zeros appended before FFT filtering so the filter never wraps around


@dataclass(frozen=True)
class RoomConfig:
    """Ranges from which random rooms are drawn (uniformly unless noted)."""

    rt60_seconds: tuple[float, float] = (0.15, 0.9)  # reverberation time: 60 dB decay of the tail
    drr_db: tuple[float, float] = (-3.0, 12.0)  # direct-path energy over reverberant energy
    max_reflections: int = 6  # early reflections per RIR: 0..max_reflections
    reflection_delay_seconds: tuple[float, float] = (0.001, 0.025)  # lag of an early reflection
    reflection_gain: tuple[float, float] = (0.2, 0.7)  # |amplitude| of a reflection before DRR scaling
    tail_onset_seconds: tuple[float, float] = (0.002, 0.01)  # where the diffuse tail begins
    high_decay_ratio: tuple[float, float] = (0.5, 1.0)  # RT60 above ~2 kHz over RT60 below (air/wall damping)
    floor_db: float = 50.0  # the RIR is cut where its decay envelope reaches -floor_db

    def __post_init__(self) -> None:
        if self.rt60_seconds[0] <= 0 or self.rt60_seconds[0] > self.rt60_seconds[1]:
            raise ValueError(f"rt60_seconds must be an increasing positive range, got {self.rt60_seconds}")
        if self.floor_db <= 0:
            raise ValueError(f"floor_db must be positive, got {self.floor_db}")


@dataclass(frozen=True)
class MicConfig:
    """Ranges from which random microphones are drawn (uniformly)."""

    highpass_hz: tuple[float, float] = (100.0, 300.0)  # low cut of a small capsule / cheap preamp
    lowpass_hz: tuple[float, float] = (3500.0, 7000.0)  # high cut (codec, capsule, cheap ADC filter)
    order: int = 4  # Butterworth-shaped slopes: 6 * order dB per octave beyond each cut-off
    gain_db: tuple[float, float] = (-6.0, 6.0)  # input gain
    saturation_probability: float = 0.3  # chance of soft clipping (overdriven preamp / AGC)
    drive: tuple[float, float] = (1.0, 4.0)  # tanh drive of the soft clipping (1: mild, 4: hard)


@dataclass(frozen=True)
class Microphone:
    """One drawn microphone: what `apply_microphone` does to a signal."""

    highpass_hz: float  # 0: no high-pass
    lowpass_hz: float  # >= Nyquist: no low-pass
    order: int  # Butterworth-shaped slope order
    gain: float  # amplitude factor applied last
    drive: float  # tanh soft-clipping drive; 0: none


def impulse_response(
    rt60_seconds: float,
    drr_db: float,
    rng: np.random.Generator,
    sample_rate: int = 16000,
    reflections: Sequence[tuple[float, float]] = (),
    tail_onset_seconds: float = 0.005,
    high_decay_ratio: float = 1.0,
    floor_db: float = 50.0,
) -> np.ndarray:
    """A RIR (float32): 1.0 at lag 0, reflections (delay s, signed gain), a decaying noise tail.

    The tail is Gaussian noise under exp(-6.9 t / RT60) starting at `tail_onset_seconds`; its
    part above about 2 kHz decays with RT60 x `high_decay_ratio`. Reflections and tail together
    are scaled to the requested DRR, then limited to |0.9| so the direct path stays the peak.
    """
    if rt60_seconds <= 0:
        raise ValueError(f"rt60_seconds must be positive, got {rt60_seconds}")
    onset = max(1, int(round(tail_onset_seconds * sample_rate)))
    length = max(onset + 2, int(np.ceil(rt60_seconds * floor_db / 60.0 * sample_rate)))
    t = np.arange(length - onset) / sample_rate
    noise = rng.standard_normal(length - onset + 3)
    low = (noise[:-3] + noise[1:-2] + noise[2:-1] + noise[3:]) / 4.0  # 4-tap mean: first null at rate/4
    high = noise[3:] - low
    decay = DECAY_PER_RT60 / rt60_seconds
    tail = low * np.exp(-decay * t) + high * np.exp(-decay / max(high_decay_ratio, 1e-3) * t)
    reverberant = np.zeros(length)
    reverberant[onset:] = tail
    for delay, gain in reflections:
        lag = int(round(delay * sample_rate))
        if 1 <= lag < length:
            reverberant[lag] += gain
    energy = float(np.sum(reverberant**2))
    if energy > 0:
        reverberant *= np.sqrt(10.0 ** (-drr_db / 10.0) / energy)
    rir = np.clip(reverberant, -0.9, 0.9)
    rir[0] = 1.0
    return rir.astype(np.float32)


def random_impulse_response(
    rng: np.random.Generator, cfg: RoomConfig = RoomConfig(), sample_rate: int = 16000
) -> np.ndarray:
    """A RIR of a random room drawn from `cfg`'s ranges."""
    count = int(rng.integers(0, cfg.max_reflections + 1))
    delays = rng.uniform(*cfg.reflection_delay_seconds, size=count)
    gains = rng.uniform(*cfg.reflection_gain, size=count) * rng.choice([-1.0, 1.0], size=count)
    return impulse_response(
        float(rng.uniform(*cfg.rt60_seconds)),
        float(rng.uniform(*cfg.drr_db)),
        rng,
        sample_rate,
        tuple(zip(delays.tolist(), gains.tolist())),
        float(rng.uniform(*cfg.tail_onset_seconds)),
        float(rng.uniform(*cfg.high_decay_ratio)),
        cfg.floor_db,
    )


def _fft_size(length: int) -> int:
    """Smallest power of two >= length."""
    return 1 << max(0, int(length - 1).bit_length())


def reverberate(audio: np.ndarray, rir: np.ndarray, keep_energy: bool = True) -> np.ndarray:
    """`audio` convolved with `rir` (rfft), cut to the input length; float32.

    With `keep_energy` the result is scaled to the input's energy, so the level (and the SNR a
    caller planned from the dry clip) stays about the same. Silent input stays silent.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio of shape (samples,), got shape {audio.shape}")
    if len(audio) == 0:
        return audio.copy()
    size = _fft_size(len(audio) + len(rir) - 1)
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(rir, size), size)[: len(audio)]
    if keep_energy:
        dry_energy = float(np.dot(audio, audio))
        wet_energy = float(np.dot(wet, wet))
        wet *= np.sqrt(dry_energy / wet_energy) if wet_energy > 0 else 0.0
    return wet.astype(np.float32)


def measured_impulse_response(audio: np.ndarray, sample_rate: int = 16000, max_seconds: float = 1.0) -> np.ndarray:
    """A measured RIR (mono, at `sample_rate`) with its direct path (the peak) moved to lag 0, so the
    word does not move against its targets; cut to `max_seconds`, direct path +1."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or not np.any(audio):
        raise ValueError(f"a measured RIR must be mono and not silent, got shape {audio.shape}")
    start = int(np.argmax(np.abs(audio)))
    response = audio[start : start + int(max_seconds * sample_rate)]
    return (response / response[0]).astype(np.float32)


class RirBank:
    """`count` random RIRs drawn once from `seed`, so choosing one per clip costs an index draw.

    `measured` responses (see `measured_impulse_response`) join the bank repeated so that about
    half of all draws pick a measured room when there are any."""

    def __init__(
        self,
        count: int,
        cfg: RoomConfig = RoomConfig(),
        seed: int = 0,
        sample_rate: int = 16000,
        measured: Sequence[np.ndarray] = (),
    ) -> None:
        if count < 0:
            raise ValueError(f"RIR bank size must be >= 0, got {count}")
        rng = np.random.default_rng([seed, 0x524F4F4D])  # its own stream, independent of other draws
        self.responses = [random_impulse_response(rng, cfg, sample_rate) for _ in range(count)]
        if count and measured:
            self.responses += list(measured) * max(1, round(count / len(measured)))

    def __len__(self) -> int:
        return len(self.responses)

    def __getitem__(self, index: int) -> np.ndarray:
        return self.responses[index]


def butterworth_gain(freqs: np.ndarray, highpass_hz: float, lowpass_hz: float, order: int) -> np.ndarray:
    """|H(f)| of a Butterworth-shaped high-pass x low-pass; a cut-off <= 0 (high) or inf (low) is off.

    High-pass 1 / sqrt(1 + (fh / f)^2n) is written sqrt(x / (1 + x)) with x = (f / fh)^2n (no
    division by f = 0); low-pass 1 / sqrt(1 + (f / fl)^2n).
    """
    squared = np.asarray(freqs, dtype=np.float64) ** 2
    power = np.ones_like(squared)
    if highpass_hz > 0:
        ratio = _integer_power(squared / highpass_hz**2, order)
        power *= ratio / (1.0 + ratio)
    if np.isfinite(lowpass_hz):
        power /= 1.0 + _integer_power(squared / lowpass_hz**2, order)
    return np.sqrt(power)


def _integer_power(base: np.ndarray, exponent: int) -> np.ndarray:
    """base ** exponent by repeated multiplication (several times faster than np.power here)."""
    out = base.copy()
    for _ in range(exponent - 1):
        out *= base
    return out


def band_limit(
    audio: np.ndarray, highpass_hz: float, lowpass_hz: float, sample_rate: int = 16000, order: int = 4
) -> np.ndarray:
    """Zero-phase band limit (no delay, onsets stay put), applied in the FFT domain; float32.

    Slopes are 6 x `order` dB per octave beyond each cut-off (-3 dB at the cut-off itself).
    `highpass_hz` <= 0 disables the high-pass; `lowpass_hz` >= Nyquist disables the low-pass.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio of shape (samples,), got shape {audio.shape}")
    lowpass = lowpass_hz if lowpass_hz < sample_rate / 2 else np.inf
    if len(audio) == 0 or (highpass_hz <= 0 and not np.isfinite(lowpass)):
        return audio.copy()
    size = len(audio) + BAND_LIMIT_PAD
    size += (-size) % 1024  # a size numpy's FFT factors quickly
    gain = butterworth_gain(np.fft.rfftfreq(size, 1.0 / sample_rate), highpass_hz, lowpass, order)
    return np.fft.irfft(np.fft.rfft(audio, size) * gain, size)[: len(audio)].astype(np.float32)


def saturate(audio: np.ndarray, drive: float) -> np.ndarray:
    """tanh soft clipping that keeps the peak level: peak * tanh(drive x / peak) / tanh(drive)."""
    audio = np.asarray(audio, dtype=np.float32)
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if drive <= 0 or peak <= 0:
        return audio.copy()
    return (np.tanh(audio * np.float32(drive / peak)) * np.float32(peak / np.tanh(drive))).astype(np.float32)


def random_microphone(rng: np.random.Generator, cfg: MicConfig = MicConfig()) -> Microphone:
    """A microphone drawn from `cfg`'s ranges."""
    highpass = float(rng.uniform(*cfg.highpass_hz))
    lowpass = float(rng.uniform(*cfg.lowpass_hz))
    gain = float(10.0 ** (rng.uniform(*cfg.gain_db) / 20.0))
    drive = float(rng.uniform(*cfg.drive)) if rng.random() < cfg.saturation_probability else 0.0
    return Microphone(highpass, lowpass, cfg.order, gain, drive)


def apply_microphone(audio: np.ndarray, mic: Microphone, sample_rate: int = 16000) -> np.ndarray:
    """`audio` as heard through `mic`: band limit, then soft clipping, then gain; float32."""
    out = band_limit(audio, mic.highpass_hz, mic.lowpass_hz, sample_rate, mic.order)
    if mic.drive > 0:
        out = saturate(out, mic.drive)
    return (out * np.float32(mic.gain)).astype(np.float32)
