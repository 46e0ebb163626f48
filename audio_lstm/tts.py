"""Synthetic speech for training: every offline English espeak-ng voice x variant, varied prosody.

`python -m audio_lstm.tts OUT_DIR` writes `OUT_DIR/<word>/<voice-id>_nohash_<k>.flac` (16 kHz mono,
1.0 s) for every keyword and ~150 non-keywords (near-misses and Speech Commands' auxiliary words)
plus `GENERATED.json`, the marker that `open_corpus` detects as the "generated" layout. The set is
a deterministic function of the seed and the espeak-ng install; it belongs in a cache folder.
Torch-free: numpy, soundfile and the espeak-ng command only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from audio_lstm.audio_io import resample
from audio_lstm.data import Clip, Corpus, audio_files
from audio_lstm.labels import GLASS, KEYWORDS, UNKNOWN

MARKER = "GENERATED.json"
SAMPLE_RATE = 16000
CLIP_SECONDS = 1.0
MAX_WORD_SECONDS = 0.95
NEAR_MISSES: dict[str, tuple[str, ...]] = {
    "yes": ("yet", "yeah", "less", "yellow", "chess", "yell", "guess"),
    "no": ("know", "now", "note", "snow", "nope", "nose"),
    "up": ("cup", "pup", "op", "upper", "app"),
    "down": ("town", "gown", "dawn", "done", "round"),
    "left": ("lift", "laughed", "lefty", "theft", "lest", "loft"),
    "right": ("write", "light", "bright", "night", "ride", "rate"),
    "on": ("own", "an", "in", "gone", "upon"),
    "off": ("of", "cough", "often", "oft", "half"),
    "stop": ("top", "shop", "stomp", "step", "spot"),
    "go": ("goal", "ghost", "grow", "though", "so", "glow"),
}
AUXILIARY = (
    "bed bird cat dog eight five four happy house marvin nine one seven sheila six three tree two wow "
    "zero backward forward follow learn visual"
).split()
COMMON = (
    "the and hello time people water money morning because about would could maybe please thanks okay "
    "open close start wait turn play pause next back music window door table phone computer kitchen "
    "garden yesterday today tomorrow number little big small quick slow again never always something "
    "nothing question answer button paper doctor coffee dinner river mountain apple orange banana purple "
    "green blue red black white world family friend school city moment minute hour weather summer winter "
    "under over around between behind before after enough really very just only still also hundred "
    "thousand computer listen silence kitten picture travel animal"
).split()
NEAR_MISS_WEIGHT = 2  # near-misses get twice the clips of other unknown words


def unknown_words() -> list[str]:
    """The non-keyword vocabulary, near-misses first (deduplicated, no keyword)."""
    near = [w for words in NEAR_MISSES.values() for w in words]
    return [w for w in dict.fromkeys([*near, *AUXILIARY, *COMMON]) if w not in KEYWORDS]


def default_words_per_label(keyword_clips: int = 300, unknown_clips: int = 3000) -> dict[str, int]:
    """{word: clip count}: `keyword_clips` per keyword, `unknown_clips` spread over the unknown words."""
    near = {w for words in NEAR_MISSES.values() for w in words}
    words = unknown_words()
    weights = np.array([NEAR_MISS_WEIGHT if w in near else 1 for w in words], dtype=float)
    counts = np.maximum(1, np.round(unknown_clips * weights / weights.sum())).astype(int)
    return {**{k: keyword_clips for k in KEYWORDS}, **dict(zip(words, counts.tolist()))}


def espeak_version() -> str:
    return _run("--version").split("Data at")[0].strip()


def _run(*args: str) -> str:
    return subprocess.run(["espeak-ng", *args], capture_output=True, text=True, check=True).stdout


def _voice_rows(arg: str) -> list[tuple[str, str]]:
    rows = [line.split() for line in _run(f"--voices={arg}").splitlines()[1:]]
    # (language, voice file); a file name with a space ("!v/Mr serious") splits and is dropped
    return [(p[1], p[4]) for p in rows if len(p) == 5 or (len(p) > 5 and p[5].startswith("("))]


def _synth(voice: str, text: str, wav: Path, args: tuple[str, ...] = ()) -> bool:
    result = subprocess.run(["espeak-ng", "-v", voice, *args, "-w", str(wav), text], capture_output=True)
    return result.returncode == 0 and wav.is_file() and wav.stat().st_size > 1000


def list_voices() -> list[str]:
    """Sorted espeak-ng voice specs: each English base voice, alone and with every variant ("en-us+f3").

    MBROLA voices (mb-*) are included only if they synthesise here (mbrola and its voice installed);
    they take no variants.
    """
    bases, mbrola = set(), set()
    for language, file in _voice_rows("en"):
        if language == "variant":
            continue
        if file.startswith("mb/"):
            mbrola.add(file.split("/", 1)[1])
        elif language.startswith("en"):
            bases.add(language)
    variants = {file.split("/", 1)[1] for language, file in _voice_rows("variant") if file.startswith("!v/")}
    variants = {v for v in variants if re.fullmatch(r"[A-Za-z0-9]+", v)}
    with tempfile.TemporaryDirectory() as tmp:
        mbrola = {v for v in mbrola if _synth(v, "yes", Path(tmp) / f"{v}.wav")}
    voices = sorted([*bases, *(f"{b}+{v}" for b in bases for v in variants), *mbrola])
    assert len({voice_id(v) for v in voices}) == len(voices), "voice ids collide"
    return voices


def voice_id(voice: str) -> str:
    """File-name-safe id (no underscore, so `speaker_of` keeps it whole): en-us+f3 -> en-us-f3."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", voice)


