"""Training streams: where targets go, SNR, class balance, determinism."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_lstm.augment.signal import NoiseBank, rms
from audio_lstm.augment.training_streams import Placement, StreamConfig, StreamSampler
from audio_lstm.data.readers import Clip
from audio_lstm.device.decisions import CLIP_TAIL_SECONDS, pad_clip
from audio_lstm.device.features import MfccConfig, num_frames
from audio_lstm.device.labels import LABELS, SILENCE
from audio_lstm.train.targets import IGNORE_INDEX, NOT_KEYWORD_INDEX, frame_targets

RATE = 16000
MFCC = MfccConfig()
TONE_START, TONE_END = 6400, 11200  # the tone clip's word: 0.4 s .. 0.7 s (10 ms aligned)
# Zero background, exactly one clip, no start cut, dry, no microphone: the stream is the clip and nothing else.
ZERO = StreamConfig(
    speed_probability=0.0,
    digital_silence_probability=1.0,
    clean_probability=0.0,
    empty_probability=0.0,
    max_clips=1,
    start_cut_probability=0.0,
    reverb_probability=0.0,
    mic_probability=0.0,
)


def tone_clip(
    path: Path, start: int = TONE_START, end: int = TONE_END, rate: int = RATE, seconds: float = 1.0, channels: int = 1
) -> Path:
    """A clip that is exact zeros except a tone in [start, end) (samples at 16 kHz)."""
    audio = np.zeros(int(seconds * rate), dtype=np.float32)
    a, b = int(start * rate / RATE), int(end * rate / RATE)
    audio[a:b] = 0.3 * np.cos(2 * np.pi * 500 * np.arange(b - a) / rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.stack([audio] * channels, 1) if channels > 1 else audio, rate)
    return path


def clip(path: Path, label: str, group: str = "g") -> Clip:
    return Clip(path, label, group, "train")


def expected_targets(a: int, b: int, label: int, length: int, cfg: StreamConfig = ZERO) -> np.ndarray:
    lead, tail = int(cfg.lead_seconds * RATE), int(cfg.tail_seconds * RATE)
    start = min(max(a + lead, b - lead), b)
    ends = np.arange(num_frames(length, MFCC)) * MFCC.hop_length + MFCC.n_fft
    out = np.full(len(ends), LABELS.index(SILENCE))
    out[(ends >= a) & (ends < start)] = IGNORE_INDEX
    out[(ends >= start) & (ends <= b + tail)] = label
    return out


def test_clip_for_validation_appends_tail() -> None:
    assert CLIP_TAIL_SECONDS == 0.3
    out = pad_clip(np.ones(16000, dtype=np.float32), 16000)
    assert out.shape == (16000 + 4800,) and out.dtype == np.float32
    assert np.all(out[:16000] == 1) and np.all(out[16000:] == 0)


def test_frame_targets_lead_and_tail() -> None:
    # Long word [10000, 20000): start = b - lead = 16800; positive until 24000.
    targets = frame_targets(48000, [(3, 10000, 20000)], MFCC, silence_index=11, lead=3200, tail=4000)
    ends = np.arange(len(targets)) * 160 + 512
    assert len(targets) == num_frames(48000, MFCC) == 297
    assert np.all(targets[ends < 10000] == 11)
    assert np.all(targets[(ends >= 10000) & (ends < 16800)] == IGNORE_INDEX)
    assert np.all(targets[(ends >= 16800) & (ends <= 24000)] == 3)
    assert np.all(targets[ends > 24000] == 11)
    # Short word [10000, 11000): start = min(a + lead, b) = b.
    short = frame_targets(48000, [(3, 10000, 11000)], MFCC, 11, 3200, 4000)
    assert np.all(short[(ends >= 10000) & (ends < 11000)] == IGNORE_INDEX)
    assert np.all(short[(ends >= 11000) & (ends <= 15000)] == 3)


@pytest.mark.parametrize("onset_target", [10, NOT_KEYWORD_INDEX])
def test_onset_targets_cover_the_onset(onset_target: int) -> None:
    ends = np.arange(297) * 160 + 512
    spans = [(3, 10000, 20000), (10, 30000, 40000)]  # a keyword, then an unknown word
    targets = frame_targets(48000, spans, MFCC, 11, 3200, 4000, onset_targets={10: onset_target})
    assert np.all(targets[(ends >= 10000) & (ends < 16800)] == IGNORE_INDEX)  # the keyword waits as before
    assert np.all(targets[(ends >= 30000) & (ends < 36800)] == onset_target)  # the unknown word's onset
    assert np.all(targets[(ends >= 36800) & (ends <= 44000)] == 10)  # then its label, up to the tail
    assert np.array_equal(targets[ends < 30000], frame_targets(48000, spans[:1], MFCC, 11, 3200, 4000)[ends < 30000])


def test_render_places_tone_and_targets_exactly(tmp_path: Path) -> None:
    path = tone_clip(tmp_path / "yes" / "t.flac", rate=44100, channels=2)  # resampled on load
    sampler = StreamSampler([clip(path, "yes")], NoiseBank.from_arrays([]), LABELS, MFCC, ZERO, seed=0)
    assert sampler.activity[0] == (TONE_START, TONE_END)
    audio, targets = sampler.render(np.zeros(48000, dtype=np.float32), [Placement(0, 8000, 1.0)])
    assert audio.shape == (48000,) and audio.dtype == np.float32 and targets.dtype == np.int64
    loud = np.flatnonzero(np.abs(audio) > 0.05)
    assert abs(loud[0] - (8000 + TONE_START)) < 20 and abs(loud[-1] - (8000 + TONE_END)) < 20
    assert np.array_equal(targets, expected_targets(8000 + TONE_START, 8000 + TONE_END, LABELS.index("yes"), 48000))
    # Concretely: a = 14400, start = 17600, end of positives = 23200.
    ends = np.arange(len(targets)) * 160 + 512
    assert set(targets[(ends >= 14400) & (ends < 17600)]) == {IGNORE_INDEX}
    assert set(targets[(ends >= 17600) & (ends <= 23200)]) == {LABELS.index("yes")}


@pytest.mark.parametrize(
    "onset, expected",
    [("ignore", IGNORE_INDEX), ("unknown", LABELS.index("_unknown_")), ("not_keyword", NOT_KEYWORD_INDEX)],
)
def test_unknown_onset_target_follows_the_config(tmp_path: Path, onset: str, expected: int) -> None:
    path = tone_clip(tmp_path / "_unknown_" / "t.flac")
    cfg = replace(ZERO, unknown_onset=onset)
    sampler = StreamSampler([clip(path, "_unknown_")], NoiseBank.from_arrays([]), LABELS, MFCC, cfg, seed=0)
    _, targets = sampler.render(np.zeros(48000, dtype=np.float32), [Placement(0, 8000, 1.0)])
    ends = np.arange(len(targets)) * 160 + 512
    inside = set(targets[(ends >= 8000 + TONE_START) & (ends < 17600)])  # from the onset to b - lead
    assert inside == {expected}
    with pytest.raises(ValueError, match="unknown_onset must be one of"):
        replace(ZERO, unknown_onset="from_onset")


def test_sample_targets_follow_the_placed_tone(tmp_path: Path) -> None:
    path = tone_clip(tmp_path / "t.wav")
    sampler = StreamSampler([clip(path, "go")], NoiseBank.from_arrays([]), LABELS, MFCC, ZERO, seed=0)
    rng = np.random.default_rng(7)
    offsets = set()
    for _ in range(10):
        audio, targets = sampler.sample(rng)
        nonzero = np.flatnonzero(audio)
        a, b = int(nonzero[0]), int(nonzero[-1]) + 1  # the tone starts and ends with non-zero samples
        assert b - a == TONE_END - TONE_START
        offsets.add(a - TONE_START)
        assert np.array_equal(targets, expected_targets(a, b, LABELS.index("go"), len(audio)))
    assert len(offsets) == 10 and min(offsets) >= 0 and max(offsets) <= 48000 - 16000


def test_start_cut_never_cuts_the_word(tmp_path: Path) -> None:
    path = tone_clip(tmp_path / "t.wav")
    cfg = replace(ZERO, start_cut_probability=1.0)
    sampler = StreamSampler([clip(path, "up")], NoiseBank.from_arrays([]), LABELS, MFCC, cfg, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(10):
        _, placements = sampler.plan(rng)
        assert -TONE_START <= placements[0].offset <= 0


def test_silence_clips_keep_silence_targets_and_long_clips_are_centred(tmp_path: Path) -> None:
    quiet = tone_clip(tmp_path / "s.wav")
    long = tone_clip(tmp_path / "long.wav", start=24000, end=28800, seconds=2.0)  # word at 1.5 s of 2 s
    sampler = StreamSampler(
        [clip(quiet, SILENCE), clip(long, "no")], NoiseBank.from_arrays([]), LABELS, MFCC, ZERO, seed=0
    )
    _, targets = sampler.render(np.zeros(48000, dtype=np.float32), [Placement(0, 0, 1.0)])
    assert np.all(targets == LABELS.index(SILENCE))
    a, b = sampler.activity[1]
    assert b - a == 4800 and a > 0 and b < 16000 and len(sampler.audio[1]) == 16000


def test_stream_snr_and_background_level(tmp_path: Path) -> None:
    path = tone_clip(tmp_path / "t.wav")
    noise = NoiseBank.from_arrays([np.random.default_rng(0).standard_normal(5 * RATE).astype(np.float32)])
    cfg = StreamConfig(
        speed_probability=0.0,
        clean_probability=0.0,
        digital_silence_probability=0.0,
        empty_probability=0.0,
        max_clips=1,
        snr_db=(10.0, 10.0),
        background_dbfs=(-40.0, -30.0),
        reverb_probability=0.0,
        mic_probability=0.0,
    )
    sampler = StreamSampler([clip(path, "yes")], noise, LABELS, MFCC, cfg, seed=0)
    rng = np.random.default_rng(1)
    for _ in range(5):
        background, placements = sampler.plan(rng)
        assert -40.5 < 20 * np.log10(rms(background)) < -29.5
        audio, _ = sampler.render(background, placements)
        place = placements[0]
        a, b = place.offset + TONE_START, place.offset + TONE_END
        word = audio[a:b] - background[a:b]
        assert abs(20 * np.log10(rms(word) / rms(background[a:b])) - 10.0) < 0.5


def test_class_balance_and_len(tmp_path: Path) -> None:
    clips = [clip(tone_clip(tmp_path / f"y{i}.wav"), "yes") for i in range(12)]
    clips += [clip(tone_clip(tmp_path / "n.wav"), "no"), clip(tone_clip(tmp_path / "g.wav"), "glass_break")]
    sampler = StreamSampler(clips, NoiseBank.from_arrays([]), LABELS, MFCC, StreamConfig(), seed=0)
    rng = np.random.default_rng(0)
    counts = Counter(sampler.clips[sampler.choose_clip(rng)].label for _ in range(3000))
    assert set(counts) == {"yes", "no", "glass_break"}
    assert all(900 < n < 1100 for n in counts.values())
    assert len(sampler) == round(14 / (0.95 * 2.0))  # mean clips per stream: 0.95 * (1 + 3) / 2


def test_determinism_and_shapes(tmp_path: Path) -> None:
    words = ["yes", "no", "left", SILENCE]
    clips = [
        clip(tone_clip(tmp_path / f"{w}.wav", start=1600 * i, end=1600 * i + 4800), w) for i, w in enumerate(words)
    ]
    noise = NoiseBank.from_arrays([np.random.default_rng(0).standard_normal(4 * RATE).astype(np.float32) * 0.1])
    make = lambda seed: StreamSampler(clips, noise, LABELS, MFCC, StreamConfig(), seed=seed)  # noqa: E731
    first = [make(0).sample(np.random.default_rng(3)) for _ in range(2)]
    assert all(np.array_equal(first[0][i], first[1][i]) for i in range(2))
    own = [make(5).sample() for _ in range(2)]
    assert np.array_equal(own[0][0], own[1][0])  # sample() without rng uses the sampler's seed
    other = make(6).sample()
    assert not np.array_equal(own[0][0], other[0])
    rng = np.random.default_rng(1)
    for _ in range(20):
        audio, targets = make(0).sample(rng)
        assert audio.shape == (48000,) and audio.dtype == np.float32 and np.abs(audio).max() <= 0.99 + 1e-6
        assert targets.shape == (num_frames(48000, MFCC),) and targets.dtype == np.int64
        assert set(np.unique(targets)) <= {IGNORE_INDEX, *range(len(LABELS))}


def test_cache_and_errors(tmp_path: Path) -> None:
    path = tone_clip(tmp_path / "t.wav")
    cache: dict = {}
    StreamSampler([clip(path, "yes")], NoiseBank.from_arrays([]), LABELS, MFCC, ZERO, seed=0, audio_cache=cache)
    assert len(cache) == 1
    path.unlink()  # the second sampler reads from the cache, not the disk
    again = StreamSampler([clip(path, "yes")], NoiseBank.from_arrays([]), LABELS, MFCC, ZERO, seed=0, audio_cache=cache)
    assert again.activity[0] == (TONE_START, TONE_END)
    with pytest.raises(ValueError, match="t.wav"):
        StreamSampler([clip(path, "yes")], NoiseBank.from_arrays([]), LABELS, MFCC, ZERO, seed=0, audio_cache={})
    labels = ("yes", SILENCE)
    with pytest.raises(ValueError, match="not among the model labels"):
        StreamSampler([clip(path, "no")], NoiseBank.from_arrays([]), labels, MFCC, ZERO, seed=0, audio_cache=cache)
    with pytest.raises(ValueError, match="_silence_"):
        StreamSampler([clip(path, "yes")], NoiseBank.from_arrays([]), ("yes",), MFCC, ZERO, seed=0, audio_cache=cache)
    with pytest.raises(ValueError, match="at least one clip"):
        StreamConfig(seconds=0.5)


def test_speed_perturbation_moves_the_targets(tmp_path: Path) -> None:
    """A clip played 1.25x faster ends its word earlier: the positive frames move with it."""
    path = tmp_path / "yes" / "a_nohash_0.wav"
    path.parent.mkdir()
    t = np.arange(16000) / 16000
    soundfile.write(
        path, np.where((t > 0.4) & (t < 0.8), 0.5 * np.sin(2 * np.pi * 700 * t), 0).astype(np.float32), 16000
    )
    clip = Clip(path, "yes", "a", "train")
    sampler = StreamSampler([clip], NoiseBank.from_arrays([]), LABELS, MFCC, ZERO, seed=0)
    background = np.zeros(sampler.length, dtype=np.float32)
    _, normal = sampler.render(background, [Placement(0, 0, 1.0)])
    _, fast = sampler.render(background, [Placement(0, 0, 1.0, speed=1.25)])
    yes = LABELS.index("yes")
    last_normal, last_fast = np.flatnonzero(normal == yes)[-1], np.flatnonzero(fast == yes)[-1]
    assert abs((last_normal - last_fast) - 16) <= 2  # word end 0.8 s -> 0.64 s: 16 frames earlier


@pytest.mark.parametrize("balance, prolific_share", [(0.0, 20 / 25), (0.5, 20**0.5 / (20**0.5 + 5)), (1.0, 1 / 6)])
def test_group_balance_limits_a_prolific_speaker(tmp_path: Path, balance: float, prolific_share: float) -> None:
    path = tone_clip(tmp_path / "t.wav")
    clips = [clip(path, "yes", "prolific")] * 20 + [clip(path, "yes", f"speaker{k}") for k in range(5)]
    sampler = StreamSampler(clips, NoiseBank(), LABELS, MFCC, replace(ZERO, group_balance=balance), seed=0)
    rng = np.random.default_rng(0)
    draws = [sampler.choose_clip(rng) for _ in range(4000)]
    share = sum(index < 20 for index in draws) / len(draws)
    assert share == pytest.approx(prolific_share, abs=0.03)
    assert {index for index in draws if index >= 20} == set(range(20, 25))  # every small speaker is drawn


@pytest.mark.parametrize("share", [None, 0.3])
def test_generated_share_caps_synthetic_draws(tmp_path: Path, share: float | None) -> None:
    path = tone_clip(tmp_path / "t.wav")
    voices = [Clip(path, "yes", f"voice{k}", "train", generated=True) for k in range(40)]
    speakers = [clip(path, "yes", f"speaker{k}") for k in range(10)] + [clip(path, "no", "s")]
    sampler = StreamSampler(voices + speakers, NoiseBank(), LABELS, MFCC, replace(ZERO, generated_share=share), seed=0)
    rng = np.random.default_rng(0)
    draws = [sampler.choose_clip(rng) for _ in range(6000)]
    yes_draws = [index for index in draws if index < 50]
    generated = sum(index < 40 for index in yes_draws) / len(yes_draws)
    assert generated == pytest.approx(40 / 50 if share is None else share, abs=0.03)
    assert {index for index in draws if index == 50}  # a label without generated clips is still drawn
    with pytest.raises(ValueError, match="generated_share"):
        replace(ZERO, generated_share=1.5)


def test_reverb_changes_the_audio_but_not_the_onset_or_the_targets(tmp_path: Path) -> None:
    path = tone_clip(tmp_path / "t.wav")
    sampler = StreamSampler(
        [clip(path, "yes")], NoiseBank.from_arrays([]), LABELS, MFCC, replace(ZERO, reverb_probability=1.0), seed=0
    )
    assert len(sampler.rirs) == ZERO.rir_bank_size
    rng = np.random.default_rng(2)
    rirs = set()
    for _ in range(5):
        background, placements = sampler.plan(rng)
        rirs.add(placements[0].rir)
        wet, wet_targets = sampler.render(background, placements)
        dry, dry_targets = sampler.render(background, [replace(p, rir=-1) for p in placements])
        onset = placements[0].offset + TONE_START
        assert np.array_equal(wet_targets, dry_targets)
        assert wet.shape == dry.shape and wet.dtype == np.float32 and np.all(np.isfinite(wet))
        assert not np.allclose(wet, dry, atol=1e-3)
        assert float(np.abs(wet[:onset]).max()) < 1e-5  # nothing before the word: its onset did not move
        assert float(np.abs(wet[onset : onset + 80]).max()) > 0.01
        tail = wet[placements[0].offset + TONE_END + 160 : placements[0].offset + 16000]
        assert rms(tail) > 1e-4 and not np.any(dry[placements[0].offset + TONE_END + 160 :])  # the room rings on
    assert len(rirs) > 1 and min(rirs) >= 0  # a different room per clip
    dry_sampler = StreamSampler([clip(path, "yes")], NoiseBank.from_arrays([]), LABELS, MFCC, ZERO, seed=0)
    assert len(dry_sampler.rirs) == 0 and all(p.rir == -1 for p in dry_sampler.plan(rng)[1])


def test_microphone_filters_the_whole_stream_and_keeps_the_targets(tmp_path: Path) -> None:
    path = tone_clip(tmp_path / "t.wav")
    cfg = replace(ZERO, mic_probability=1.0)
    sampler = StreamSampler([clip(path, "yes")], NoiseBank.from_arrays([]), LABELS, MFCC, cfg, seed=0)
    rng = np.random.default_rng(4)
    mic = sampler.plan_microphone(rng)
    assert mic is not None and cfg.microphone.highpass_hz[0] <= mic.highpass_hz <= cfg.microphone.highpass_hz[1]
    assert sampler.plan_microphone(np.random.default_rng(4)) == mic
    without = StreamSampler([clip(path, "yes")], NoiseBank.from_arrays([]), LABELS, MFCC, ZERO, seed=0)
    assert without.plan_microphone(rng) is None
    hum = (0.05 * np.sin(2 * np.pi * 30 * np.arange(48000) / RATE)).astype(np.float32)  # below any mic's high-pass
    placements = [Placement(0, 8000, 1.0)]
    plain, plain_targets = sampler.render(hum, placements)
    heard, heard_targets = sampler.render(hum, placements, replace(mic, gain=1.0, drive=0.0))
    assert np.array_equal(plain_targets, heard_targets)
    assert rms(heard[:8000]) < rms(plain[:8000]) * 10 ** (-30 / 20)  # the hum is gone (>= 30 dB down)
    word = slice(8000 + TONE_START + 800, 8000 + TONE_END - 800)  # the 500 Hz tone passes
    assert abs(20 * np.log10(rms(heard[word]) / rms(plain[word] - hum[word]))) < 0.5


def test_streams_with_rooms_and_microphones_stay_a_function_of_the_seed(tmp_path: Path) -> None:
    words = ["yes", "no", SILENCE]
    clips = [
        clip(tone_clip(tmp_path / f"{w}.wav", start=1600 * i, end=1600 * i + 4800), w) for i, w in enumerate(words)
    ]
    noise = NoiseBank.from_arrays([np.random.default_rng(0).standard_normal(4 * RATE).astype(np.float32) * 0.1])
    cfg = StreamConfig(reverb_probability=1.0, mic_probability=1.0, rir_bank_size=20)
    make = lambda seed: StreamSampler(clips, noise, LABELS, MFCC, cfg, seed=seed)  # noqa: E731
    assert all(np.array_equal(a, b) for a, b in zip(make(3).rirs.responses, make(3).rirs.responses))
    assert not np.array_equal(make(3).rirs[0], make(4).rirs[0][: len(make(3).rirs[0])])
    first, again = make(3).sample(np.random.default_rng(8)), make(3).sample(np.random.default_rng(8))
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    plain = StreamSampler(clips, noise, LABELS, MFCC, replace(cfg, reverb_probability=0.0, mic_probability=0.0), seed=3)
    assert not np.array_equal(first[0], plain.sample(np.random.default_rng(8))[0])
    with pytest.raises(ValueError, match="rir_bank_size"):
        StreamConfig(reverb_probability=0.5, rir_bank_size=0)
