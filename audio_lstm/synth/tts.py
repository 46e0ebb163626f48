"""Generated speech for training: every offline English TTS voice we can get, at varied prosody.

`audio-lstm tts OUT_DIR` writes `OUT_DIR/<word>/<voice-id>_nohash_<k>.flac` (16 kHz mono,
1.0 s) for every keyword and ~180 non-keywords (near-misses and Speech Commands' auxiliary words)
plus `GENERATED.json`, the marker that `open_corpus` detects as the "generated" layout. Voices come
from every installed engine of `audio_lstm.synth.voices` (espeak-ng, MBROLA, flite, festival, pico,
RHVoice, Kokoro); each word's clips are split equally over the engines unless `--share` says
otherwise. The set is a deterministic function of the seed and the installed engines; it belongs
in a cache folder. Torch-free; the command is `audio_lstm.commands.tts`.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile

from audio_lstm.data.clips import CLIP_SECONDS
from audio_lstm.data.generated_sets import MARKER
from audio_lstm.device.audio_io import resample
from audio_lstm.device.labels import KEYWORDS, UNKNOWN
from audio_lstm.synth.voices import Engine, Prosody, engine_named, installed_engines, voice_id
from audio_lstm.synth.words import default_words_per_label

SAMPLE_RATE = 16000
MAX_WORD_SECONDS = 0.95
SHIFT_SEMITONES = 2.0  # engines without pitch control: resampling shift of up to this many semitones


@dataclass(frozen=True)
class Job:
    """One rendition: its word, engine, voice and prosody, placement and level, and its output name."""

    word: str
    engine: str  # a name from `voices.ENGINES`
    voice: str  # that engine's voice spec
    rate: float  # tempo factor, 1.0 = the engine's default
    pitch: float  # -1..1: the engine's pitch, or a resampling shift of +-SHIFT_SEMITONES without pitch control
    form: str  # "plain" | "!" | "?" | "emphasis"
    lead: float  # seconds of leading silence (clamped so the word fits)
    level_db: float  # peak level, dBFS
    name: str  # <word>/<voice-id>_nohash_<k>.flac


@dataclass(frozen=True)
class ProsodyRanges:
    """The ranges prosody is drawn from, uniformly per clip."""

    rate: tuple[float, float] = (0.75, 1.3)  # tempo factor
    pitch: tuple[float, float] = (-1.0, 1.0)  # engine-relative pitch
    lead_seconds: tuple[float, float] = (0.1, 0.4)  # silence before the word
    peak_dbfs: tuple[float, float] = (-20.0, -3.0)  # peak level
    forms: tuple[str, ...] = ("plain", "plain", "!", "?", "emphasis")  # drawn with these multiplicities


def split_by_share(
    total: int,
    shares: dict[str, float],
    rng: np.random.Generator,
    given: dict[str, int] | None = None,
) -> dict[str, int]:
    """Split `total` clips over engines in proportion to `shares` (positive weights).

    Each engine gets floor(total x its share) or one clip more. The leftover clips go to the engines
    furthest below their share of all clips so far (`given`: clips each got for earlier words, none
    by default), ties in a seeded random order; so over many words the totals follow the shares too.
    """
    names = sorted(shares)
    weights = np.array([shares[n] for n in names], dtype=float)
    fractions = weights / weights.sum()
    counts = np.floor(total * fractions + 1e-9).astype(int)
    before = np.array([(given or {}).get(n, 0) for n in names], dtype=float)
    deficit = np.round((before.sum() + total) * fractions - before - counts, 9)
    order = np.lexsort((rng.permutation(len(names)), -deficit))  # largest deficit first, random ties
    counts[order[: total - counts.sum()]] += 1
    return dict(zip(names, counts.tolist()))


def plan(
    words_per_label: dict[str, int],
    voices: dict[str, list[str]],
    seed: int = 0,
    shares: dict[str, float] | None = None,
    ranges: ProsodyRanges = ProsodyRanges(),
) -> list[Job]:
    """The deterministic list of renditions.

    `voices`: {engine: voice specs}. Each word's clips are split over the engines by `shares`
    (default: equal; an engine left out of `voices`, without voices or with share 0 gets none), so
    an engine with hundreds of voice specs gets no more clips than one with two; within an engine
    its voices are cycled in a seeded order. Prosody is drawn per clip.
    """
    rng = np.random.default_rng(seed)
    shares = {e: (shares or {}).get(e, 1.0) for e in voices if voices[e] and (shares or {}).get(e, 1.0) > 0}
    if not shares:
        raise ValueError("no engine with voices and a positive share to plan with")
    ids = {voice_id(e, v) for e in shares for v in voices[e]}
    if len(ids) != sum(len(set(voices[e])) for e in shares):
        raise ValueError("two voice specs map to the same voice id")
    jobs, given = [], dict.fromkeys(shares, 0)
    for word in sorted(words_per_label):
        for engine, count in split_by_share(words_per_label[word], shares, rng, given).items():
            given[engine] += count
            specs = voices[engine]
            order = rng.permutation(len(specs))
            seen: dict[str, int] = {}
            for i in range(count):
                voice = specs[order[i % len(specs)]]
                k = seen[voice] = seen.get(voice, -1) + 1
                jobs.append(
                    Job(
                        word,
                        engine,
                        voice,
                        round(float(rng.uniform(*ranges.rate)), 3),
                        round(float(rng.uniform(*ranges.pitch)), 3),
                        ranges.forms[int(rng.integers(len(ranges.forms)))],
                        round(float(rng.uniform(*ranges.lead_seconds)), 3),
                        round(float(rng.uniform(*ranges.peak_dbfs)), 2),
                        f"{word}/{voice_id(engine, voice)}_nohash_{k}.flac",
                    )
                )
    return jobs


def trim_silence(audio: np.ndarray, sample_rate: int, threshold_db: float = -40.0) -> np.ndarray:
    """Drop leading/trailing 10 ms frames quieter than `threshold_db` below the peak frame."""
    hop = max(1, sample_rate // 100)
    frames = len(audio) // hop
    if frames == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: frames * hop].reshape(frames, hop) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(rms > rms.max() * 10 ** (threshold_db / 20))
    return audio[loud[0] * hop : min(len(audio), (loud[-1] + 1) * hop)]


def render(job: Job, out_dir: Path, tmp_dir: Path) -> bool:
    """Synthesise, pitch-shift if needed, trim, place and write one clip; False if it failed or is too long."""
    engine, wav = engine_named(job.engine), tmp_dir / "word.wav"
    wav.unlink(missing_ok=True)
    if not engine.synth(job.voice, job.word, Prosody(job.rate, job.pitch, job.form), wav):
        return False
    audio, rate = soundfile.read(str(wav), dtype="float32", always_2d=True)
    if not engine.pitch_control:  # read as if recorded faster (higher) or slower (lower)
        rate = round(rate * 2 ** (job.pitch * SHIFT_SEMITONES / 12))
    audio = trim_silence(resample(audio.mean(axis=1), rate, SAMPLE_RATE), SAMPLE_RATE)
    total, peak = int(SAMPLE_RATE * CLIP_SECONDS), float(np.abs(audio).max(initial=0.0))
    if len(audio) > MAX_WORD_SECONDS * SAMPLE_RATE or peak < 1e-4:
        return False
    lead = min(int(job.lead * SAMPLE_RATE), total - len(audio))
    clip = np.zeros(total, dtype=np.float32)
    clip[lead : lead + len(audio)] = audio * (10 ** (job.level_db / 20) / peak)
    path = out_dir / job.name
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), clip, SAMPLE_RATE, subtype="PCM_16")
    return True


def _render_all(args: tuple[list[Job], Path]) -> list[bool]:
    jobs, out_dir = args
    with tempfile.TemporaryDirectory() as tmp:
        return [render(job, out_dir, Path(tmp)) for job in jobs]


def choose_voices(
    engines: list[Engine],
    limit_voices: int | None = None,
    seed: int = 0,
) -> dict[str, list[str]]:
    """{engine name: voice specs}; with `limit_voices`, a seeded sample of at most that many per engine."""
    chosen = {}
    for engine in engines:
        specs = engine.voices()
        if limit_voices is not None and limit_voices < len(specs):
            pick = np.random.default_rng(seed).choice(len(specs), size=limit_voices, replace=False)
            specs = sorted(specs[i] for i in pick)
        chosen[engine.name] = specs
    return chosen


def build_generated_set(
    out_dir: Path | str,
    words_per_label: dict[str, int] | None = None,
    seed: int = 0,
    jobs: int = 1,
    limit_voices: int | None = None,
    engines: list[str] | None = None,
    shares: dict[str, float] | None = None,
) -> dict:
    """Build the set into `out_dir` (replacing an earlier generated set there); returns the marker dict.

    `words_per_label`: {word: clips} (default `default_words_per_label()`); `engines`: engine names
    to use (default every installed one; missing ones are skipped with a note in the marker);
    `shares`: {engine: relative share of each word's clips} (default equal); `limit_voices`: at most
    that many voice specs per engine (seeded sample). The marker says "building" until complete.
    """
    for name in shares or {}:
        engine_named(name)  # KeyError for a misspelt engine
    notes: list[str] = []
    usable = installed_engines(engines, notes)
    for note in notes:
        print(note, file=sys.stderr)
    if not usable:
        raise RuntimeError("no TTS engine is installed (apt-get install espeak-ng, or see `make system-deps`)")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / MARKER).is_file():
            raise FileExistsError(f"{out_dir} is not empty and holds no {MARKER}; refusing to overwrite it")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    words_per_label = dict(words_per_label or default_words_per_label())
    voices = choose_voices(usable, limit_voices, seed)
    todo = plan(words_per_label, voices, seed, shares)
    marker = {
        "status": "building",
        "seed": seed,
        "sample_rate": SAMPLE_RATE,
        "clip_seconds": CLIP_SECONDS,
        "max_word_seconds": MAX_WORD_SECONDS,
        "words_per_label": words_per_label,
        "engines": {
            e.name: {
                "version": e.version(),
                "voices": voices[e.name],
                "share": (shares or {}).get(e.name, 1.0),
                "pitch": "native" if e.pitch_control else f"resampling, +-{SHIFT_SEMITONES} semitones",
            }
            for e in usable
        },
        "skipped_engines": notes,
        "voices": [f"{e}:{v}" for e, specs in voices.items() for v in specs],
        "prosody": asdict(ProsodyRanges()),
    }
    (out_dir / MARKER).write_text(json.dumps(marker, indent=1))
    chunks = [(todo[i::jobs], out_dir) for i in range(max(1, jobs))]
    if jobs > 1:
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            parts = pool.map(_render_all, chunks)
    else:
        parts = [_render_all(chunks[0])]
    ok = [False] * len(todo)
    for i, part in enumerate(parts):
        ok[i :: len(parts)] = part
    counts = {word: 0 for word in words_per_label}
    per_engine = {e.name: {"planned": 0, "written": 0} for e in usable}
    for job, done in zip(todo, ok):
        counts[job.word] += int(done)
        per_engine[job.engine]["planned"] += 1
        per_engine[job.engine]["written"] += int(done)
    labels = dict.fromkeys((*KEYWORDS, UNKNOWN), 0)
    for word, n in counts.items():
        labels[word if word in KEYWORDS else UNKNOWN] += n
    marker.update(
        status="complete",
        planned=len(todo),
        written=sum(ok),
        skipped=len(todo) - sum(ok),
        counts_per_engine=per_engine,
        counts_per_word=counts,
        counts_per_label=labels,
        seconds=round(time.monotonic() - started, 1),
    )
    (out_dir / MARKER).write_text(json.dumps(marker, indent=1))
    return marker
