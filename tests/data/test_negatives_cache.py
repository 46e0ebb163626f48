"""`audio-lstm data negatives` end to end on two tiny .deb packages built here (no network)."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

import audio_lstm.commands.data as data_command
from audio_lstm.data.negatives_cache import (
    MANIFEST_COLUMNS,
    NegativeRecording,
    default_negatives_dir,
    read_manifest,
    read_negatives,
    split_groups,
    summarize,
    training_recordings,
)

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

VOICE = "usr/share/asterisk/sounds/en_US_f_Test"
WELCOME_SECONDS, HOLD_SECONDS = 0.5, 0.75


def build_deb(root: Path, package: str, out_dir: Path) -> Path:
    """A .deb of the files under root, with a minimal control file."""
    control = root / "DEBIAN"
    control.mkdir(mode=0o755, parents=True)
    control.chmod(0o755)
    (control / "control").write_text(
        f"Package: {package}\nVersion: 0.1-test\nArchitecture: all\nMaintainer: Test <test@example.org>\n"
        f"Description: test package\n",
        encoding="utf-8",
    )
    deb = out_dir / f"{package}_0.1-test_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", str(root), str(deb)], check=True, capture_output=True
    )
    return deb


def build_test_debs(work: Path) -> Path:
    """An Asterisk-like speech package (8 kHz WAV + a zip holding an OGG) and its transcript companion."""
    debs = work / "debs"
    debs.mkdir()
    speech = work / "speech"
    voice = speech / VOICE
    voice.mkdir(parents=True)
    t = np.arange(int(8000 * WELCOME_SECONDS)) / 8000
    soundfile.write(voice / "welcome.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    noise = np.random.default_rng(0).uniform(-0.2, 0.2, (int(44100 * HOLD_SECONDS), 2)).astype(np.float32)
    ogg = io.BytesIO()
    soundfile.write(ogg, noise, 44100, format="OGG", subtype="VORBIS")
    with zipfile.ZipFile(voice / "extra.zip", "w") as archive:
        archive.writestr("digits/hold.ogg", ogg.getvalue())
        archive.writestr("readme.txt", "not audio")
    doc = speech / "usr/share/doc/asterisk-core-sounds-en-wav"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Files: *\nCopyright: 2026 Test\n Comment: License: not-this-one\n"
        "License: CC-BY-SA-3.0\n\nFiles: debian/*\nLicense: GPL-2+\n",
        encoding="utf-8",
    )
    build_deb(speech, "asterisk-core-sounds-en-wav", debs)
    transcripts = work / "transcripts"
    doc = transcripts / "usr/share/doc/asterisk-core-sounds-en"
    doc.mkdir(parents=True)
    text = "; Core Asterisk Sounds in English\n\nwelcome: Welcome to the test line.\ndigits/hold: Please hold on.\n"
    (doc / "core-sounds-en.txt.gz").write_bytes(gzip.compress(text.encode("utf-8")))
    build_deb(transcripts, "asterisk-core-sounds-en", debs)
    return debs


def test_negatives_from_debs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    debs, cache = build_test_debs(tmp_path), tmp_path / "cache"
    argv = ["negatives", "--from-debs", str(debs), "--cache", str(cache), "--no-progress"]
    assert data_command.main(argv) == 0
    assert "2 converted" in capsys.readouterr().out

    rows = {Path(row["source_file"]).name: row for row in read_manifest(cache)}
    assert set(rows) == {"welcome.wav", "hold.ogg"}
    assert (cache / "manifest.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t") == list(MANIFEST_COLUMNS)
    welcome, hold = rows["welcome.wav"], rows["hold.ogg"]
    assert welcome["source_file"] == f"{VOICE}/welcome.wav"
    assert hold["source_file"] == f"{VOICE}/extra.zip/digits/hold.ogg"
    for row, seconds in ((welcome, WELCOME_SECONDS), (hold, HOLD_SECONDS)):
        assert (row["package"], row["version"]) == ("asterisk-core-sounds-en-wav", "0.1-test")
        assert row["licence"] == "CC-BY-SA-3.0"  # the first License: field at the start of a line
        assert (row["kind"], row["language"], row["speaker"]) == ("speech", "en", "en-prompts")
        info = soundfile.info(cache / row["path"])
        assert (info.samplerate, info.channels, info.format) == (16000, 1, "FLAC")
        assert info.duration == pytest.approx(seconds, abs=0.002)
        assert float(row["duration_s"]) == pytest.approx(seconds, abs=0.002)
    assert (welcome["transcript"], welcome["contains_keyword"]) == ("Welcome to the test line.", "0")
    assert (hold["transcript"], hold["contains_keyword"]) == ("Please hold on.", "1")

    recordings = read_negatives(cache)
    assert [recording.path for recording in recordings] == [cache / welcome["path"]]
    assert recordings[0].path.is_absolute() and recordings[0].group == "asterisk-core-sounds-en-wav/speech/en-prompts"
    expected_split = split_groups({"speech": {recordings[0].group: 1.0}})[recordings[0].group]
    assert {row["split"] for row in rows.values()} == {expected_split}  # one group, one split
    hours = summarize(recordings)
    assert list(hours) == ["speech"] and sum(hours["speech"].values()) == hours["speech"][expected_split]
    assert hours["speech"][expected_split] == pytest.approx(WELCOME_SECONDS / 3600, rel=0.01)

    files = [cache / "manifest.tsv"] + [cache / row["path"] for row in rows.values()]
    mtimes = [path.stat().st_mtime_ns for path in files]
    assert data_command.main(argv) == 0
    assert "nothing left to do" in capsys.readouterr().out
    assert [path.stat().st_mtime_ns for path in files] == mtimes

    (cache / "packages.json").unlink()  # the package is looked at again, its converted files are kept
    assert data_command.main(argv) == 0
    assert "0 converted, 2 kept" in capsys.readouterr().out
    assert [path.stat().st_mtime_ns for path in files[1:]] == mtimes[1:]
    by_path = sorted(rows.values(), key=lambda row: row["path"])
    assert sorted(read_manifest(cache), key=lambda row: row["path"]) == by_path


def test_missing_from_debs_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-such-debs"
    assert data_command.main(["negatives", "--from-debs", str(missing), "--cache", str(tmp_path / "c")]) == 2
    error = capsys.readouterr().err
    assert str(missing) in error and len(error.strip().splitlines()) == 1


def test_split_takes_about_the_validation_share_of_each_kind_by_hours() -> None:
    music = {f"pkg/music/track{i}": 0.1 * (1 + i % 3) for i in range(40)}
    groups = {"music": music, "impact": {"a/impact/x": 1.0}, "speech": {"en": 2.0, "fr": 0.5}}
    split = split_groups(groups)
    validation = sum(hours for group, hours in music.items() if split[group] == "validation")
    assert 0.45 * sum(music.values()) <= validation <= 0.45 * sum(music.values()) + 0.3  # at most one group over
    assert split["a/impact/x"] == "validation"  # a lone group: nothing to keep apart
    assert {split["en"], split["fr"]} == {"train", "validation"}  # two groups: one of each
    assert split == split_groups(groups)  # deterministic
    assert len(split) == 43


def test_default_dir_and_missing_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDIO_LSTM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_negatives_dir() == tmp_path / "xdg" / "audio-lstm" / "negatives"
    monkeypatch.setenv("AUDIO_LSTM_CACHE", str(tmp_path / "mine"))
    assert default_negatives_dir() == tmp_path / "mine" / "negatives"
    assert read_negatives() == []


def test_training_keeps_generated_speech_to_its_cap_in_whole_voices() -> None:
    def row(name: str, kind: str, split: str, seconds: float) -> NegativeRecording:
        return NegativeRecording(Path(name), "p", kind, "", "", "g", split, seconds, "", "", "")

    voices = [row(f"voice{i}.flac", "generated", "train", 600.0) for i in range(10)]  # 10 x 10 min
    real = [row("music.flac", "music", "train", 900.0), row("held.flac", "speech", "validation", 60.0)]
    held_voice = row("held_voice.flac", "generated", "validation", 60.0)
    kept = training_recordings([*voices, *real, held_voice], generated_hours=0.5, seed=3)
    generated = [r for r in kept if r.kind == "generated"]
    assert len(generated) == 3 and {r.split for r in kept} == {"train"}  # 30 of 100 min; no validation
    assert real[0] in kept
    assert generated == [r for r in training_recordings([*voices, *real], 0.5, seed=3) if r.kind == "generated"]
    assert generated != [r for r in training_recordings([*voices, *real], 0.5, seed=4) if r.kind == "generated"]
    assert [r.kind for r in training_recordings([*voices, *real], 0.0)] == ["music"]
    assert len(training_recordings(voices, 100.0)) == 10
    with pytest.raises(ValueError, match="generated_hours"):
        training_recordings(voices, -1.0)
