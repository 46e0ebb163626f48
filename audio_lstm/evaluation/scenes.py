"""The evaluation streams: seeded scenes of real background with labelled clips at known times.

The stream is a sequence of scenes. Each scene is a stretch of real background (noise files and
`_silence_` ambience clips of the evaluated split, chosen by `random_noise_segment`) at one random
level, with keyword, glass and unknown-speech clips placed at random gaps, each word at a random SNR
over the background under it. Clips are used in shuffled rounds, so every clip is heard about
equally often. Scenes are rendered one at a time: any scene is a pure function of the seed and its
index, so hours of stream never sit in memory.

Torch-free.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audio_lstm.augment.signal import NoiseBank, db_to_gain, random_noise_segment, rms
from audio_lstm.data.clips import CLIP_SECONDS, load_clip
from audio_lstm.data.readers import Clip, Corpus
from audio_lstm.device.labels import SILENCE
from audio_lstm.evaluation.event_matching import TrueEvent

PEAK_LIMIT = 0.99  # a scene louder than this is scaled down as a whole (SNRs are kept)


@dataclass(frozen=True)
class StreamingEvalConfig:
    """How the evaluation streams are built and scored."""

    hours: float = 1.0  # total stream audio (the false-accept measurement needs plenty)
    seed: int = 0  # the streams are a pure function of this seed and the data
    scene_seconds: float = 30.0  # background recording mix and level held this long
    gap_seconds: tuple[float, float] = (2.0, 6.0)  # background between consecutive clips
    snr_db: tuple[float, float] = (5.0, 20.0)  # word RMS over the RMS of the background under it
    background_dbfs: tuple[float, float] = (-50.0, -30.0)  # RMS of a scene's background (quiet to loud room)
    background_max_seconds: float = 1800.0  # background audio loaded at most
    tolerance_s: float = 1.0  # a detection may start this long after the word's end and still hit
    chunk_seconds: float = 0.08  # the stream is fed in capture chunks this long (listen's default 80 ms)
    sweep_grid: tuple[float, float, float] = (0.02, 0.99, 0.01)  # DET sweep thresholds: first, last, step
    target_fa_per_hour: float = 0.5  # thresholds are chosen to keep false accepts per hour at or below this

    def __post_init__(self) -> None:
        if not self.hours > 0 or not self.scene_seconds >= CLIP_SECONDS:
            raise ValueError(
                f"need hours > 0 and scene_seconds >= {CLIP_SECONDS}, got {self.hours}, {self.scene_seconds}"
            )
        if not 0 < self.gap_seconds[0] <= self.gap_seconds[1] or self.tolerance_s < 0 or self.target_fa_per_hour < 0:
            raise ValueError("need 0 < gap low <= gap high, tolerance_s >= 0 and target_fa_per_hour >= 0")

    def thresholds(self) -> list[float]:
        """The sweep's candidate thresholds, ascending."""
        first, last, step = self.sweep_grid
        return [round(first + i * step, 6) for i in range(int(math.floor((last - first) / step + 1e-9)) + 1)]


@dataclass(frozen=True, eq=False)
class EventClip:
    """A labelled clip ready to place: exactly one clip length of audio and its word inside it."""

    label: str
    path: Path
    audio: np.ndarray  # float32, CLIP_SECONDS long
    word: tuple[int, int]  # word activity [start, end) in samples


@dataclass(frozen=True)
class PlacedClip:
    """One clip in a scene."""

    clip: int  # index into the event clips
    offset: int  # scene sample where the clip's audio starts
    snr_db: float  # word RMS over the RMS of the background under the word


@dataclass(frozen=True)
class Scene:
    """A stretch of background with clips on it."""

    start: int  # stream sample of the scene's first sample
    length: int  # samples
    level_dbfs: float  # background RMS
    clips: tuple[PlacedClip, ...]


@dataclass(frozen=True)
class StreamPlan:
    """Where everything goes: scenes in stream order and the true events they hold."""

    seed: int
    sample_rate: int
    scenes: tuple[Scene, ...]
    events: tuple[TrueEvent, ...]

    @property
    def samples(self) -> int:
        return sum(scene.length for scene in self.scenes)

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate


