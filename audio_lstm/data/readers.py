"""Corpus readers: Speech Commands, plain label folders and the team's shared data folder (ESC-50: esc50.py).

Readers only list files (no audio is decoded). Every clip carries a group (speaker or source
recording) and its split is decided per group, never per clip, so no speaker or recording
appears in two splits.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from audio_lstm.device.audio_io import AUDIO_SUFFIXES
from audio_lstm.device.labels import GLASS, KEYWORDS, LABELS, SILENCE, UNKNOWN

SPLITS: tuple[str, ...] = ("train", "validation", "test")
# The shared folder's Speech Commands speakers are exactly those whose unsalted hash fell in the
# official test range, so re-splitting them with the unsalted hash would put about half of them
# into validation; a salt makes the shared split independent of that selection.
SHARED_SALT = "audio-lstm/shared:"
BACKGROUND_FOLDER = "_background_noise_"
NOISE_FOLDERS = frozenset({BACKGROUND_FOLDER, "noise", "background"})
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1  # the constant of the Speech Commands `which_set` hash
# unknown_words clips that are keywords after all (written by `audio-lstm audit-unknown`).
UNKNOWN_WORDS_EXCLUDED = "unknown_words_excluded.tsv"
# Single-speaker files whose name is not one spoken word (audio_numbers holds several numbers).
_MULTI_WORD_NAMES = frozenset({"numbers"})


@dataclass(frozen=True)
class Clip:
    """One labelled audio file."""

    path: Path
    label: str  # one of LABELS
    group: str  # speaker id or source recording id; splits are by group
    split: str  # "train" | "validation" | "test"
    generated: bool = False  # synthetic audio (a generated set), not a recording

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"{self.path}: label {self.label!r} is not one of {', '.join(LABELS)}")
        if self.split not in SPLITS:
            raise ValueError(f"{self.path}: split {self.split!r} is not one of {', '.join(SPLITS)}")


@dataclass
class Corpus:
    """Labelled clips plus background recordings (for mixing and silence)."""

    clips: list[Clip] = field(default_factory=list)
    noise_files: list[Path] = field(default_factory=list)
    rir_files: list[Path] = field(default_factory=list)  # measured room impulse responses (training rooms)
    negative_files: list[Path] = field(default_factory=list)  # long real non-keyword audio (training split)

    def subset(self, split: str) -> list[Clip]:
        """Clips of one split."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return [clip for clip in self.clips if clip.split == split]

    def merge(self, other: "Corpus") -> "Corpus":
        """A new corpus with the clips of both and their noise files (duplicates dropped)."""

        def union(a: list[Path], b: list[Path]) -> list[Path]:
            return list(dict.fromkeys([*a, *b]))

        return Corpus(
            [*self.clips, *other.clips],
            union(self.noise_files, other.noise_files),
            union(self.rir_files, other.rir_files),
            union(self.negative_files, other.negative_files),
        )

    def label_counts(self, split: str | None = None) -> dict[str, int]:
        """{label: clip count} for every label in LABELS order (zeros included), optionally one split."""
        clips = self.clips if split is None else self.subset(split)
        counts = dict.fromkeys(LABELS, 0)
        for clip in clips:
            counts[clip.label] += 1
        return counts

    def groups(self, split: str) -> set[str]:
        """The groups (speakers, recordings) present in one split."""
        return {clip.group for clip in self.subset(split)}


