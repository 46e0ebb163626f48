"""Synthetic breaking glass for training: impact, dense shard ring, falling fragments, distance and room.

`audio-lstm glass OUT_DIR [--count N] [--seed S]` writes
`OUT_DIR/glass_break/glass-s<seed>_nohash_<k>.flac` (16 kHz mono, 1.0 s) plus `GENERATED.json`,
the marker `open_corpus` reads as the "generated" layout (every clip a `glass_break` train clip).
Clip k is a pure function of (seed, k). `--validate` scores generated clips, the real glass windows
and ambience windows with the bundled model and prints how often each is called glass.
numpy, soundfile and `audio_lstm.augment.rooms` only (no torch); the command is `audio_lstm.commands.glass`.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import soundfile

from audio_lstm.augment.rooms import RoomConfig, band_limit, random_impulse_response, reverberate, saturate
from audio_lstm.data.clips import CLIP_SECONDS
from audio_lstm.data.generated_sets import MARKER
from audio_lstm.device.labels import GLASS

SAMPLE_RATE = 16000
CONTROL_STREAM = 0xC0DE  # second seed word of the noise-burst controls (clips use [seed, index])


@dataclass(frozen=True)
class GlassConfig:
    """Ranges from which each clip's pane, break, distance and room are drawn (uniformly unless noted)."""

    onset_seconds: tuple[float, float] = (-0.1, 0.45)  # impact time in the clip (< 0: the window starts mid-break)
    size: tuple[float, float] = (0.6, 1.6)  # pane size: shard pitch / size, shard count x size
    shards: tuple[int, int] = (150, 600)  # damped-sinusoid shards of a size-1 pane
    shard_hz: tuple[float, float] = (2000.0, 10000.0)  # shard ring frequency (log-uniform) at size 1
    shard_decay_seconds: tuple[float, float] = (0.004, 0.06)  # shard ring time constant (log-uniform)
    shard_spread_seconds: tuple[float, float] = (0.1, 0.4)  # mean delay of shards after the impact (exponential)
    last_shard_seconds: float = 0.8  # no shard starts later than this after the impact
    shard_fade_seconds: tuple[float, float] = (0.3, 1.0)  # later shards are quieter: exp(-delay / fade)
    bursts: tuple[int, int] = (20, 150)  # short noise bursts (crackle) between the shards
    burst_seconds: tuple[float, float] = (0.002, 0.015)  # length of a noise burst
    crash_db: tuple[float, float] = (-14.0, -2.0)  # broadband crash noise level relative to the impact
    crash_decay_seconds: tuple[float, float] = (0.08, 0.5)  # crash noise time constant
    thump_hz: tuple[float, float] = (60.0, 250.0)  # low thump of the impact
    thump_level: tuple[float, float] = (0.05, 0.5)  # thump amplitude relative to the click
    re_impacts: tuple[int, int] = (0, 5)  # falling fragments hitting the floor (each a click and a few shards)
    re_impact_delay_seconds: tuple[float, float] = (0.15, 0.8)  # delay of a re-impact after the impact
    distance: tuple[float, float] = (0.0, 1.0)  # 0: close (loud, bright, dry) .. 1: far (quiet, dull, reverberant)
    far_level_db: float = 14.0  # peak level drop at distance 1
    close_lowpass_hz: float = 7800.0  # air/obstacle low-pass at distance 0 ...
    far_lowpass_hz: float = 3500.0  # ... and at distance 1
    close_drr_db: float = 12.0  # direct-to-reverberant ratio at distance 0 ...
    far_drr_db: float = -3.0  # ... and at distance 1
    peak_dbfs: tuple[float, float] = (-4.0, -1.0)  # clip peak at distance 0
    rooms: RoomConfig = RoomConfig()  # RT60 and reflections of the room
    saturation_probability: float = 0.3  # chance the recorder clips softly (loud breaks often do)
    drive: tuple[float, float] = (1.0, 3.0)  # tanh drive of that soft clipping


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float], size: int | None = None) -> np.ndarray | float:
    return np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]), size))


def _add(out: np.ndarray, start: int, signal: np.ndarray) -> None:
    """out[start:] += signal, cut to fit (start may be negative)."""
    first = max(0, -start)
    end = min(len(signal), len(out) - start)
    if end > first:
        out[start + first : start + end] += signal[first:end]


def _shards(
    out: np.ndarray,
    rng: np.random.Generator,
    cfg: GlassConfig,
    impact: int,
    count: int,
    size: float,
    spread: float,
    fade: float,
    level: float,
) -> None:
    """Add `count` damped sinusoids (1-3 inharmonic modes each) starting after `impact`."""
    rate = SAMPLE_RATE
    delays = np.minimum(rng.exponential(spread, count), cfg.last_shard_seconds)
    freqs = _log_uniform(rng, cfg.shard_hz, count) / size
    decays = _log_uniform(rng, cfg.shard_decay_seconds, count) * np.sqrt(size)
    amplitudes = level * 10 ** (rng.uniform(-30, 0, count) / 20) * np.exp(-delays / fade)
    for delay, freq, decay, amplitude in zip(delays, freqs, decays, amplitudes):
        t = np.arange(int(5 * decay * rate)) / rate
        ring = np.zeros(len(t))
        for ratio in (1.0, *rng.uniform(1.3, 2.9, int(rng.integers(0, 3)))):
            if freq * ratio < 0.47 * rate:
                ring += np.sin(2 * np.pi * freq * ratio * t + rng.uniform(0, 2 * np.pi)) / ratio
        _add(out, impact + int(delay * rate), amplitude * ring * np.exp(-t / decay))


