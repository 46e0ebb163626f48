"""ESC-50 reader: glass_breaking clips are `glass_break`, every other sound class `_silence_`."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from audio_lstm.data.readers import Clip, Corpus, check_root
from audio_lstm.device.labels import GLASS, SILENCE

ESC50_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")


def read_esc50(root: Path | str, validation_folds: Iterable[int] = (5,)) -> Corpus:
    """ESC-50: `meta/esc50.csv` + `audio/`. glass_breaking -> glass_break, all else -> _silence_.

    group = src_file (the source recording); folds in `validation_folds` are validation, the
    rest train.
    """
    root = check_root(root)
    meta = root / "meta" / "esc50.csv"
    if not meta.is_file():
        raise FileNotFoundError(f"{meta}: ESC-50 metadata file not found")
    folds = {int(f) for f in validation_folds}
    corpus = Corpus()
    missing: list[str] = []
    with meta.open(newline="") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in ("filename", "fold", "category", "src_file") if c not in (reader.fieldnames or [])]
        if absent:
            raise ValueError(f"{meta}: missing column(s) {', '.join(absent)}; expected {', '.join(ESC50_COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            path = root / "audio" / row["filename"]
            try:
                fold = int(row["fold"])
            except ValueError:
                raise ValueError(f"{meta}, line {line}: fold {row['fold']!r} is not a number") from None
            if not path.is_file():
                missing.append(row["filename"])
                continue
            label = GLASS if row["category"] == "glass_breaking" else SILENCE
            split = "validation" if fold in folds else "train"
            corpus.clips.append(Clip(path, label, row["src_file"], split))
    if missing:
        raise FileNotFoundError(
            f"{root / 'audio'}: {len(missing)} file(s) listed in {meta} are missing, e.g. {', '.join(missing[:3])}"
        )
    return corpus