def split_for_group(group: str, validation_percent: float, testing_percent: float, salt: str = "") -> str:
    """Deterministic split of a group, as Speech Commands' `which_set` does for a speaker.

    sha1 of `salt + group` -> a percentage in [0, 100); below `validation_percent` is
    "validation", below `validation_percent + testing_percent` is "test", the rest "train".
    With the default empty salt this is exactly `which_set`'s hash.
    """
    if validation_percent < 0 or testing_percent < 0 or validation_percent + testing_percent > 100:
        raise ValueError(f"bad split percentages: validation {validation_percent}, testing {testing_percent}")
    digest = int(hashlib.sha1((salt + group).encode("utf-8")).hexdigest(), 16)
    percentage = (digest % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percentage < validation_percent:
        return "validation"
    if percentage < validation_percent + testing_percent:
        return "test"
    return "train"


def speaker_of(stem: str) -> str:
    """Speaker id of a Speech Commands-style name: the part before `_nohash_`, else the stem.

    A word prefix (`backward_0c540988_nohash_0`, as in re-packed `_unknown_` folders) is dropped,
    so one speaker gets one id whichever folder the clip is in.
    """
    if "_nohash_" not in stem:
        return stem
    return stem.split("_nohash_", 1)[0].rsplit("_", 1)[-1]


def audio_files(folder: Path, recursive: bool = True) -> list[Path]:
    """Audio files under `folder` (sorted; hidden entries skipped), by listing only."""
    found: list[Path] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    if recursive:
                        stack.append(Path(entry.path))
                elif os.path.splitext(entry.name)[1].lower() in AUDIO_SUFFIXES:
                    found.append(Path(entry.path))
    return sorted(found)


def _subfolders(root: Path) -> list[Path]:
    with os.scandir(root) as entries:
        return sorted(Path(e.path) for e in entries if e.is_dir() and not e.name.startswith("."))


def check_root(root: Path | str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    return root


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {line.strip().replace("\\", "/") for line in path.read_text().splitlines() if line.strip()}


def read_exclusions(text: str) -> frozenset[str]:
    """File names listed by an audit (first tab-separated column; `#` lines are comments)."""
    names = (line.split("\t", 1)[0].strip() for line in text.splitlines() if not line.startswith("#"))
    return frozenset(name for name in names if name)


def unknown_words_excluded() -> frozenset[str]:
    """The packaged list of `unknown_words` file names that are not unknown speech."""
    return read_exclusions((resources.files("audio_lstm.data") / UNKNOWN_WORDS_EXCLUDED).read_text())


def read_speech_commands(root: Path | str, validation_percent: float = 10, testing_percent: float = 10) -> Corpus:
    """Speech Commands layout: a folder per word, `_background_noise_/`, optional `_silence_/`.

    The ten KEYWORDS (and any other LABELS folder name) keep their label; every other word is
    `_unknown_`. If `validation_list.txt` / `testing_list.txt` exist they decide the split of
    listed files and unlisted word clips are train; otherwise (and for unlisted `_silence_`
    clips) the speaker hash decides.
    """
    root = check_root(root)
    validation = _read_list(root / "validation_list.txt")
    testing = _read_list(root / "testing_list.txt")
    use_lists = (root / "validation_list.txt").is_file() or (root / "testing_list.txt").is_file()
    corpus = Corpus()
    for folder in _subfolders(root):
        files = audio_files(folder)
        if folder.name == BACKGROUND_FOLDER:
            corpus.noise_files.extend(files)
            continue
        label = folder.name if folder.name in LABELS else UNKNOWN
        for path in files:
            group = speaker_of(path.stem)
            relative = path.relative_to(root).as_posix()
            if relative in validation:
                split = "validation"
            elif relative in testing:
                split = "test"
            elif use_lists and label != SILENCE:
                split = "train"
            else:
                split = split_for_group(group, validation_percent, testing_percent)
            corpus.clips.append(Clip(path, label, group, split))
    return corpus


def read_label_folders(root: Path | str, validation_percent: float = 10, testing_percent: float = 10) -> Corpus:
    """A plain folder-per-label tree (files searched recursively inside each folder).

    Folder names in LABELS keep them; `_background_noise_`, `noise` and `background` folders
    are noise files; other folder names are `_unknown_`. group = speaker before `_nohash_`
    if present, else the file stem; splits by group hash.
    """
    root = check_root(root)
    corpus = Corpus()
    for folder in _subfolders(root):
        files = audio_files(folder)
        if folder.name in NOISE_FOLDERS:
            corpus.noise_files.extend(files)
            continue
        label = folder.name if folder.name in LABELS else UNKNOWN
        for path in files:
            group = speaker_of(path.stem)
            corpus.clips.append(Clip(path, label, group, split_for_group(group, validation_percent, testing_percent)))
    return corpus


def ambience_group(stem: str) -> str:
    """Source recording of an ambience window: the name up to its first `.wav`."""
    return stem.split(".wav", 1)[0]


def single_speaker_word(stem: str) -> str | None:
    """The word a single-speaker file name says (`yes`, `audio_four` -> `four`), or None."""
    word = stem.removeprefix("audio_").lower()
    if not word.isalpha() or word in _MULTI_WORD_NAMES:
        return None
    return word


def read_shared_data(
    root: Path | str, validation_percent: float = 15, excluded: frozenset[str] | None = None
) -> Corpus:
    """The team's shared data folder (see shared/README.md); lists files only.

    Speech Commands speakers (and `unknown_words` speakers) are split by a salted speaker hash
    (see SHARED_SALT) into train/validation (no test). `unknown_words` is train-only, less the clips
    in `excluded` (default: the packaged audit, UNKNOWN_WORDS_EXCLUDED): about three in ten of its
    clips are keywords, so validation keeps only unknown words whose word the file name says.
    Single-speaker clips are all train. Ambience windows are `_silence_` clips split by source
    recording; only the train recordings also join the noise files, so validation silence is never
    heard in training. Glass: training -> train, testing -> validation, non_event -> `_silence_` train.
    The folders added later (`speech_commands_more/`, `glass_break_more/`): `audio_lstm.data.shared_more`.
    """
    root = check_root(root)
    known = ("speech_commands", "speech_commands_more", "unknown_words", "single_speaker", "noise", "glass_break")
    if not any((root / name).is_dir() for name in known):
        raise ValueError(f"{root}: not a shared data folder (none of {', '.join(known)} found)")
    corpus = Corpus()

    def add(path: Path, label: str, group: str, split: str | None = None) -> None:
        split = split or split_for_group(group, validation_percent, 0, SHARED_SALT)
        corpus.clips.append(Clip(path, label, group, split))

    def existing(*parts: str) -> list[Path]:
        folder = root.joinpath(*parts)
        return [folder] if folder.is_dir() else []

    for base in existing("speech_commands"):
        for folder in _subfolders(base):
            label = folder.name if folder.name in LABELS else UNKNOWN
            for path in audio_files(folder):
                add(path, label, speaker_of(path.stem))
    excluded = unknown_words_excluded() if excluded is None else excluded
    for folder in existing("unknown_words"):
        for path in audio_files(folder):
            speaker = path.stem.split("_", 1)[0]
            if path.name not in excluded and split_for_group(speaker, validation_percent, 0, SHARED_SALT) == "train":
                add(path, UNKNOWN, speaker, "train")
    for base in existing("single_speaker"):
        for folder in _subfolders(base):
            folder_word = None if folder.name in ("one_clip_per_word", "test_data") else folder.name.lower()
            for path in audio_files(folder):
                word = folder_word or single_speaker_word(path.stem)
                if word is not None:
                    add(path, word if word in KEYWORDS else UNKNOWN, "single_speaker", "train")
    for folder in existing("noise", "background"):
        corpus.noise_files.extend(audio_files(folder))
    for folder in existing("noise", "ambience_1s"):
        for path in audio_files(folder):
            group = ambience_group(path.stem)
            split = split_for_group(group, validation_percent, 0, SHARED_SALT)
            add(path, SILENCE, group, split)
            if split == "train":
                corpus.noise_files.append(path)
    for folder in existing("glass_break", "training"):
        for path in audio_files(folder):
            add(path, GLASS, "glass_training", "train")
    for folder in existing("glass_break", "testing"):
        for path in audio_files(folder):
            add(path, GLASS, "glass_testing", "validation")
    for folder in existing("glass_break", "non_event"):
        for path in audio_files(folder):
            add(path, SILENCE, "glass_non_event", "train")
    from audio_lstm.data.shared_more import read_more_shared  # built on this module's helpers

    return corpus.merge(read_more_shared(root, validation_percent))
