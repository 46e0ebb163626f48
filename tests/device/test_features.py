"""The MFCC front end: librosa parity, torch parity, and streaming equals batch."""

from __future__ import annotations

import numpy as np
import pytest

from audio_lstm.device.features import MfccConfig, StreamingMfcc, mel_filterbank, mfcc, num_frames

# librosa computes in float64; ours in float32 after the FFT. MFCC values span about +-300,
# so 1e-3 absolute is float32 round-off, not a definitional difference.
LIBROSA_TOLERANCE = 1e-3


def signal(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    chirp = 0.3 * np.sin(2 * np.pi * (300 + 2000 * t) * t)
    return (chirp + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def test_mel_filterbank_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    cfg = MfccConfig()
    reference = librosa.filters.mel(sr=16000, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax)
    assert np.abs(reference - mel_filterbank(cfg)).max() < 1e-8


@pytest.mark.parametrize("cfg", [MfccConfig(), MfccConfig(n_mfcc=13, n_mels=32, fmin=60.0, fmax=7000.0)])
def test_mfcc_matches_librosa(cfg: MfccConfig) -> None:
    librosa = pytest.importorskip("librosa")
    audio = signal()
    reference = librosa.feature.mfcc(
        y=audio.astype(np.float64),
        sr=cfg.sample_rate,
        n_mfcc=cfg.n_mfcc,
        n_fft=cfg.n_fft,
        win_length=cfg.win_length,
        hop_length=cfg.hop_length,
        window="hann",
        center=False,
        n_mels=cfg.n_mels,
        fmin=cfg.fmin,
        fmax=cfg.fmax,
        power=2.0,
    ).T
    ours = mfcc(audio, cfg)
    assert ours.shape == reference.shape == (num_frames(len(audio), cfg), cfg.n_mfcc)
    assert np.abs(ours - reference).max() < LIBROSA_TOLERANCE


def test_streaming_one_hop_at_a_time_equals_batch() -> None:
    cfg = MfccConfig()
    audio = signal(0.5)
    stream = StreamingMfcc(cfg)
    frames = [stream.process(audio[i : i + cfg.hop_length]) for i in range(0, len(audio), cfg.hop_length)]
    assert all(len(f) <= 1 for f in frames)  # one hop in -> at most one frame out
    np.testing.assert_allclose(np.concatenate(frames), mfcc(audio, cfg), atol=1e-4)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_streaming_random_chunks_equals_batch(seed: int) -> None:
    cfg = MfccConfig()
    audio = signal(1.3, seed)
    rng = np.random.default_rng(seed)
    stream, parts, start = StreamingMfcc(cfg), [], 0
    while start < len(audio):
        size = int(rng.integers(1, 2000))
        parts.append(stream.process(audio[start : start + size]))
        start += size
    np.testing.assert_allclose(np.concatenate(parts), mfcc(audio, cfg), atol=1e-4)
    assert stream.buffered_samples < cfg.n_fft


def test_int16_input_is_scaled() -> None:
    audio = signal(0.3)
    pcm = np.round(audio * 32767).astype(np.int16)
    np.testing.assert_allclose(StreamingMfcc().process(pcm), mfcc(audio), atol=0.05)


def test_bad_chunks_are_refused() -> None:
    with pytest.raises(ValueError, match="mono"):
        StreamingMfcc().process(np.zeros((100, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="int16 or float"):
        StreamingMfcc().process(np.zeros(100, dtype=np.int32))


def test_torch_frontend_matches_numpy() -> None:
    torch = pytest.importorskip("torch")
    from audio_lstm.train.torch_features import TorchMfcc

    batch = np.stack([signal(1.0, 4), signal(1.0, 5)])
    ours = TorchMfcc()(torch.from_numpy(batch)).numpy()
    for row, expected in zip(ours, batch):
        np.testing.assert_allclose(row, mfcc(expected), atol=1e-3)


def test_short_audio_gives_no_frames() -> None:
    assert mfcc(np.zeros(100, dtype=np.float32)).shape == (0, 20)


def test_spec_augment_masks_bands_and_spans_with_the_stream_mean() -> None:
    torch = pytest.importorskip("torch")
    from audio_lstm.train.torch_features import SpecAugmentConfig, spec_augment

    log_mel = torch.randn(3, 200, 40) * 10 + 5
    cfg = SpecAugmentConfig(
        probability=1.0, band_masks=1, max_band_width=4, time_masks_per_second=1.0, max_time_width=8
    )
    out = spec_augment(log_mel, cfg, torch.Generator().manual_seed(3))
    again = spec_augment(log_mel, cfg, torch.Generator().manual_seed(3))
    assert torch.equal(out, again)  # deterministic for a generator seed
    changed = out != log_mel
    fill = log_mel.mean(dim=1, keepdim=True).expand_as(log_mel)
    assert torch.equal(out[changed], fill[changed])  # masked cells hold the band's stream mean
    for row in changed:  # at most one band mask of <= 4 bands, two time masks of <= 8 frames each
        whole_bands = row.all(dim=0).sum().item()
        assert whole_bands <= 4
        partial_frames = row[:, ~row.all(dim=0)].any(dim=1).sum().item()
        assert partial_frames <= 16
    assert changed.any()
    untouched = spec_augment(log_mel, SpecAugmentConfig(probability=0.0), torch.Generator().manual_seed(3))
    assert torch.equal(untouched, log_mel)


def test_torch_frontend_masks_only_when_asked() -> None:
    torch = pytest.importorskip("torch")
    from audio_lstm.train.torch_features import SpecAugmentConfig, TorchMfcc

    audio = torch.from_numpy(np.stack([signal(1.0, seed) for seed in range(2)]))
    frontend = TorchMfcc(MfccConfig())
    plain = frontend(audio)
    masked = frontend(audio, SpecAugmentConfig(probability=1.0), torch.Generator().manual_seed(0))
    assert masked.shape == plain.shape
    assert not torch.allclose(masked, plain)
    assert torch.equal(frontend(audio), plain)


def test_warp_spectrum_moves_a_tone_by_the_factor_and_keeps_the_ends() -> None:
    torch = pytest.importorskip("torch")
    from audio_lstm.train.torch_features import WARP_CUTOFF, warp_spectrum

    power = torch.zeros(4, 3, 257)
    power[:, :, 60] = 1.0  # a tone below the cutoff (0.6 * 256 = 153.6 bins)
    power[:, :, 256] = 2.0  # energy at the Nyquist bin
    warped = warp_spectrum(power, torch.tensor([1.0, 1.1, 0.9, 1.25]))
    assert torch.equal(warped[0], power[0])  # factor 1: unchanged
    assert [int(warped[i, 0, :200].argmax()) for i in range(4)] == [60, 66, 54, 75]  # 60 * factor
    assert torch.allclose(warped[:, :, 256], torch.full((4, 3), 2.0))  # Nyquist stays in place
    assert torch.allclose(warped[:, :, 0], power[:, :, 0])  # so does 0 Hz
    # above the cutoff the mapping is one straight line to Nyquist: a tone there moves less than 1.1x
    high = torch.zeros(1, 1, 257)
    high[0, 0, 220] = 1.0
    peak = int(warp_spectrum(high, torch.tensor([1.1]))[0, 0].argmax())
    bound = WARP_CUTOFF * 256
    expected = 256 - (256 - bound) / (256 - bound / 1.1) * (256 - 220)
    assert abs(peak - expected) <= 1 and 220 < peak < 242


def test_torch_frontend_warps_only_when_asked() -> None:
    torch = pytest.importorskip("torch")
    from audio_lstm.train.torch_features import SpecAugmentConfig, TorchMfcc

    audio = torch.from_numpy(np.stack([signal(1.0, seed) for seed in range(3)]))
    frontend = TorchMfcc(MfccConfig())
    plain = frontend(audio)
    no_warp = frontend(audio, SpecAugmentConfig(probability=0.0), torch.Generator().manual_seed(0))
    assert torch.equal(no_warp, plain)  # masking off and warp range (1, 1): the device front end
    warp = SpecAugmentConfig(probability=0.0, warp_range=(0.9, 1.1))
    warped = frontend(audio, warp, torch.Generator().manual_seed(0))
    assert torch.equal(warped, frontend(audio, warp, torch.Generator().manual_seed(0)))  # seeded
    assert all(not torch.allclose(warped[i], plain[i], atol=1e-3) for i in range(3))  # each stream warped
    with pytest.raises(ValueError, match="warp_range"):
        SpecAugmentConfig(warp_range=(1.1, 0.9))
