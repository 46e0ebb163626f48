"""`audio-lstm data speech` end to end on a word-list .deb built here (no network), and its keyword filter."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import soundfile
from test_negatives_cache import build_deb

import audio_lstm.commands.data as data_command
from audio_lstm.data.negatives_cache import read_manifest, read_negatives, write_manifest
from audio_lstm.evaluation.negatives import category_of
from audio_lstm.synth import spoken_negatives as spoken

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("dpkg-deb") is None, reason="needs espeak-ng and dpkg-deb"
)

SOUND_ALIKES = ["know", "Stop", "yes", "write"]  # a keyword, or said as one
PLAIN = [
    "window",
    "garden",
    "paper",
    "river",
    "basket",
    "candle",
    "mirror",
    "pepper",
    "ladder",
    "silver",
    "bottle",
    "marble",
    "tunnel",
]
PLAIN += [
    "forest",
    "pillow",
    "carpet",
    "button",
    "hammer",
    "jacket",
    "kettle",
    "lemon",
    "meadow",
    "needle",
    "orange",
    "pencil",
    "rabbit",
]


def build_wordlist_deb(work: Path) -> Path:
    """A wamerican-like package: /usr/share/dict/american-english and a copyright file."""
    debs, root = work / "debs", work / "wamerican"
    debs.mkdir()
    (root / "usr/share/dict").mkdir(parents=True)
    words = "\n".join(PLAIN + SOUND_ALIKES + ["it's", "x", "R2D2"]) + "\n"
    (root / "usr/share/dict/american-english").write_text(words, encoding="utf-8")
    (root / "usr/share/dict/README.select-wordlist").write_text("a longer file that is not a list " * 200)
    doc = root / "usr/share/doc/wamerican"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Files: *\nLicense: public-domain\n", encoding="utf-8")
    build_deb(root, "wamerican", debs)
    return debs


def test_sounds_like_keyword_by_phonemes() -> None:
    keys = spoken.keyword_keys()
    assert len(keys) == 10 and spoken.phoneme_key("nˈoʊ") == "no"
    said = {word: spoken.phoneme_key(spoken.phonemes_one("en-us", word)) for word in ("know", "write", "nose", "going")}
    assert spoken.sounds_like_keyword(said["know"], keys) and spoken.sounds_like_keyword(said["write"], keys)
    assert not spoken.sounds_like_keyword(said["nose"], keys) and not spoken.sounds_like_keyword(said["going"], keys)
    assert spoken.sounds_like_keyword(spoken.phoneme_key(spoken.phonemes_one("es", "no")), keys)  # Spanish "no"
    assert spoken.one_edit_apart("stap", "stapt") and spoken.one_edit_apart("rayt", "rayd")
    assert not spoken.one_edit_apart("on", "onto") and not spoken.one_edit_apart("left", "lift!")


def test_speech_from_a_wordlist_deb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    debs, cache = build_wordlist_deb(tmp_path), tmp_path / "cache"
    (cache / "audio/other").mkdir(parents=True)
    (cache / "audio/other/a.flac").write_bytes(b"kept as it is")
    other = {
        "path": "audio/other/a.flac",
        "package": "other",
        "source_file": "a",
        "kind": "music",
        "group": "other/music/a",
    }
    write_manifest(cache, [{**other, "duration_s": "60.000", "contains_keyword": ""}])
    argv = ["speech", "--from-debs", str(debs), "--cache", str(cache), "--voices", "en-us", "de", "--no-progress"]
    assert data_command.main(argv) == 0
    assert "4 rendered, 0 kept, 0 failed" in capsys.readouterr().out

    rows = {row["source_file"]: row for row in read_manifest(cache) if row["package"] == "generated-espeak-ng"}
    assert set(rows) == {"en-us/words", "en-us/sentences", "de/words", "de/sentences"}
    assert any(row["package"] == "other" for row in read_manifest(cache))  # other packages' rows stay
    for name, row in rows.items():
        assert (row["kind"], row["language"]) == ("generated", name.split("/")[0].split("-")[0])
        assert row["group"] == f"generated-espeak-ng/generated/{row['language']}" and row["split"]
        assert row["licence"].endswith("words: wamerican 0.1-test (public-domain)")  # de reads the English list
        spoken_words = {word.strip(".?!").lower() for word in row["transcript"].split()}
        assert spoken_words and spoken_words <= set(PLAIN) | {"know", "write"}  # never a keyword, nor "it's"
        if name.startswith("en-us"):  # in American English, "know" and "write" sound like "no" and "right"
            assert spoken_words <= set(PLAIN)
        info = soundfile.info(cache / row["path"])
        assert (info.samplerate, info.channels) == (16000, 1) and info.duration > 5
        assert float(row["duration_s"]) == pytest.approx(info.duration, abs=0.01)
    assert {rows["de/words"]["split"], rows["en-us/words"]["split"]} <= {"train", "validation"}
    generated = [r for r in read_negatives(cache) if r.package == "generated-espeak-ng"]
    assert len(generated) == 4 and {category_of(r) for r in generated} == {"generated speech"}

    mtimes = [(cache / row["path"]).stat().st_mtime_ns for row in rows.values()]
    assert data_command.main(argv) == 0
    assert "0 rendered, 4 kept" in capsys.readouterr().out
    assert [(cache / row["path"]).stat().st_mtime_ns for row in rows.values()] == mtimes


def test_speech_refuses_an_unknown_voice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["speech", "--from-debs", str(tmp_path), "--cache", str(tmp_path / "c"), "--voices", "xx-nowhere"]
    assert data_command.main(argv) == 2
    assert "espeak-ng has no voice xx-nowhere" in capsys.readouterr().err