def _click(rng: np.random.Generator, level: float) -> np.ndarray:
    """A broadband click: 1-4 ms of noise under a fast exponential decay."""
    t = np.arange(int(rng.uniform(0.001, 0.004) * SAMPLE_RATE)) / SAMPLE_RATE
    return level * rng.standard_normal(len(t)) * np.exp(-t / 0.0008)


def glass_break(rng: np.random.Generator, cfg: GlassConfig = GlassConfig()) -> np.ndarray:
    """One 1 s breaking-glass clip (float32, 16 kHz) drawn from `cfg`'s ranges."""
    rate, length = SAMPLE_RATE, int(CLIP_SECONDS * SAMPLE_RATE)
    out = np.zeros(length)
    impact = int(rng.uniform(*cfg.onset_seconds) * rate)
    size = float(rng.uniform(*cfg.size))
    spread, fade = float(rng.uniform(*cfg.shard_spread_seconds)), float(rng.uniform(*cfg.shard_fade_seconds))
    # the impact: a click and a low thump
    _add(out, impact, _click(rng, 0.6))
    t = np.arange(int(0.2 * rate)) / rate
    thump = np.sin(2 * np.pi * rng.uniform(*cfg.thump_hz) * t) * np.exp(-t / rng.uniform(0.015, 0.06))
    _add(out, impact, rng.uniform(*cfg.thump_level) * thump)
    # the crash: broadband noise above ~1.5 kHz decaying from the impact
    t = np.arange(length - impact) / rate
    crash = band_limit(rng.standard_normal(len(t)).astype(np.float32), rng.uniform(1000, 2500), np.inf, rate)
    _add(
        out,
        impact,
        10 ** (rng.uniform(*cfg.crash_db) / 20) * crash * np.exp(-t / rng.uniform(*cfg.crash_decay_seconds)),
    )
    # the shards ringing, and crackle between them
    _shards(out, rng, cfg, impact, int(rng.integers(*cfg.shards) * size), size, spread, fade, 0.5)
    crackle = np.zeros(length)
    for _ in range(int(rng.integers(*cfg.bursts))):
        delay = min(rng.exponential(spread), cfg.last_shard_seconds)
        n = int(rng.uniform(*cfg.burst_seconds) * rate)
        burst = rng.standard_normal(n) * np.hanning(n) * 10 ** (rng.uniform(-24, -6) / 20) * np.exp(-delay / fade)
        _add(crackle, impact + int(delay * rate), burst)
    out += band_limit(crackle.astype(np.float32), 2000.0, 7500.0, rate)
    # falling fragments: a smaller click and a few shards each
    for _ in range(int(rng.integers(cfg.re_impacts[0], cfg.re_impacts[1] + 1))):
        hit = impact + int(rng.uniform(*cfg.re_impact_delay_seconds) * rate)
        level = float(rng.uniform(0.15, 0.6))
        _add(out, hit, _click(rng, level))
        _shards(out, rng, cfg, hit, int(rng.integers(5, 30)), size * rng.uniform(0.4, 0.8), 0.03, 0.2, level * 0.5)
    # distance: quieter, duller, more reverberant
    distance = float(rng.uniform(*cfg.distance))
    lowpass = cfg.close_lowpass_hz + (cfg.far_lowpass_hz - cfg.close_lowpass_hz) * distance
    audio = band_limit(out.astype(np.float32), 0.0, lowpass, rate)
    drr = cfg.close_drr_db + (cfg.far_drr_db - cfg.close_drr_db) * distance
    audio = reverberate(audio, random_impulse_response(rng, replace(cfg.rooms, drr_db=(drr, drr)), rate))
    if rng.random() < cfg.saturation_probability:
        audio = saturate(audio, float(rng.uniform(*cfg.drive)))
    peak_db = float(rng.uniform(*cfg.peak_dbfs)) - cfg.far_level_db * distance
    peak = float(np.abs(audio).max())
    return (audio * np.float32(10 ** (peak_db / 20) / peak)).astype(np.float32) if peak > 0 else audio


def glass_clip(seed: int, index: int, cfg: GlassConfig = GlassConfig()) -> np.ndarray:
    """Clip `index` of the set generated from `seed` (independent of how many clips are made)."""
    return glass_break(np.random.default_rng([seed, index]), cfg)


