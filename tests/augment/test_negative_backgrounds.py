"""Real negative audio and measured rooms in the training streams."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from audio_lstm.augment.rooms import RirBank, measured_impulse_response
from audio_lstm.augment.signal import NoiseBank, rms
from audio_lstm.augment.training_streams import StreamConfig, StreamSampler
from audio_lstm.data.readers import Clip
from audio_lstm.device.features import MfccConfig
from audio_lstm.device.labels import LABELS

RATE = 16000


def sampler(
    tmp_path: Path, cfg: StreamConfig, negatives: NoiseBank | None, hard: NoiseBank | None = None, seed: int = 0
) -> StreamSampler:
    import soundfile

    path = tmp_path / "yes.wav"
    if not path.exists():
        audio = np.zeros(RATE, dtype=np.float32)
        audio[6400:11200] = 0.3 * np.sin(2 * np.pi * 500 * np.arange(4800) / RATE)
        soundfile.write(str(path), audio, RATE)
    noise = NoiseBank.from_arrays([np.full(RATE * 4, 0.01, dtype=np.float32)])
    return StreamSampler(
        [Clip(path, "yes", "s", "train")],
        noise,
        LABELS,
        MfccConfig(),
        cfg,
        seed,
        negatives=negatives,
        hard_negatives=hard,
    )


def test_negative_backgrounds_replace_noise_at_their_rate_and_level(tmp_path: Path) -> None:
    tv = NoiseBank.from_arrays([np.sin(np.arange(RATE * 10) * 0.05).astype(np.float32)])
    cfg = replace(
        StreamConfig(),
        negative_probability=0.5,
        negative_empty_probability=1.0,
        negative_dbfs=(-20.0, -20.0),
        digital_silence_probability=0.0,
        clean_probability=0.0,
    )
    streams = sampler(tmp_path, cfg, tv)
    rng = np.random.default_rng(1)
    negative = 0
    for _ in range(200):
        background, placements = streams.plan(rng)
        if not placements:  # only negative streams are empty here (empty_probability 0.05 aside)
            negative += abs(20 * np.log10(rms(background)) + 20) < 0.01
    assert 70 <= negative <= 130  # about half of 200


def test_without_negatives_the_streams_are_unchanged(tmp_path: Path) -> None:
    cfg = StreamConfig()
    plain = sampler(tmp_path, cfg, None)
    empty_bank = sampler(tmp_path, cfg, NoiseBank.from_arrays([]))
    a, b = plain.sample(np.random.default_rng(3)), empty_bank.sample(np.random.default_rng(3))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_hard_negatives_take_their_share(tmp_path: Path) -> None:
    tv = NoiseBank.from_arrays([np.full(RATE * 10, 0.5, dtype=np.float32)])
    mined = NoiseBank.from_arrays([np.sign(np.sin(np.arange(RATE * 3) * 0.3)).astype(np.float32)])
    cfg = replace(StreamConfig(), negative_probability=1.0, hard_negative_share=0.25)
    streams = sampler(tmp_path, cfg, tv, mined)
    rng = np.random.default_rng(0)
    constant = sum(np.ptp(streams.negative_background(rng)) < 1e-6 for _ in range(400))
    assert 260 <= constant <= 340  # 75 % from the plain negatives


def test_measured_rooms_put_the_direct_path_at_lag_zero_and_take_half_the_draws() -> None:
    recorded = np.zeros(8000, dtype=np.float32)
    recorded[100], recorded[400] = -0.5, 0.2  # direct path after 100 samples of pre-delay, one reflection
    response = measured_impulse_response(recorded, RATE)
    assert response[0] == 1.0 and abs(response[300] + 0.4) < 1e-6 and len(response) == 7900
    bank = RirBank(20, seed=0, measured=[response, response * 0.5])
    measured = sum(1 for r in bank.responses if r[0] in (1.0, 0.5) and len(r) == 7900)
    assert len(bank) == 40 and measured == 20
