"""Training examples: continuous multi-clip streams with per-frame targets (numpy only).

A stream is background (a noise-bank segment at a random level, near-silence or exact zeros)
with 0..max_clips clips placed at random non-overlapping offsets, each mixed at a random SNR.
Frames get targets from the placed words (audio_lstm/targets.py): ignored from a word's onset
until the model can know it, then its label, silence elsewhere. `unknown_onset` can give unknown
words' early frames a target instead (`_unknown_`, or "not a keyword"), so that no keyword may
fire anywhere inside another word.

Rooms and microphones (audio_lstm/rooms.py): a placed clip may be convolved with one RIR of the
sampler's bank (direct path at lag 0, so the word onset and the targets do not move) and the
mixed stream may be heard through a random cheap microphone (band limit, soft clipping, gain).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from audio_lstm.augment.rooms import (
    MicConfig,
    Microphone,
    RirBank,
    RoomConfig,
    apply_microphone,
    random_microphone,
    reverberate,
)
from audio_lstm.augment.signal import NoiseBank, change_speed, db_to_gain, random_noise_segment, rms
from audio_lstm.data.clips import CLIP_SECONDS, load_clips
from audio_lstm.data.readers import Clip
from audio_lstm.device.features import MfccConfig
from audio_lstm.device.labels import SILENCE, UNKNOWN
from audio_lstm.train.targets import NOT_KEYWORD_INDEX, frame_targets

UNKNOWN_ONSET_TARGETS = ("ignore", "unknown", "not_keyword")  # choices of StreamConfig.unknown_onset


@dataclass(frozen=True)
class StreamConfig:
    """How training streams are generated."""

    seconds: float = 3.0  # stream length
    max_clips: int = 3  # event clips placed per stream (0..max_clips, mostly >= 1)
    snr_db: tuple[float, float] = (0.0, 20.0)  # clip active RMS over background RMS, dB
    clean_probability: float = 0.1  # stream with no added background (near-silent dither only)
    digital_silence_probability: float = 0.05  # background is exact zeros
    lead_seconds: float = 0.2  # positive frames start max(a + lead, b - lead) (clipped to <= b)
    tail_seconds: float = 0.25  # positive frames continue until b + tail
    # target of an unknown word's frames from its onset until keywords would start: "ignore" (left
    # out of the loss, like a keyword's); "unknown" (fewer keyword false accepts, but every word
    # start becomes `_unknown_`); "not_keyword" (unknown or silence both right: no keyword may fire
    # inside another word, yet the model need not commit to `_unknown_`; it moves the operating
    # point along the same curve). What each did: docs/training.md, "Why the defaults"
    unknown_onset: str = "ignore"
    empty_probability: float = 0.05  # stream with no clip at all (background only)
    background_dbfs: tuple[float, float] = (-60.0, -25.0)  # RMS of a noise background, dBFS
    near_silence_dbfs: tuple[float, float] = (-90.0, -65.0)  # RMS of the dither of a clean stream
    gain_db: tuple[float, float] = (-10.0, 6.0)  # clip gain when there is no background to set an SNR
    start_cut_probability: float = 0.2  # chance the first clip starts before the stream (leading silence cut)
    # relative draw weight per label (others 1.0): unknown speech is the most varied class and the
    # main source of false accepts, so it is drawn more often than any single keyword
    label_weights: tuple[tuple[str, float], ...] = (("_unknown_", 3.0),)
    # within a label, a clip is drawn with weight n ** -group_balance, n = the label's clips from the
    # same group (speaker, voice, recording): 0 draws clips uniformly, so one prolific speaker
    # (130 "stop"s) outweighs 100 speakers with two each; 1 draws every group equally often
    group_balance: float = 0.5
    # fraction of each label's draws taken from generated clips (TTS) when the label has both kinds;
    # None: generated clips weigh like recorded ones (then hundreds of voices can outweigh real speech)
    generated_share: float | None = None
    speed_range: tuple[float, float] = (0.85, 1.15)  # speed perturbation factor (tempo and pitch) per clip
    speed_probability: float = 0.8  # chance a placed clip is speed-perturbed
    reverb_probability: float = 0.5  # chance a placed clip is convolved with a room impulse response
    rir_bank_size: int = 200  # RIRs drawn once per sampler (from its seed) to pick from
    rooms: RoomConfig = field(default_factory=RoomConfig)  # RT60, DRR, reflection ranges of the bank
    # real negative audio (speech, music, household sounds: the negatives cache) as the background,
    # like a TV in the room; only when the sampler has a negatives bank
    negative_probability: float = 0.4  # chance a stream's background is real negative audio
    negative_dbfs: tuple[float, float] = (-40.0, -15.0)  # RMS of a negative background, dBFS
    negative_empty_probability: float = 0.5  # a stream on negative audio has no clip at all
    hard_negative_share: float = 0.5  # of the negative backgrounds, the share from mined windows (when any)
    mic_probability: float = 0.5  # chance the whole mixed stream goes through a random microphone
    microphone: MicConfig = field(default_factory=MicConfig)  # band-limit, clipping and gain ranges

    def __post_init__(self) -> None:
        if self.seconds < CLIP_SECONDS:
            raise ValueError(f"stream seconds ({self.seconds}) must be at least one clip ({CLIP_SECONDS} s)")
        if self.max_clips < 0:
            raise ValueError(f"max_clips must be >= 0, got {self.max_clips}")
        if self.clean_probability + self.digital_silence_probability > 1:
            raise ValueError("clean_probability + digital_silence_probability must not exceed 1")
        if self.lead_seconds < 0 or self.tail_seconds < 0:
            raise ValueError("lead_seconds and tail_seconds must be >= 0")
        if self.generated_share is not None and not 0.0 <= self.generated_share <= 1.0:
            raise ValueError(f"generated_share must be in [0, 1], got {self.generated_share}")
        if self.unknown_onset not in UNKNOWN_ONSET_TARGETS:
            raise ValueError(f"unknown_onset must be one of {UNKNOWN_ONSET_TARGETS}, got {self.unknown_onset!r}")
        if self.reverb_probability > 0 and self.rir_bank_size < 1:
            raise ValueError(f"reverb_probability {self.reverb_probability} needs rir_bank_size >= 1")


@dataclass(frozen=True)
class Placement:
    """One clip in a stream: its index in the sampler, where its audio starts, its amplitude gain."""

    clip: int
    offset: int  # stream sample of the clip's first sample; negative when the start is cut off
    gain: float
    speed: float = 1.0  # playback speed factor (1.0: unchanged)
    rir: int = -1  # index into the sampler's RIR bank; -1: dry


class StreamSampler:
    """Generates (audio, frame targets) training streams from clips and a noise bank."""

    def __init__(
        self,
        clips: list[Clip],
        noise: NoiseBank,
        labels: tuple[str, ...],
        mfcc: MfccConfig,
        cfg: StreamConfig,
        seed: int,
        audio_cache: dict | None = None,
        negatives: NoiseBank | None = None,
        hard_negatives: NoiseBank | None = None,
        measured_rirs: Sequence[np.ndarray] = (),
    ) -> None:
        if SILENCE not in labels:
            raise ValueError(f"labels must include {SILENCE!r} (the default frame target), got {labels}")
        stray = sorted({clip.label for clip in clips} - set(labels))
        if stray:
            raise ValueError(f"clips carry label(s) {', '.join(stray)} that are not among the model labels {labels}")
        if not clips:
            raise ValueError("no clips to build streams from")
        self.clips = list(clips)
        self.noise = noise
        self.negatives = negatives if negatives is not None and len(negatives) else None
        self.hard_negatives = hard_negatives if hard_negatives is not None and len(hard_negatives) else None
        self.labels = tuple(labels)
        self.mfcc = mfcc
        self.cfg = cfg
        self.seed = seed
        self.silence_index = self.labels.index(SILENCE)
        self.onset_targets: dict[int, int] = {}
        if cfg.unknown_onset != "ignore" and UNKNOWN in self.labels:
            unknown = self.labels.index(UNKNOWN)
            self.onset_targets[unknown] = unknown if cfg.unknown_onset == "unknown" else NOT_KEYWORD_INDEX
        rate = mfcc.sample_rate
        self.clip_length = int(round(CLIP_SECONDS * rate))
        self.length = int(round(cfg.seconds * rate))
        self.lead = int(round(cfg.lead_seconds * rate))
        self.tail = int(round(cfg.tail_seconds * rate))
        self.max_clips = min(cfg.max_clips, self.length // self.clip_length)
        loaded = load_clips([clip.path for clip in self.clips], rate, self.clip_length, audio_cache)
        self.audio = [audio for audio, _ in loaded]
        self.activity = [activity for _, activity in loaded]
        self.active_rms = [0.0 if s is None else rms(a[s[0] : s[1]]) for a, s in zip(self.audio, self.activity)]
        by_label: dict[int, list[int]] = {}
        for i, clip in enumerate(self.clips):
            by_label.setdefault(self.labels.index(clip.label), []).append(i)
        self._label_ids = np.array(sorted(by_label), dtype=np.int64)
        self._by_label = [np.array(by_label[int(k)], dtype=np.int64) for k in self._label_ids]
        self._clip_probabilities = [self._group_balanced(ids) for ids in self._by_label]
        weights = dict(cfg.label_weights)
        draw = np.array([weights.get(self.labels[int(k)], 1.0) for k in self._label_ids], dtype=np.float64)
        self._label_probabilities = draw / draw.sum()
        bank_size = cfg.rir_bank_size if cfg.reverb_probability > 0 else 0
        self.rirs = RirBank(bank_size, cfg.rooms, seed, rate, measured_rirs)
        self._rng = np.random.default_rng(seed)

    def mean_clips_per_stream(self) -> float:
        """Expected number of clips placed in one stream."""
        if self.max_clips == 0:
            return 0.0
        return (1.0 - self.cfg.empty_probability) * (1 + self.max_clips) / 2

    def __len__(self) -> int:
        """Streams per epoch: clips per epoch / mean clips per stream."""
        mean = self.mean_clips_per_stream()
        return max(1, int(round(len(self.clips) / mean))) if mean > 0 else len(self.clips)

    def _group_balanced(self, clip_ids: np.ndarray) -> np.ndarray | None:
        """Draw probabilities over one label's clips (see StreamConfig.group_balance and
        generated_share); None: uniform."""
        share = self.cfg.generated_share
        generated = np.array([self.clips[int(i)].generated for i in clip_ids])
        mixed = share is not None and 0 < generated.sum() < len(generated)
        if self.cfg.group_balance == 0 and not mixed:
            return None
        groups = [self.clips[int(i)].group for i in clip_ids]
        sizes = Counter(groups)
        weights = np.array([sizes[group] ** -self.cfg.group_balance for group in groups], dtype=np.float64)
        if mixed:
            weights[generated] *= share / weights[generated].sum()
            weights[~generated] *= (1.0 - share) / weights[~generated].sum()
        return weights / weights.sum()

    def choose_clip(self, rng: np.random.Generator) -> int:
        """A clip index: a label by `label_weights` (else uniformly), then one of its clips, group-balanced."""
        label = int(rng.choice(len(self._by_label), p=self._label_probabilities))
        clip_ids, probabilities = self._by_label[label], self._clip_probabilities[label]
        if probabilities is not None:
            return int(clip_ids[int(rng.choice(len(clip_ids), p=probabilities))])
        return int(clip_ids[int(rng.integers(len(clip_ids)))])

    def background(self, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        """A background of stream length, and whether it is real noise (clips then follow an SNR)."""
        cfg = self.cfg
        draw = rng.random()
        if draw < cfg.digital_silence_probability:
            return np.zeros(self.length, dtype=np.float32), False
        if draw < cfg.digital_silence_probability + cfg.clean_probability or len(self.noise) == 0:
            level = db_to_gain(rng.uniform(*cfg.near_silence_dbfs))
            return (rng.standard_normal(self.length) * level).astype(np.float32), False
        segment = random_noise_segment(self.noise, self.length, rng)
        current = rms(segment)
        if current <= 0.0:
            return segment.astype(np.float32), False
        scale = db_to_gain(rng.uniform(*cfg.background_dbfs)) / current
        return (segment * np.float32(scale)).astype(np.float32), True

    def negative_background(self, rng: np.random.Generator) -> np.ndarray | None:
        """With `negative_probability`, a stream-length background of real negative audio (mined
        windows for `hard_negative_share` of them); None otherwise or without negatives (no draw)."""
        cfg = self.cfg
        if self.negatives is None or rng.random() >= cfg.negative_probability:
            return None
        hard = self.hard_negatives is not None and rng.random() < cfg.hard_negative_share
        segment = random_noise_segment(self.hard_negatives if hard else self.negatives, self.length, rng)
        current = rms(segment)
        if current <= 0.0:
            return segment.astype(np.float32)
        return (segment * np.float32(db_to_gain(rng.uniform(*cfg.negative_dbfs)) / current)).astype(np.float32)

    def plan(self, rng: np.random.Generator) -> tuple[np.ndarray, list[Placement]]:
        """A random background and the clips to place on it (offsets and gains)."""
        cfg = self.cfg
        negative = self.negative_background(rng)
        if negative is None:
            background, noisy = self.background(rng)
            empty_probability = cfg.empty_probability
        else:
            background, noisy, empty_probability = negative, True, cfg.negative_empty_probability
        count = 0
        if self.max_clips > 0 and rng.random() >= empty_probability:
            count = int(rng.integers(1, self.max_clips + 1))
        chosen = [self.choose_clip(rng) for _ in range(count)]
        free = self.length - count * self.clip_length
        cuts = np.sort(rng.integers(0, free + 1, size=count))
        gaps = np.diff(np.concatenate([[0], cuts]))
        placements: list[Placement] = []
        position = 0
        for i, (index, gap) in enumerate(zip(chosen, gaps)):
            offset = position + int(gap)
            position = offset + self.clip_length
            span = self.activity[index]
            if i == 0 and span is not None and rng.random() < cfg.start_cut_probability:
                offset = -int(rng.integers(0, span[0] + 1))  # cut leading silence only, never the word
            speed = float(rng.uniform(*cfg.speed_range)) if rng.random() < cfg.speed_probability else 1.0
            gain = self._gain(index, offset, background, noisy, rng)
            rir = int(rng.integers(len(self.rirs))) if rng.random() < cfg.reverb_probability else -1
            placements.append(Placement(index, offset, gain, speed, rir))
        return background, placements

    def plan_microphone(self, rng: np.random.Generator) -> Microphone | None:
        """The microphone a stream is heard through, or None (with 1 - mic_probability)."""
        return random_microphone(rng, self.cfg.microphone) if rng.random() < self.cfg.mic_probability else None

    def _gain(self, index: int, offset: int, background: np.ndarray, noisy: bool, rng: np.random.Generator) -> float:
        span = self.activity[index]
        if noisy and span is not None and self.active_rms[index] > 0.0:
            region = background[max(0, offset + span[0]) : max(0, offset + span[1])]
            level = rms(region)
            if level > 0.0:
                return level * db_to_gain(rng.uniform(*self.cfg.snr_db)) / self.active_rms[index]
        return db_to_gain(rng.uniform(*self.cfg.gain_db))

    def render(
        self, background: np.ndarray, placements: Sequence[Placement], microphone: Microphone | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mix placed clips into `background`, then apply `microphone` to the mix.

        Returns audio float32 (N,) and targets int64 (frames,). Targets follow the dry word
        activity: reverb keeps the onset (direct path at lag 0) and only lengthens the tail.
        """
        audio = np.array(background, dtype=np.float32, copy=True)
        spans: list[tuple[int, int, int]] = []
        for place in placements:
            clip = self.audio[place.clip]
            span = self.activity[place.clip]
            if place.speed != 1.0:
                clip = change_speed(clip, place.speed)
                if span is not None:
                    span = (int(span[0] / place.speed), int(span[1] / place.speed))
            if place.rir >= 0:
                clip = reverberate(clip, self.rirs[place.rir])
            first = max(0, -place.offset)
            last = min(len(clip), len(audio) - place.offset)
            if last <= first:
                continue
            audio[place.offset + first : place.offset + last] += clip[first:last] * np.float32(place.gain)
            label = self.clips[place.clip].label
            if label != SILENCE and span is not None:
                spans.append((self.labels.index(label), place.offset + span[0], place.offset + span[1]))
        if microphone is not None:
            audio = apply_microphone(audio, microphone, self.mfcc.sample_rate)
        peak = float(np.abs(audio).max()) if len(audio) else 0.0
        if peak > 0.99:
            audio *= np.float32(0.99 / peak)
        return audio, frame_targets(
            len(audio), spans, self.mfcc, self.silence_index, self.lead, self.tail, self.onset_targets
        )

    def sample(self, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One stream: audio float32 (N,), targets int64 (num_frames(N, mfcc),).

        Without `rng`, the sampler's own generator (seeded with `seed`) is used.
        """
        rng = self._rng if rng is None else rng
        background, placements = self.plan(rng)
        return self.render(background, placements, self.plan_microphone(rng))