@dataclass(frozen=True)
class Job:
    """One rendition: its word, espeak-ng settings, placement and level, and its output name."""

    word: str
    voice: str
    rate: int  # words per minute (-s)
    pitch: int  # 0-99 (-p)
    amplitude: int  # (-a)
    form: str  # "plain" | "!" | "?" | "emphasis"
    lead: float  # seconds of leading silence (clamped so the word fits)
    level_db: float  # peak level, dBFS
    name: str  # <word>/<voice-id>_nohash_<k>.flac


def plan(words_per_label: dict[str, int], voices: list[str], seed: int = 0) -> list[Job]:
    """The deterministic list of renditions: voices cycled in a seeded order, prosody drawn per clip."""
    rng = np.random.default_rng(seed)
    jobs, forms = [], ("plain", "plain", "!", "?", "emphasis")
    for word in sorted(words_per_label):
        order = rng.permutation(len(voices))
        seen: dict[str, int] = {}
        for i in range(words_per_label[word]):
            voice = voices[order[i % len(voices)]]
            k = seen[voice] = seen.get(voice, -1) + 1
            jobs.append(Job(
                word, voice, int(rng.integers(110, 221)), int(rng.integers(20, 81)), int(rng.integers(80, 161)),
                forms[int(rng.integers(len(forms)))], round(float(rng.uniform(0.1, 0.4)), 3),
                round(float(rng.uniform(-20, -3)), 2), f"{word}/{voice_id(voice)}_nohash_{k}.flac",
            ))
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
    """Synthesise, trim, place and write one clip; False if it failed or the word is too long."""
    wav = tmp_dir / "word.wav"
    text, args = job.word, ["-s", str(job.rate), "-p", str(job.pitch), "-a", str(job.amplitude)]
    if job.form in ("!", "?"):
        text += job.form
    elif job.form == "emphasis":
        text, args = f'<speak><emphasis level="strong">{job.word}</emphasis></speak>', [*args, "-m"]
    if not _synth(job.voice, text, wav, tuple(args)):
        return False
    audio, rate = soundfile.read(str(wav), dtype="float32", always_2d=True)
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


def build_generated_set(
    out_dir: Path | str, words_per_label: dict[str, int] | None = None, seed: int = 0, jobs: int = 1,
    limit_voices: int | None = None,
) -> dict:
    """Build the set into `out_dir` (replacing an earlier generated set there); returns the marker dict.

    `words_per_label`: {word: clips} (default `default_words_per_label()`); `limit_voices`: use a
    seeded sample of that many voice specs. The marker says "building" until the set is complete.
    """
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not on PATH (apt-get install espeak-ng)")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / MARKER).is_file():
            raise FileExistsError(f"{out_dir} is not empty and holds no {MARKER}; refusing to overwrite it")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    words_per_label = dict(words_per_label or default_words_per_label())
    voices = list_voices()
    if limit_voices is not None and limit_voices < len(voices):
        pick = np.random.default_rng(seed).choice(len(voices), size=limit_voices, replace=False)
        voices = sorted(voices[i] for i in pick)
    todo = plan(words_per_label, voices, seed)
    marker = {
        "status": "building", "seed": seed, "espeak_ng": espeak_version(), "sample_rate": SAMPLE_RATE,
        "clip_seconds": CLIP_SECONDS, "max_word_seconds": MAX_WORD_SECONDS, "words_per_label": words_per_label,
        "voices": voices, "rate_wpm": [110, 220], "pitch": [20, 80], "amplitude": [80, 160],
        "lead_seconds": [0.1, 0.4], "peak_dbfs": [-20, -3], "forms": ["plain", "!", "?", "emphasis"],
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
    for job, done in zip(todo, ok):
        counts[job.word] += int(done)
    labels = dict.fromkeys((*KEYWORDS, UNKNOWN), 0)
    for word, n in counts.items():
        labels[word if word in KEYWORDS else UNKNOWN] += n
    marker.update(
        status="complete", planned=len(todo), written=sum(ok), skipped=len(todo) - sum(ok),
        counts_per_word=counts, counts_per_label=labels, seconds=round(time.monotonic() - started, 1),
    )
    (out_dir / MARKER).write_text(json.dumps(marker, indent=1))
    return marker


def read_generated(root: Path | str) -> Corpus:
    """A generated set: label = folder name if a keyword else `_unknown_`, group = voice id, all "train"."""
    root = Path(root)
    marker = json.loads((root / MARKER).read_text())
    if marker.get("status") != "complete":
        raise ValueError(f"{root}: generated set is incomplete ({MARKER} status {marker.get('status')!r}); rebuild it")
    corpus = Corpus()
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = folder.name if folder.name in (*KEYWORDS, GLASS) else UNKNOWN  # glass_break: audio_lstm.glass_synth
        for path in audio_files(folder):
            corpus.clips.append(Clip(path, label, path.stem.split("_nohash_", 1)[0], "train"))
    return corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audio_lstm.tts", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path, help="cache folder to (re)build, e.g. cache/tts")
    parser.add_argument("--voices", type=int, default=None, help="use a seeded sample of N voice specs")
    parser.add_argument("--quick", action="store_true", help="small set: 30 clips per keyword, 300 unknown")
    parser.add_argument("--keyword-clips", type=int, default=300)
    parser.add_argument("--unknown-clips", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args(argv)
    words = default_words_per_label(30, 300) if args.quick else default_words_per_label(args.keyword_clips, args.unknown_clips)
    marker = build_generated_set(args.out_dir, words, args.seed, args.jobs, args.voices)
    print(json.dumps({k: marker[k] for k in ("written", "skipped", "seconds", "counts_per_label")}, indent=1))
    print(f"{len(marker['voices'])} voice specs; {args.out_dir / MARKER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