def build_glass_set(out_dir: Path | str, count: int = 500, seed: int = 0, cfg: GlassConfig = GlassConfig()) -> dict:
    """Write `count` clips to `out_dir/glass_break/` plus the GENERATED.json marker; returns the marker.

    An earlier generated set in `out_dir` is replaced; a non-empty folder without the marker is
    refused. The marker says "building" until every clip is written.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / MARKER).is_file():
            raise FileExistsError(f"{out_dir} is not empty and holds no {MARKER}; refusing to overwrite it")
        shutil.rmtree(out_dir)
    folder = out_dir / GLASS
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    marker = {
        "status": "building",
        "generator": "audio_lstm.synth.glass",
        "seed": seed,
        "count": count,
        "sample_rate": SAMPLE_RATE,
        "clip_seconds": CLIP_SECONDS,
        "config": asdict(cfg),
    }
    (out_dir / MARKER).write_text(json.dumps(marker, indent=1))
    for index in range(count):
        soundfile.write(str(folder / f"glass-s{seed}_nohash_{index}.flac"), glass_clip(seed, index, cfg), SAMPLE_RATE)
    marker.update(
        status="complete", written=count, counts_per_label={GLASS: count}, seconds=round(time.monotonic() - started, 1)
    )
    (out_dir / MARKER).write_text(json.dumps(marker, indent=1))
    return marker


def glass_scores(clips: list[np.ndarray], model: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(glass_break clip score, whether glass_break is the top label) of each 1 s clip under `model`.

    Clips are scored as `classify --clip` scores a file (the bundled model unless `model` is given).
    """
    from audio_lstm.device.decisions import clip_scores, pad_clip
    from audio_lstm.device.runtime import StreamingClassifier

    classifier = StreamingClassifier(model)
    glass = classifier.labels.index(GLASS)
    scores = np.array(
        [
            clip_scores(
                classifier.predict_clip(pad_clip(clip, SAMPLE_RATE)), classifier.labels, classifier.smoothing_frames
            )
            for clip in clips
        ]
    )
    return scores[:, glass], scores.argmax(axis=1) == glass


def noise_burst(rng: np.random.Generator) -> np.ndarray:
    """A control that is not glass: white noise high-passed at 2 kHz, decaying from a random onset."""
    length = int(CLIP_SECONDS * SAMPLE_RATE)
    onset = int(rng.uniform(0.05, 0.45) * SAMPLE_RATE)
    t = np.arange(length - onset) / SAMPLE_RATE
    burst = band_limit(rng.standard_normal(len(t)).astype(np.float32), 2000.0, np.inf) * np.exp(
        -t / rng.uniform(0.1, 0.4)
    )
    audio = np.concatenate([np.zeros(onset), burst])
    return (audio * (0.5 / np.abs(audio).max())).astype(np.float32)


def high_band_fraction(clip: np.ndarray, cutoff_hz: float = 2000.0) -> float:
    """Fraction of a clip's energy above `cutoff_hz`."""
    power = np.abs(np.fft.rfft(clip)) ** 2
    total = float(power.sum())
    return float(power[np.fft.rfftfreq(len(clip), 1.0 / SAMPLE_RATE) > cutoff_hz].sum()) / total if total > 0 else 0.0


def validate(
    data_root: Path | str, count: int = 200, seed: int = 0, ambience: int = 200, model: Path | None = None
) -> dict[str, dict[str, float]]:
    """How the real-trained model scores synthetic glass vs the real glass and ambience windows.

    Returns {set: {"clips", "median_score", "glass_fraction", "high_band"}} (median glass_break
    clip score, fraction whose top label is glass_break, median energy fraction above 2 kHz) for
    "synthetic" (`count` clips from `seed`), "real testing", "real training"
    (`data_root/glass_break/...`), "ambience" (a seeded sample of `ambience` windows from
    `data_root/noise/ambience_1s`, the negatives) and "noise bursts", a control that is not glass.
    """
    from audio_lstm.data.clips import load_clip
    from audio_lstm.data.readers import audio_files

    root = Path(data_root)
    length = int(CLIP_SECONDS * SAMPLE_RATE)

    def load(folder: Path, limit: int | None = None) -> list[np.ndarray]:
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: folder not found (is {root} the shared data folder?)")
        files = audio_files(folder)
        if limit is not None and limit < len(files):
            files = [files[i] for i in sorted(np.random.default_rng(seed).choice(len(files), limit, replace=False))]
        return [load_clip(path, SAMPLE_RATE, length)[0] for path in files]

    sets = {
        "synthetic": [glass_clip(seed, index) for index in range(count)],
        "real testing": load(root / GLASS / "testing"),
        "real training": load(root / GLASS / "training"),
        "ambience": load(root / "noise" / "ambience_1s", ambience),
        "noise bursts": [noise_burst(np.random.default_rng([seed, CONTROL_STREAM, index])) for index in range(50)],
    }
    report: dict[str, dict[str, float]] = {}
    for name, clips in sets.items():
        scores, is_glass = glass_scores(clips, model)
        report[name] = {
            "clips": len(clips),
            "median_score": round(float(np.median(scores)), 4),
            "glass_fraction": round(float(is_glass.mean()), 4),
            "high_band": round(float(np.median([high_band_fraction(c) for c in clips])), 4),
        }
    return report
