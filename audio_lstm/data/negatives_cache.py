"""The cache of real negative audio taken from Debian's packages: where it lives, its manifest, its reader.

`audio-lstm data negatives` (audio_lstm.commands.data) fills the cache; training and evaluation find it
through `default_negatives_dir()` and read it with `read_negatives()`.

Layout of the cache folder::

    manifest.tsv      one row per converted file (columns: MANIFEST_COLUMNS), tab-separated, UTF-8
    packages.json     per package: the version converted completely, and counts of files
    debs/             the downloaded .deb files
    audio/PACKAGE/... the converted files: 16 kHz mono FLAC, named after their source path + ".flac"

Split rule (recomputed over the whole manifest each time it is written, see `assign_splits`):

* Files are split by group, never one by one. A group is named ``PACKAGE/KIND/WHO``: for speech, WHO is
  the speaker (one voice: an Asterisk language's prompts, a ktuberling language, a hedgewars voice pack);
  for music, the file (one track, one recording); for ambience, impact and effects, the file's first two
  folders below the audio root of its package (or archive), e.g. ``0ad-data/impact/attack/impact``:
  files in one folder are usually variants of one recording.
* Per kind, groups are taken in the order of sha1(SPLIT_SALT + group name) and go to validation while the
  kind's validation hours are below VALIDATION_SHARE (0.45) of its hours; the rest, and always the last
  group of a kind with two or more, go to training. So validation holds about 45 % of every kind's hours
  (at least 5 h of the 11.8 h), from speakers, languages, voices and recordings training never hears.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
KINDS = ("speech", "music", "ambience", "impact", "effects", "generated")  # generated: espeak-ng speech
SPLITS = ("train", "validation")
MANIFEST_NAME = "manifest.tsv"
MANIFEST_COLUMNS = (
    "path",
    "package",
    "version",
    "source_file",
    "licence",
    "kind",
    "language",
    "speaker",
    "group",
    "duration_s",
    "transcript",
    "contains_keyword",
    "split",
)
SPLIT_SALT = "audio-lstm negatives v1:"
VALIDATION_SHARE = 0.45

ManifestRow = dict[str, str]

_KEYWORD_PATTERN = re.compile(r"\b(?:" + "|".join(KEYWORDS) + r")\b", re.IGNORECASE)


def default_negatives_dir() -> Path:
    """Where the negatives cache lives when no folder is given.

    ``$AUDIO_LSTM_CACHE/negatives`` if AUDIO_LSTM_CACHE is set, else ``$XDG_CACHE_HOME/audio-lstm/negatives``,
    else ``~/.cache/audio-lstm/negatives``.
    """
    if os.environ.get("AUDIO_LSTM_CACHE"):
        return Path(os.environ["AUDIO_LSTM_CACHE"]).expanduser() / "negatives"
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home).expanduser() / "audio-lstm" / "negatives"


def keyword_flag(transcript: str) -> str:
    """'1' if the transcript holds a keyword as a whole word (any case), '0' if not, '' without a transcript."""
    if not transcript.strip():
        return ""
    return "1" if _KEYWORD_PATTERN.search(transcript) else "0"


# -- manifest -------------------------------------------------------------------------------------


def _clean(value: object) -> str:
    """A manifest cell: tabs and line breaks become spaces."""
    return re.sub(r"[\t\r\n]+", " ", str(value)).strip()


def read_manifest(cache: Path) -> list[ManifestRow]:
    """The manifest's rows (empty when there is none). Raises ValueError for a manifest with other columns."""
    path = cache / MANIFEST_NAME
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        return []
    header = tuple(lines[0].split("\t"))
    if header != MANIFEST_COLUMNS:
        raise ValueError(f"{path}: unexpected columns {header}; delete it to rebuild the cache")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line]


def write_manifest(cache: Path, rows: Iterable[ManifestRow]) -> list[ManifestRow]:
    """Assign splits, then write the manifest atomically (temporary file + os.replace); returns the rows."""
    rows = assign_splits(sorted(rows, key=lambda row: (row["package"], row["source_file"])))
    temporary = cache / (MANIFEST_NAME + ".tmp")
    with temporary.open("w", encoding="utf-8", newline="\n") as out:
        out.write("\t".join(MANIFEST_COLUMNS) + "\n")
        for row in rows:
            out.write("\t".join(_clean(row.get(column, "")) for column in MANIFEST_COLUMNS) + "\n")
    os.replace(temporary, cache / MANIFEST_NAME)
    return rows


