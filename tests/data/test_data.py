"""Corpus readers on tiny generated trees: label mapping, group splits, noise files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_lstm.data.esc50 import read_esc50
from audio_lstm.data.readers import (
    SHARED_SALT,
    Clip,
    Corpus,
    read_exclusions,
    read_label_folders,
    read_shared_data,
    read_speech_commands,
    speaker_of,
    split_for_group,
    unknown_words_excluded,
)
from audio_lstm.device.labels import GLASS, LABELS, SILENCE, UNKNOWN


def write_audio(path: Path, seconds: float = 0.2, rate: int = 16000, channels: int = 1) -> Path:
    """A short tone (FLAC or WAV by suffix) at any rate / channel count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.2 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    soundfile.write(str(path), np.stack([tone] * channels, axis=1) if channels > 1 else tone, rate)
    return path


def speakers_in_one_split(corpus: Corpus) -> bool:
    splits: dict[str, set[str]] = {}
    for clip in corpus.clips:
        splits.setdefault(clip.group, set()).add(clip.split)
    return all(len(s) == 1 for s in splits.values())


def test_split_for_group_is_deterministic_hash_with_expected_fractions() -> None:
    groups = [f"{i:08x}" for i in range(3000)]
    splits = [split_for_group(g, 10, 10) for g in groups]
    assert splits == [split_for_group(g, 10, 10) for g in groups]
    counts = Counter(splits)
    assert abs(counts["validation"] / 3000 - 0.10) < 0.025
    assert abs(counts["test"] / 3000 - 0.10) < 0.025
    assert set(split_for_group(g, 15, 0) for g in groups) == {"train", "validation"}
    assert split_for_group("anyone", 0, 0) == "train" and split_for_group("anyone", 100, 0) == "validation"
    # A salt gives an independent split.
    salted = [split_for_group(g, 50, 0, SHARED_SALT) for g in groups]
    plain = [split_for_group(g, 50, 0) for g in groups]
    assert 0.3 < np.mean([a != b for a, b in zip(salted, plain)]) < 0.7
    with pytest.raises(ValueError, match="split percentages"):
        split_for_group("x", 80, 30)


def test_speaker_of_strips_word_prefix_and_hash_suffix() -> None:
    assert speaker_of("0a7c2a8d_nohash_3") == "0a7c2a8d"
    assert speaker_of("backward_0a7c2a8d_nohash_0") == "0a7c2a8d"
    assert speaker_of("1024") == "1024"


def test_clip_and_corpus_validate_and_count(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="label 'cat'"):
        Clip(tmp_path / "a.wav", "cat", "g", "train")
    with pytest.raises(ValueError, match="split 'dev'"):
        Clip(tmp_path / "a.wav", "yes", "g", "dev")
    a = Corpus([Clip(tmp_path / "a.wav", "yes", "s1", "train")], [tmp_path / "n.wav"])
    b = Corpus([Clip(tmp_path / "b.wav", GLASS, "s2", "validation")], [tmp_path / "n.wav", tmp_path / "m.wav"])
    merged = a.merge(b)
    assert len(merged.clips) == 2 and merged.noise_files == [tmp_path / "n.wav", tmp_path / "m.wav"]
    assert list(merged.label_counts()) == list(LABELS)
    assert merged.label_counts("train")["yes"] == 1 and merged.label_counts("train")[GLASS] == 0
    assert merged.label_counts("validation")[GLASS] == 1
    assert [c.path.name for c in merged.subset("validation")] == ["b.wav"]
    with pytest.raises(ValueError, match="unknown split"):
        merged.subset("dev")