def load_event_clips(clips: Sequence[Clip], sample_rate: int) -> tuple[list[EventClip], int]:
    """Every non-silence clip with its word activity; also the number skipped as silent."""
    length = int(round(CLIP_SECONDS * sample_rate))
    loaded: list[EventClip] = []
    for clip in clips:
        if clip.label == SILENCE:
            continue
        audio, word = load_clip(clip.path, sample_rate, length)
        if word is not None:
            loaded.append(EventClip(clip.label, clip.path, audio, word))
    return loaded, sum(clip.label != SILENCE for clip in clips) - len(loaded)


def background_paths(corpus: Corpus, split: str) -> list[Path]:
    """Background recordings for a split: its `_silence_` clips and the corpus noise files that are
    not clips of another split (split "all": every silence clip and noise file)."""
    other = {clip.path for clip in corpus.clips if split != "all" and clip.split != split}
    silence = [clip.path for clip in corpus.clips if clip.label == SILENCE and clip.path not in other]
    return list(dict.fromkeys([*silence, *(path for path in corpus.noise_files if path not in other)]))


def plan_streams(clips: Sequence[EventClip], cfg: StreamingEvalConfig, sample_rate: int) -> StreamPlan:
    """Lay out `cfg.hours` of scenes with clips at random gaps; deterministic for `cfg.seed`."""
    if not clips:
        raise ValueError("no clips with audible words to place in the streams")
    rng = np.random.default_rng([cfg.seed, 0])
    rounds = itertools.chain.from_iterable(rng.permutation(len(clips)) for _ in itertools.count())
    scene_length = int(round(cfg.scene_seconds * sample_rate))
    count = math.ceil(cfg.hours * 3600.0 / cfg.scene_seconds - 1e-9)
    scenes: list[Scene] = []
    events: list[TrueEvent] = []

    def gap() -> int:
        return int(round(rng.uniform(*cfg.gap_seconds) * sample_rate))

    for index in range(count):
        start = index * scene_length
        level = float(rng.uniform(*cfg.background_dbfs))
        placed: list[PlacedClip] = []
        position = gap()
        while position + len(clips[0].audio) <= scene_length:
            chosen = int(next(rounds))
            clip = clips[chosen]
            placed.append(PlacedClip(chosen, position, float(rng.uniform(*cfg.snr_db))))
            first, last = start + position + clip.word[0], start + position + clip.word[1]
            events.append(TrueEvent(clip.label, first / sample_rate, last / sample_rate, str(clip.path)))
            position += len(clip.audio) + gap()
        scenes.append(Scene(start, scene_length, level, tuple(placed)))
    return StreamPlan(cfg.seed, sample_rate, tuple(scenes), tuple(events))


def render_scene(plan: StreamPlan, index: int, clips: Sequence[EventClip], background: NoiseBank) -> np.ndarray:
    """The audio of scene `index` (float32), a pure function of the plan's seed and the index."""
    scene = plan.scenes[index]
    rng = np.random.default_rng([plan.seed, 1, index])
    audio = random_noise_segment(background, scene.length, rng).astype(np.float32, copy=True)
    level = rms(audio)
    if level > 0:
        audio *= np.float32(db_to_gain(scene.level_dbfs) / level)
    for placed in scene.clips:
        clip = clips[placed.clip]
        first, last = clip.word
        under = rms(audio[placed.offset + first : placed.offset + last]) or db_to_gain(scene.level_dbfs)
        gain = under * db_to_gain(placed.snr_db) / rms(clip.audio[first:last])
        audio[placed.offset : placed.offset + len(clip.audio)] += clip.audio * np.float32(gain)
    peak = float(np.abs(audio).max()) if len(audio) else 0.0
    if peak > PEAK_LIMIT:
        audio *= np.float32(PEAK_LIMIT / peak)
    return audio


def iter_stream(plan: StreamPlan, clips: Sequence[EventClip], background: NoiseBank) -> Iterator[np.ndarray]:
    """The stream's audio, one scene at a time."""
    for index in range(len(plan.scenes)):
        yield render_scene(plan, index, clips, background)