# -- split ----------------------------------------------------------------------------------------


def group_fraction(group: str) -> float:
    """The group's salted sha1 as a fraction in [0, 1)."""
    return int(hashlib.sha1((SPLIT_SALT + group).encode("utf-8")).hexdigest()[:8], 16) / 2**32


def split_groups(hours_by_kind: dict[str, dict[str, float]]) -> dict[str, str]:
    """Split of each group (see the module docstring), from the hours of every group of every kind."""
    split: dict[str, str] = {}
    for groups in hours_by_kind.values():
        ordered = sorted(groups, key=lambda group: (group_fraction(group), group))
        total, taken = sum(groups.values()), 0.0
        for position, group in enumerate(ordered):
            last = position == len(ordered) - 1 and len(ordered) >= 2
            if taken < VALIDATION_SHARE * total and not last:
                split[group] = "validation"
                taken += groups[group]
            else:
                split[group] = "train"
    return split


def assign_splits(rows: list[ManifestRow]) -> list[ManifestRow]:
    """Set every row's 'split' from its group (see the module docstring); returns the same rows."""
    hours_by_kind: dict[str, dict[str, float]] = {}
    for row in rows:
        groups = hours_by_kind.setdefault(row["kind"], {})
        groups[row["group"]] = groups.get(row["group"], 0.0) + float(row["duration_s"] or 0) / 3600
    split = split_groups(hours_by_kind)
    for row in rows:
        row["split"] = split[row["group"]]
    return rows


# -- reader ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NegativeRecording:
    """One converted file of the cache (16 kHz mono FLAC) and what is known about it."""

    path: Path
    package: str
    kind: str
    language: str
    speaker: str
    group: str
    split: str
    duration_s: float
    licence: str
    transcript: str
    contains_keyword: str  # '0', or '' when there is no transcript ('1' rows are never returned)


def read_negatives(cache: Path | None = None) -> list[NegativeRecording]:
    """The cache's recordings, without those whose transcript holds a keyword; [] when there is no cache."""
    cache = default_negatives_dir() if cache is None else Path(cache)
    return [
        NegativeRecording(
            path=cache / row["path"],
            package=row["package"],
            kind=row["kind"],
            language=row["language"],
            speaker=row["speaker"],
            group=row["group"],
            split=row["split"],
            duration_s=float(row["duration_s"]),
            licence=row["licence"],
            transcript=row["transcript"],
            contains_keyword=row["contains_keyword"],
        )
        for row in read_manifest(cache)
        if row["contains_keyword"] != "1"
    ]


def training_recordings(
    recordings: Iterable[NegativeRecording], generated_hours: float | None = None, seed: int = 0
) -> list[NegativeRecording]:
    """The training split, with generated speech capped at `generated_hours` (None: no cap): whole
    recordings (one voice's words or sentences) in a seeded order until the cap. Generated voices teach the model
    to ignore synthetic speech but cost it on real speech and music as their share of the
    backgrounds grows (docs/journal.md, r41–r44), so the recipe keeps them to about 15 %."""
    train = [recording for recording in recordings if recording.split == "train"]
    if generated_hours is None:
        return train
    if generated_hours < 0:
        raise ValueError(f"generated_hours must be >= 0, got {generated_hours}")
    generated = sorted((r for r in train if r.kind == "generated"), key=lambda r: str(r.path))
    order = np.random.default_rng(seed).permutation(len(generated))
    kept, budget = set(), generated_hours * 3600.0
    for index in order:
        if generated[index].duration_s <= budget:
            kept.add(generated[index].path)
            budget -= generated[index].duration_s
    return [recording for recording in train if recording.kind != "generated" or recording.path in kept]


def summarize(recordings: Iterable[NegativeRecording]) -> dict[str, dict[str, float]]:
    """Hours of audio per kind and split: ``{kind: {"train": hours, "validation": hours}}``."""
    hours: dict[str, dict[str, float]] = {}
    for recording in recordings:
        per_split = hours.setdefault(recording.kind, {split: 0.0 for split in SPLITS})
        per_split[recording.split] = per_split.get(recording.split, 0.0) + recording.duration_s / 3600
    return hours
