"""Augmentation primitives: gain, word activity, SNR mixing, noise bank and segments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_lstm.augment.signal import (
    NoiseBank,
    active_rms,
    mix_at_snr,
    pad_or_trim,
    random_gain,
    random_noise_segment,
    rms,
    word_activity,
)

RATE = 16000


def tone(samples: int, amplitude: float = 0.3, freq: float = 440.0) -> np.ndarray:
    t = np.arange(samples) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t + 0.5)).astype(np.float32)


def burst(start: float, end: float, total: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    audio = np.zeros(int(total * RATE), dtype=np.float32)
    a, b = round(start * RATE), round(end * RATE)
    audio[a:b] = tone(b - a, amplitude)
    return audio


def test_pad_or_trim() -> None:
    audio = np.arange(5, dtype=np.float32)
    assert pad_or_trim(audio, 3).tolist() == [0, 1, 2]
    assert pad_or_trim(audio, 7).tolist() == [0, 1, 2, 3, 4, 0, 0]
    assert pad_or_trim(audio, 7).dtype == np.float32
    with pytest.raises(ValueError):
        pad_or_trim(audio, -1)


def test_random_gain_range_and_determinism() -> None:
    audio = np.ones(10, dtype=np.float32)
    gains_db = [20 * np.log10(random_gain(audio, np.random.default_rng(s))[0]) for s in range(300)]
    assert min(gains_db) >= -10 - 1e-4 and max(gains_db) <= 6 + 1e-4
    assert min(gains_db) < -8 and max(gains_db) > 4
    assert np.array_equal(random_gain(audio, np.random.default_rng(3)), random_gain(audio, np.random.default_rng(3)))
    fixed = random_gain(audio, np.random.default_rng(0), low_db=-6.0, high_db=-6.0)
    assert np.allclose(fixed, 10 ** (-6 / 20))


def test_word_activity_finds_burst() -> None:
    assert word_activity(burst(0.3, 0.6)) == (4800, 9600)
    # A noise floor 50 dB down does not widen the region.
    noisy = burst(0.3, 0.6) + np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.3 * 10 ** (-50 / 20)
    assert word_activity(noisy) == (4800, 9600)
    # A second burst 20 dB down counts; one 30 dB down does not.
    assert word_activity(burst(0.3, 0.6) + burst(0.7, 0.8, amplitude=0.03)) == (4800, 12800)
    assert word_activity(burst(0.3, 0.6) + burst(0.7, 0.8, amplitude=0.3 * 10 ** (-30 / 20))) == (4800, 9600)
    assert word_activity(burst(0.3, 0.6) + burst(0.7, 0.8, amplitude=0.3 * 10 ** (-30 / 20)), threshold_db=40) == (
        4800,
        12800,
    )
    assert word_activity(np.zeros(RATE, dtype=np.float32)) is None
    assert word_activity(np.zeros(0, dtype=np.float32)) is None
    assert word_activity(burst(0.0, 1.0)) == (0, RATE)


@pytest.mark.parametrize("snr_db", [0.0, 7.5, 20.0])
def test_mix_at_snr_hits_requested_snr(snr_db: float) -> None:
    signal = burst(0.2, 0.7)
    noise = np.random.default_rng(1).standard_normal(RATE).astype(np.float32) * 0.5
    mixed = mix_at_snr(signal, noise, snr_db)
    added = mixed - signal
    measured = 20 * np.log10(active_rms(signal) / rms(added))
    assert abs(measured - snr_db) < 0.5
    outside = signal == 0  # where the signal is silent the mix is exactly the scaled noise
    ratio = mixed[outside] / noise[outside]
    assert np.allclose(ratio, ratio[0], rtol=1e-5)


def test_mix_at_snr_handles_silence() -> None:
    signal = burst(0.2, 0.7)
    noise = np.random.default_rng(1).standard_normal(RATE).astype(np.float32)
    assert np.array_equal(mix_at_snr(signal, np.zeros(RATE, dtype=np.float32), 10), signal)
    quiet = mix_at_snr(np.zeros(RATE, dtype=np.float32), noise, 10)
    assert np.all(np.isfinite(quiet)) and np.allclose(quiet, noise)
    both = mix_at_snr(np.zeros(RATE, dtype=np.float32), np.zeros(RATE, dtype=np.float32), 10)
    assert np.all(both == 0)
    with pytest.raises(ValueError, match="same length"):
        mix_at_snr(signal, noise[:100], 10)


def test_noise_bank_loads_any_format_and_respects_cap(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    soundfile.write(
        str(tmp_path / "a.wav"), rng.standard_normal((8000, 2)).astype(np.float32) * 0.1, 8000
    )  # 1 s stereo 8k
    soundfile.write(
        str(tmp_path / "b.flac"), rng.standard_normal(44100 * 2).astype(np.float32) * 0.1, 44100
    )  # 2 s 44.1k
    bank = NoiseBank([tmp_path / "a.wav", tmp_path / "b.flac"])
    assert len(bank) == 2 and abs(bank.seconds - 3.0) < 0.01
    assert all(a.dtype == np.float32 and a.ndim == 1 for a in bank.arrays)
    assert sorted(len(a) for a in bank.arrays) == [16000, 32000]
    capped = NoiseBank([tmp_path / "a.wav", tmp_path / "b.flac"], max_seconds=1.5)
    assert capped.seconds == pytest.approx(1.5)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.wav"):
        NoiseBank([tmp_path / "empty.wav"])


def test_random_noise_segment_from_long_recording_is_a_slice() -> None:
    long = np.arange(50000, dtype=np.float32)
    bank = NoiseBank.from_arrays([long])
    rng = np.random.default_rng(0)
    for _ in range(20):
        segment = random_noise_segment(bank, 16000, rng)
        assert len(segment) == 16000 and segment.dtype == np.float32
        assert np.array_equal(np.diff(segment), np.ones(15999))  # contiguous
    starts = {int(random_noise_segment(bank, 16000, rng)[0]) for _ in range(20)}
    assert len(starts) > 10  # random position
    first = random_noise_segment(bank, 1000, np.random.default_rng(5))
    assert np.array_equal(first, random_noise_segment(bank, 1000, np.random.default_rng(5)))


def test_random_noise_segment_tiles_short_recordings() -> None:
    shorts = [np.full(300, value, dtype=np.float32) for value in (1.0, 2.0, 3.0)]
    segment = random_noise_segment(shorts, 1000, np.random.default_rng(0))
    assert len(segment) == 1000
    assert set(np.unique(segment)) <= {1.0, 2.0, 3.0}
    # Runs are whole recordings (300) except the last piece.
    changes = np.flatnonzero(np.diff(segment)) + 1
    assert all(c % 300 == 0 for c in changes)
    with pytest.raises(ValueError, match="empty"):
        random_noise_segment([], 10, np.random.default_rng(0))


def test_change_speed_scales_length_and_pitch() -> None:
    from audio_lstm.augment.signal import change_speed

    t = np.arange(16000) / 16000
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    faster = change_speed(tone, 1.25)
    assert len(faster) == 12800
    spectrum = np.abs(np.fft.rfft(faster))
    assert abs(np.argmax(spectrum) * 16000 / len(faster) - 1250) < 5  # 1 kHz played 1.25x faster
    assert np.array_equal(change_speed(tone, 1.0), tone)
    with pytest.raises(ValueError, match="positive"):
        change_speed(tone, 0.0)
