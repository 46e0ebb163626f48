"""Readers of the folders added to the shared data on 2026-12-03 (see shared/README.md).

- `speech_commands_more/<word>/`: keyword folders keep their label, the other 25 words are
  `_unknown_`; split by the same salted speaker hash as `speech_commands/`, so a speaker who is in
  both folders lands in the same split.
- `glass_break_more/confident/<source>/`: glass breaks, split by source (the folder: one game's or
  sound library's recordings may share a session), never by file. `uncertain/` is left out;
  `hard_negatives/ceramic/` is `_silence_` (a non-event) for training only.
- `rir/measured/<database>/`: measured room impulse responses, split by room (the name up to its
  `-micstep`), so validation rooms are never heard in training. `rir/unverified/` is left out.
"""

from __future__ import annotations

import re
from pathlib import Path

from audio_lstm.data.readers import (
    SHARED_SALT,
    Clip,
    Corpus,
    _subfolders,
    audio_files,
    speaker_of,
    split_for_group,
)
from audio_lstm.device.labels import GLASS, KEYWORDS, SILENCE, UNKNOWN

GLASS_VALIDATION_PERCENT = 10  # of 7 sources: openclonk (2 files) is validation, beside glass_break/testing
ROOM_VALIDATION_PERCENT = 30


def room_of(path: Path) -> str:
    """The room of a measured RIR file name (`real.rir.room-z02-micstep-3-...` -> `room-z02`)."""
    name = path.name.removeprefix("real.rir.")
    return re.split(r"-micstep", name, maxsplit=1)[0]


def read_more_shared(root: Path, validation_percent: float) -> Corpus:
    """Clips of `speech_commands_more/` and `glass_break_more/` under `root` (empty when absent)."""
    corpus = Corpus()
    more = root / "speech_commands_more"
    if more.is_dir():
        for folder in _subfolders(more):
            label = folder.name if folder.name in KEYWORDS else UNKNOWN
            for path in audio_files(folder):
                speaker = speaker_of(path.stem)
                split = split_for_group(speaker, validation_percent, 0, SHARED_SALT)
                corpus.clips.append(Clip(path, label, speaker, split))
    confident = root / "glass_break_more" / "confident"
    if confident.is_dir():
        for folder in _subfolders(confident):
            source = f"glass_more/{folder.name}"
            split = split_for_group(source, GLASS_VALIDATION_PERCENT, 0, SHARED_SALT)
            corpus.clips += [Clip(path, GLASS, source, split) for path in audio_files(folder)]
    ceramic = root / "glass_break_more" / "hard_negatives"
    if ceramic.is_dir():
        corpus.clips += [Clip(path, SILENCE, "ceramic", "train") for path in audio_files(ceramic)]
    corpus.rir_files = measured_rirs(root, "train")
    return corpus


def measured_rirs(root: Path, split: str) -> list[Path]:
    """Measured RIR files of one split (`train` or `validation`), split by room."""
    folder = root / "rir" / "measured"
    if not folder.is_dir():
        return []
    files = audio_files(folder)
    return [p for p in files if split_for_group(room_of(p), ROOM_VALIDATION_PERCENT, 0, SHARED_SALT) == split]
