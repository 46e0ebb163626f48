"""Synthetic speech set (espeak-ng): format, marker, layout detection, labels and determinism."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_lstm import tts
from audio_lstm.labels import UNKNOWN
from audio_lstm.sources import detect_layout, open_corpus

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not on PATH")
WORDS = {"yes": 3, "yet": 3}


def test_generated_set_format_layout_and_labels(tmp_path: Path) -> None:
    out = tmp_path / "tts"
    marker = tts.build_generated_set(out, WORDS, seed=3, limit_voices=2)
    assert marker["status"] == "complete" and len(marker["voices"]) == 2
    saved = json.loads((out / tts.MARKER).read_text())
    assert saved["counts_per_word"] == marker["counts_per_word"] and saved["espeak_ng"]
    files = sorted(out.glob("*/*.flac"))
    assert len(files) == marker["written"] >= 5
    for path in files:
        audio, rate = soundfile.read(str(path), dtype="float32")
        assert rate == tts.SAMPLE_RATE and audio.ndim == 1 and len(audio) == tts.SAMPLE_RATE
        peak_db = 20 * np.log10(np.abs(audio).max())
        assert -20.5 <= peak_db <= -2.5
        assert "_nohash_" in path.stem and path.stem.split("_nohash_")[0] in {tts.voice_id(v) for v in marker["voices"]}
    assert detect_layout(out) == "generated"
    corpus = open_corpus(out)
    assert {c.split for c in corpus.clips} == {"train"}
    assert {c.label for c in corpus.clips if c.path.parent.name == "yes"} == {"yes"}
    assert {c.label for c in corpus.clips if c.path.parent.name == "yet"} == {UNKNOWN}
    assert {c.group for c in corpus.clips} <= {tts.voice_id(v) for v in marker["voices"]}
    # rebuilding with the same seed gives the same files and audio
    first = soundfile.read(str(files[0]), dtype="float32")[0]
    again = tts.build_generated_set(out, WORDS, seed=3, limit_voices=2)
    assert again["voices"] == marker["voices"] and sorted(out.glob("*/*.flac")) == files
    assert np.array_equal(soundfile.read(str(files[0]), dtype="float32")[0], first)


def test_plan_is_deterministic() -> None:
    voices = ["en-gb", "en-us", "en-us+f3"]
    words = tts.default_words_per_label(5, 40)
    assert tts.plan(words, voices, seed=1) == tts.plan(words, voices, seed=1)
    assert tts.plan(words, voices, seed=1) != tts.plan(words, voices, seed=2)
    names = [job.name for job in tts.plan(words, voices, seed=1)]
    assert len(set(names)) == len(names)


def test_vocabulary_has_near_misses_and_no_keywords() -> None:
    words = tts.unknown_words()
    assert {"yet", "know", "top", "dawn", "often", "goal", "light", "write", "marvin", "visual"} <= set(words)
    assert not set(words) & set(tts.KEYWORDS) and len(words) >= 150


def test_incomplete_set_is_refused(tmp_path: Path) -> None:
    (tmp_path / "yes").mkdir()
    (tmp_path / tts.MARKER).write_text(json.dumps({"status": "building"}))
    with pytest.raises(ValueError, match="incomplete"):
        open_corpus(tmp_path)
