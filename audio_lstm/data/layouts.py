"""Pick the right corpus reader for a data folder."""

from __future__ import annotations

from pathlib import Path

from audio_lstm.data.esc50 import read_esc50
from audio_lstm.data.generated_sets import MARKER as GENERATED_MARKER
from audio_lstm.data.generated_sets import read_generated
from audio_lstm.data.readers import Corpus, read_label_folders, read_shared_data, read_speech_commands

LAYOUTS = ("auto", "shared", "speech-commands", "esc50", "folders", "generated")


def detect_layout(root: Path) -> str:
    """Guess a folder's layout from its marker files."""
    if (root / GENERATED_MARKER).is_file():
        return "generated"
    if (root / "meta" / "esc50.csv").is_file():
        return "esc50"
    if (root / "speech_commands").is_dir() and (root / "glass_break").is_dir():
        return "shared"
    if (root / "validation_list.txt").is_file() or (root / "_background_noise_").is_dir():
        return "speech-commands"
    return "folders"


def open_corpus(root: Path | str, layout: str = "auto") -> Corpus:
    """Read one data folder with the named (or detected) layout."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    layout = detect_layout(root) if layout == "auto" else layout
    reader = {
        "shared": read_shared_data,
        "speech-commands": read_speech_commands,
        "esc50": read_esc50,
        "folders": read_label_folders,
        "generated": read_generated,
    }[layout]
    corpus = reader(root)
    if not corpus.clips:
        raise ValueError(f"{root}: no labelled audio clips found (read as layout {layout!r})")
    return corpus


def open_corpora(roots: list[Path | str], layout: str = "auto") -> Corpus:
    """Read and merge several data folders."""
    if not roots:
        raise ValueError("no data folder given")
    corpus = open_corpus(roots[0], layout)
    for root in roots[1:]:
        corpus = corpus.merge(open_corpus(root, layout))
    return corpus
