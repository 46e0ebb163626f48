"""Room impulse responses, FFT reverb and microphone simulation (audio_lstm/rooms.py)."""

from __future__ import annotations

import numpy as np
import pytest

from audio_lstm.augment.rooms import (
    MicConfig,
    Microphone,
    RirBank,
    RoomConfig,
    apply_microphone,
    band_limit,
    butterworth_gain,
    impulse_response,
    random_impulse_response,
    random_microphone,
    reverberate,
    saturate,
)

RATE = 16000


def estimated_rt60(rir: np.ndarray) -> float:
    """RT60 from the Schroeder backward-integrated decay of the reverberant part, fitted -5..-25 dB (T20 x 3)."""
    energy = rir[1:].astype(np.float64) ** 2
    decay_db = 10 * np.log10(np.cumsum(energy[::-1])[::-1] / energy.sum())
    first, last = int(np.argmax(decay_db < -5)), int(np.argmax(decay_db < -25))
    slope = np.polyfit(np.arange(first, last) / RATE, decay_db[first:last], 1)[0]
    return -60.0 / slope


def tone(freq: float, seconds: float = 1.0, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def level_db(audio: np.ndarray) -> float:
    middle = audio[len(audio) // 4 : -len(audio) // 4].astype(np.float64)  # away from the edges
    return 10 * np.log10(np.mean(middle**2))


@pytest.mark.parametrize("rt60", [0.15, 0.4, 0.9])
def test_rir_decays_at_the_requested_rt60_with_direct_path_at_lag_0(rt60: float) -> None:
    for seed in range(5):
        rir = impulse_response(rt60, 0.0, np.random.default_rng(seed), RATE, reflections=((0.004, 0.5), (0.013, -0.4)))
        assert rir.dtype == np.float32 and rir[0] == 1.0 and int(np.argmax(np.abs(rir))) == 0
        assert abs(estimated_rt60(rir) - rt60) < 0.1 * rt60
        assert len(rir) == int(np.ceil(rt60 * 50 / 60 * RATE))  # cut where the envelope reaches -50 dB


@pytest.mark.parametrize("drr_db", [-3.0, 0.0, 12.0])
def test_rir_direct_to_reverberant_ratio(drr_db: float) -> None:
    rir = impulse_response(0.5, drr_db, np.random.default_rng(1), RATE).astype(np.float64)
    assert 10 * np.log10(rir[0] ** 2 / np.sum(rir[1:] ** 2)) == pytest.approx(drr_db, abs=0.05)


def test_random_rirs_are_deterministic_per_seed_and_keep_the_direct_path_the_peak() -> None:
    first, again, other = (random_impulse_response(np.random.default_rng(s)) for s in (3, 3, 4))
    assert np.array_equal(first, again) and not np.array_equal(first[: len(other)], other[: len(first)])
    bank = RirBank(100, RoomConfig(), seed=7)
    assert len(bank) == 100 and all(
        np.array_equal(a, b) for a, b in zip(bank.responses, RirBank(100, seed=7).responses)
    )
    for rir in bank.responses:
        assert rir[0] == 1.0 and float(np.abs(rir[1:]).max()) <= 0.9
        assert int(0.15 * 50 / 60 * RATE) <= len(rir) <= int(np.ceil(0.9 * 50 / 60 * RATE))
    assert len(RirBank(0)) == 0
    with pytest.raises(ValueError, match="rt60_seconds"):
        RoomConfig(rt60_seconds=(0.9, 0.2))
    with pytest.raises(ValueError, match="bank size"):
        RirBank(-1)


def test_reverb_keeps_length_dtype_energy_and_onset() -> None:
    audio = np.zeros(RATE, dtype=np.float32)
    audio[4000:8000] = tone(700, 0.25)
    rir = impulse_response(0.6, 0.0, np.random.default_rng(0), RATE)
    wet = reverberate(audio, rir)
    assert wet.shape == audio.shape and wet.dtype == np.float32 and np.all(np.isfinite(wet))
    assert float(np.sum(wet.astype(np.float64) ** 2)) == pytest.approx(
        float(np.sum(audio.astype(np.float64) ** 2)), rel=1e-4
    )
    assert float(np.abs(wet[:4000]).max()) < 1e-5  # nothing before the onset
    assert float(np.abs(wet[4000:4100]).max()) > 0.1  # the onset itself is where it was
    assert level_db(wet[8000:9600]) > -40 and float(np.abs(audio[8000:]).max()) == 0  # the tail rings on
    assert not np.any(reverberate(np.zeros(100, dtype=np.float32), rir))  # silence stays silent
    assert np.allclose(reverberate(audio, np.array([1.0], dtype=np.float32)), audio, atol=1e-6)  # a dry RIR
    with pytest.raises(ValueError, match="mono"):
        reverberate(np.zeros((10, 2), dtype=np.float32), rir)


def test_band_limit_attenuates_out_of_band_tones_and_passes_in_band_ones() -> None:
    """Order 4 (24 dB/octave): 2 octaves under a 200 Hz high-pass >= 45 dB, 1 octave over 3.5 kHz >= 23 dB."""

    def loss(freq: float) -> float:
        source = tone(freq)
        return level_db(source) - level_db(band_limit(source, 200.0, 3500.0, RATE, order=4))

    assert loss(50.0) >= 45.0
    assert loss(7000.0) >= 23.0
    assert abs(loss(1000.0)) < 0.1 and abs(loss(2000.0)) < 0.5
    for freq in (50.0, 7000.0, 1000.0):  # and each as the stated Butterworth shape predicts
        assert loss(freq) == pytest.approx(
            -20 * np.log10(butterworth_gain(np.array([freq]), 200.0, 3500.0, 4)[0]), abs=0.3
        )
    click = np.zeros(4000, dtype=np.float32)
    click[1000] = 1.0
    assert int(np.argmax(np.abs(band_limit(click, 200.0, 3500.0, RATE)))) == 1000  # zero phase: no delay
    assert np.array_equal(band_limit(click, 0.0, RATE, RATE), click)  # both cut-offs off: unchanged


def test_microphone_draws_and_application() -> None:
    mic = random_microphone(np.random.default_rng(2), MicConfig(saturation_probability=1.0))
    assert mic == random_microphone(np.random.default_rng(2), MicConfig(saturation_probability=1.0))
    assert 100 <= mic.highpass_hz <= 300 and 3500 <= mic.lowpass_hz <= 7000 and 1.0 <= mic.drive <= 4.0
    assert random_microphone(np.random.default_rng(2), MicConfig(saturation_probability=0.0)).drive == 0.0
    source = tone(1000.0) + tone(40.0)
    heard = apply_microphone(source, Microphone(300.0, 4000.0, 4, 0.5, 0.0), RATE)
    assert heard.dtype == np.float32 and heard.shape == source.shape and np.all(np.isfinite(heard))
    assert level_db(heard) == pytest.approx(
        level_db(tone(1000.0)) + 20 * np.log10(0.5), abs=0.2
    )  # hum gone, gain applied
    loud = tone(500.0, amplitude=0.8)
    clipped = saturate(loud, 3.0)
    assert float(np.abs(clipped).max()) == pytest.approx(0.8, rel=1e-4)  # the peak level is kept ...
    assert level_db(clipped) > level_db(loud) + 1.5  # ... while the waveform is squashed towards a square
    assert np.array_equal(saturate(loud, 0.0), loud) and not np.any(saturate(np.zeros(10, np.float32), 2.0))
