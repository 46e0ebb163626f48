"""The layout of generated sets (`audio-lstm tts`, `audio-lstm glass`) and its reader.

A generated set is `ROOT/<word or label>/<voice or generator>_nohash_<k>.flac` plus the marker
file `GENERATED.json`, which `open_corpus` detects as the "generated" layout. Its status says
"building" until the generator finished; only complete sets are read.
"""

from __future__ import annotations

import json
from pathlib import Path

from audio_lstm.data.readers import Clip, Corpus, audio_files
from audio_lstm.device.labels import GLASS, KEYWORDS, UNKNOWN

MARKER = "GENERATED.json"


def read_generated(root: Path | str) -> Corpus:
    """A generated set: label = the folder if a keyword or `glass_break`, else `_unknown_`; group = voice."""
    root = Path(root)
    marker = json.loads((root / MARKER).read_text())
    if marker.get("status") != "complete":
        raise ValueError(f"{root}: generated set is incomplete ({MARKER} status {marker.get('status')!r}); rebuild it")
    corpus = Corpus()
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = folder.name if folder.name in (*KEYWORDS, GLASS) else UNKNOWN
        for path in audio_files(folder):
            corpus.clips.append(Clip(path, label, path.stem.split("_nohash_", 1)[0], "train", generated=True))
    return corpus