def test_speech_commands_with_lists(tmp_path: Path) -> None:
    root = tmp_path / "sc"
    write_audio(root / "yes" / "aaaa1111_nohash_0.wav", rate=8000)
    write_audio(root / "yes" / "bbbb2222_nohash_0.wav", rate=44100, channels=2)
    write_audio(root / "no" / "cccc3333_nohash_1.flac")
    write_audio(root / "bed" / "aaaa1111_nohash_0.wav")
    write_audio(root / "_background_noise_" / "dishes.wav", seconds=1.0)
    write_audio(root / "_silence_" / "quiet_0.wav")
    (root / "validation_list.txt").write_text("yes/bbbb2222_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("no/cccc3333_nohash_1.flac\n")
    corpus = read_speech_commands(root)
    found = {(c.path.parent.name, c.path.name): c for c in corpus.clips}
    assert len(found) == 5
    assert found[("yes", "aaaa1111_nohash_0.wav")].label == "yes"
    assert found[("bed", "aaaa1111_nohash_0.wav")].label == UNKNOWN
    assert found[("_silence_", "quiet_0.wav")].label == SILENCE
    assert found[("_silence_", "quiet_0.wav")].group == "quiet_0"
    assert found[("yes", "bbbb2222_nohash_0.wav")].split == "validation"
    assert found[("no", "cccc3333_nohash_1.flac")].split == "test"
    assert found[("yes", "aaaa1111_nohash_0.wav")].split == "train"
    assert found[("bed", "aaaa1111_nohash_0.wav")].group == "aaaa1111"
    assert [p.name for p in corpus.noise_files] == ["dishes.wav"]


def test_speech_commands_without_lists_splits_by_speaker(tmp_path: Path) -> None:
    root = tmp_path / "sc"
    for s in range(60):
        for word in ("yes", "marvin"):
            write_audio(root / word / f"{s:08x}_nohash_0.wav", seconds=0.05)
            write_audio(root / word / f"{s:08x}_nohash_1.wav", seconds=0.05)
    corpus = read_speech_commands(root, validation_percent=30, testing_percent=30)
    assert len(corpus.clips) == 240
    assert speakers_in_one_split(corpus)
    assert all(c.split == split_for_group(c.group, 30, 30) for c in corpus.clips)
    assert {c.split for c in corpus.clips} == {"train", "validation", "test"}
    assert corpus.label_counts()["yes"] == 120 and corpus.label_counts()[UNKNOWN] == 120


def test_esc50(tmp_path: Path) -> None:
    root = tmp_path / "esc"
    rows = [
        ("1-100-A-39.wav", 1, 39, "glass_breaking", "False", "100", "A"),
        ("1-100-B-39.wav", 1, 39, "glass_breaking", "False", "100", "B"),
        ("5-200-A-0.wav", 5, 0, "dog", "True", "200", "A"),
        ("5-300-A-39.wav", 5, 39, "glass_breaking", "False", "300", "A"),
    ]
    for row in rows:
        write_audio(root / "audio" / row[0], rate=44100)
    (root / "meta").mkdir()
    lines = ["filename,fold,target,category,esc10,src_file,take"] + [",".join(map(str, r)) for r in rows]
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    corpus = read_esc50(root)
    got = {c.path.name: (c.label, c.group, c.split) for c in corpus.clips}
    assert got == {
        "1-100-A-39.wav": (GLASS, "100", "train"),
        "1-100-B-39.wav": (GLASS, "100", "train"),
        "5-200-A-0.wav": (SILENCE, "200", "validation"),
        "5-300-A-39.wav": (GLASS, "300", "validation"),
    }
    assert {c.split for c in read_esc50(root, validation_folds=(1,)).clips if c.group == "100"} == {"validation"}
    (root / "audio" / "5-200-A-0.wav").unlink()
    with pytest.raises(FileNotFoundError, match="5-200-A-0.wav"):
        read_esc50(root)
    (root / "meta" / "esc50.csv").write_text("filename,fold\nx.wav,1\n")
    with pytest.raises(ValueError, match="missing column"):
        read_esc50(root)


def test_label_folders(tmp_path: Path) -> None:
    root = tmp_path / "folders"
    write_audio(root / "yes" / "abc_nohash_0.wav")
    write_audio(root / "yes" / "deeper" / "abc_nohash_1.flac")
    write_audio(root / GLASS / "window_3.wav", rate=22050, channels=2)
    write_audio(root / "cat" / "meow.wav")
    write_audio(root / "noise" / "hum.wav")
    write_audio(root / "background" / "fan.flac")
    write_audio(root / "_background_noise_" / "tap.wav")
    (root / "yes" / "notes.txt").write_text("not audio")
    corpus = read_label_folders(root)
    got = {c.path.name: (c.label, c.group) for c in corpus.clips}
    assert got == {
        "abc_nohash_0.wav": ("yes", "abc"),
        "abc_nohash_1.flac": ("yes", "abc"),
        "window_3.wav": (GLASS, "window_3"),
        "meow.wav": (UNKNOWN, "meow"),
    }
    assert sorted(p.name for p in corpus.noise_files) == ["fan.flac", "hum.wav", "tap.wav"]
    assert speakers_in_one_split(corpus)
    with pytest.raises(FileNotFoundError, match="data folder not found"):
        read_label_folders(tmp_path / "missing")


def make_shared(root: Path) -> None:
    for s in range(40):
        write_audio(root / "speech_commands" / "yes" / f"{s:08x}_nohash_0.flac", seconds=0.05)
        write_audio(root / "speech_commands" / UNKNOWN / f"bed_{s:08x}_nohash_0.flac", seconds=0.05)
        write_audio(root / "unknown_words" / f"{s:08x}_1234.flac", seconds=0.05)
    write_audio(root / "speech_commands" / SILENCE / "1024.flac")
    write_audio(root / "single_speaker" / "left" / "audio_05-09-12.flac")
    write_audio(root / "single_speaker" / "three" / "audio_05-09-13.flac")
    for name in ("yes", "bed", "audio_back", "audio_numbers"):
        write_audio(root / "single_speaker" / "one_clip_per_word" / f"{name}.flac")
    write_audio(root / "single_speaker" / "test_data" / "audio_four.flac")
    write_audio(root / "noise" / "background" / "rain.flac", seconds=1.0)
    for rec in range(30):
        for start in (0, 1000):
            write_audio(
                root / "noise" / "ambience_1s" / f"Z_Background.noise.rec_{rec}.wav.{start}.wav.39u9_{rec}.flac"
            )
    write_audio(root / "glass_break" / "training" / "glass_000.flac")
    write_audio(root / "glass_break" / "testing" / "glass_001.flac")
    write_audio(root / "glass_break" / "non_event" / "nonevent_000.flac")


def test_shared_data_layout(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_shared(root)
    corpus = read_shared_data(root, validation_percent=30, excluded=frozenset({"00000003_1234.flac"}))
    by_name = {(c.path.parent.name, c.path.stem): c for c in corpus.clips}
    assert not corpus.subset("test")
    assert speakers_in_one_split(corpus)
    # Speech Commands and unknown_words speakers: same speaker, same (salted) split.
    sc = [c for c in corpus.clips if c.path.parent.parent.name == "speech_commands" and c.label != SILENCE]
    assert len(sc) == 80 and {c.label for c in sc} == {"yes", UNKNOWN}
    assert all(c.split == split_for_group(c.group, 30, 0, SHARED_SALT) for c in sc)
    assert {c.split for c in sc} == {"train", "validation"}
    # unknown_words: train speakers only (a third of its clips are keywords), less the excluded.
    words = {c.path.name: c for c in corpus.clips if c.path.parent.name == "unknown_words"}
    train_speakers = {f"{s:08x}" for s in range(40) if split_for_group(f"{s:08x}", 30, 0, SHARED_SALT) == "train"}
    assert "00000003" in train_speakers and 10 < len(train_speakers) < 40
    assert set(words) == {f"{s}_1234.flac" for s in train_speakers - {"00000003"}}
    assert all(c.label == UNKNOWN and c.split == "train" and c.group == c.path.stem[:8] for c in words.values())
    # Single speaker: keywords by name, other words unknown, multi-word file skipped, all train.
    single = {(c.path.parent.name, c.path.stem): c.label for c in corpus.clips if c.group == "single_speaker"}
    assert single == {
        ("left", "audio_05-09-12"): "left",
        ("three", "audio_05-09-13"): UNKNOWN,
        ("one_clip_per_word", "yes"): "yes",
        ("one_clip_per_word", "bed"): UNKNOWN,
        ("one_clip_per_word", "audio_back"): UNKNOWN,
        ("test_data", "audio_four"): UNKNOWN,
    }
    assert all(c.split == "train" for c in corpus.clips if c.group == "single_speaker")
    # Ambience: silence clips grouped by recording; only train recordings join the noise files.
    ambience = [c for c in corpus.clips if c.path.parent.name == "ambience_1s"]
    assert len(ambience) == 60 and all(c.label == SILENCE for c in ambience)
    assert {c.group for c in ambience} == {f"Z_Background.noise.rec_{r}" for r in range(30)}
    assert {c.split for c in ambience} == {"train", "validation"}
    train_ambience = {c.path for c in ambience if c.split == "train"}
    assert set(corpus.noise_files) == train_ambience | {root / "noise" / "background" / "rain.flac"}
    # Glass.
    assert (by_name[("training", "glass_000")].label, by_name[("training", "glass_000")].split) == (GLASS, "train")
    assert (by_name[("testing", "glass_001")].label, by_name[("testing", "glass_001")].split) == (GLASS, "validation")
    assert (by_name[("non_event", "nonevent_000")].label, by_name[("non_event", "nonevent_000")].split) == (
        SILENCE,
        "train",
    )
    assert by_name[(SILENCE, "1024")].group == "1024"
    with pytest.raises(ValueError, match="not a shared data folder"):
        read_shared_data(tmp_path)


def test_packaged_unknown_words_exclusions() -> None:
    excluded = unknown_words_excluded()
    # A sample-identical copy of speech_commands/left/b2e2773a_nohash_2 and one the model calls "off".
    assert {"b2e2773a_49364342.flac", "00176480_19154687.flac"} <= excluded
    assert 250 < len(excluded) < 400 and all(name.endswith(".flac") for name in excluded)
    assert read_exclusions("# comment\na.flac\tmodel\tup 0.90\n\nb.flac\n") == {"a.flac", "b.flac"}
