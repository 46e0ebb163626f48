"""Synthetic breaking glass (synth.glass and its command): the sound, the folder, the command, the validation."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_lstm.commands import glass as glass_command
from audio_lstm.data.generated_sets import MARKER
from audio_lstm.data.layouts import detect_layout, open_corpus
from audio_lstm.device.labels import GLASS
from audio_lstm.synth import glass as glass_synth
from audio_lstm.synth.glass import GlassConfig, build_glass_set, glass_break, glass_clip, high_band_fraction, validate

RATE = glass_synth.SAMPLE_RATE


def frame_db(audio: np.ndarray) -> np.ndarray:
    """Energy of each 10 ms frame, dB."""
    frames = audio[: len(audio) // 160 * 160].astype(np.float64).reshape(-1, 160)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)


def test_clips_have_the_length_level_and_spectrum_of_glass() -> None:
    cfg = GlassConfig()
    lowest = min(cfg.peak_dbfs) - cfg.far_level_db * max(cfg.distance)  # the farthest, quietest break
    bands = []
    for index in range(12):
        clip = glass_clip(1, index)
        assert clip.shape == (RATE,) and clip.dtype == np.float32 and np.all(np.isfinite(clip))
        peak_db = 20 * np.log10(np.abs(clip).max())
        assert lowest - 0.01 <= peak_db <= max(cfg.peak_dbfs) + 0.01  # -18 .. -1 dBFS
        bands.append(high_band_fraction(clip))
    assert min(bands) > 0.5 and np.median(bands) > 0.75  # the energy is in the shards, above 2 kHz
    rumble = np.sin(2 * np.pi * 200 * np.arange(RATE) / RATE).astype(np.float32)
    assert high_band_fraction(rumble) < 0.01 and high_band_fraction(np.zeros(10, np.float32)) == 0.0


def test_the_break_starts_with_a_transient_at_the_impact() -> None:
    cfg = replace(GlassConfig(), onset_seconds=(0.3, 0.3))
    impact = int(0.3 * RATE)
    for index in range(6):
        clip = glass_break(np.random.default_rng([5, index]), cfg)
        energy = frame_db(clip)
        assert float(np.abs(clip[: impact - 160]).max()) < 1e-3 * float(np.abs(clip).max())  # silence before
        assert energy[30] - energy[29] > 20  # the 10 ms after the impact jump far above the 10 ms before
        assert energy[30] > energy.max() - 12  # and are already near the loudest part of the break
        assert energy[30:80].mean() > energy[80:].mean()  # then the ring decays


def test_clips_are_a_function_of_seed_and_index() -> None:
    assert np.array_equal(glass_clip(3, 5), glass_clip(3, 5))
    assert not np.array_equal(glass_clip(3, 5), glass_clip(3, 6))
    assert not np.array_equal(glass_clip(3, 5), glass_clip(4, 5))


def test_command_writes_a_training_folder_that_open_corpus_reads_as_glass(tmp_path: Path) -> None:
    out = tmp_path / "glass"
    assert glass_command.main([str(out), "--count", "3", "--seed", "2"]) == 0
    files = sorted((out / GLASS).glob("*.flac"))
    assert [f.name for f in files] == [f"glass-s2_nohash_{k}.flac" for k in range(3)]
    marker = json.loads((out / MARKER).read_text())
    assert marker["status"] == "complete" and marker["written"] == 3 and marker["seed"] == 2
    audio, rate = soundfile.read(str(files[1]), dtype="float32")
    assert rate == RATE and np.abs(audio - glass_clip(2, 1)).max() < 1.0 / 16384  # 16-bit FLAC of clip 1
    assert detect_layout(out) == "generated"
    corpus = open_corpus(out)
    assert sorted(c.path for c in corpus.clips) == files
    assert {(c.label, c.split, c.group) for c in corpus.clips} == {(GLASS, "train", "glass-s2")}
    build_glass_set(out, count=2, seed=2)  # a rebuild replaces the earlier set
    assert len(list((out / GLASS).glob("*.flac"))) == 2


def test_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert glass_command.main([str(tmp_path), "--count", "2"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(tmp_path) in error and "refusing to overwrite" in error
    assert (tmp_path / "notes.txt").read_text() == "mine"
    for argv in ([], [str(tmp_path / "x"), "--count", "0"], [str(tmp_path / "x"), "--seed", "-1"]):
        with pytest.raises(SystemExit) as exit_info:
            glass_command.main(argv)
        assert exit_info.value.code == 2
    with pytest.raises(FileNotFoundError, match="glass_break/testing"):
        validate(tmp_path, count=1)
    capsys.readouterr()
    assert glass_command.main(["--validate", "--data", str(tmp_path), "--count", "1"]) == 2  # no shared data there
    assert capsys.readouterr().err.count("\n") == 1


def test_a_failed_write_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(glass_synth.soundfile, "write", full)
    assert glass_command.main([str(tmp_path / "out"), "--count", "2"]) == 1  # it ran; the disk failed
    assert "No space left on device" in capsys.readouterr().err


def test_validate_scores_every_set(tmp_path: Path, tiny_model, write_wav) -> None:  # noqa: ANN001
    """The report's shape and measured properties, on a tiny stand-in data folder and a random model."""
    t = np.arange(RATE) / RATE
    for folder in ("testing", "training"):
        for k in range(2):
            write_wav(tmp_path / GLASS / folder / f"glass_{k}.wav", glass_clip(9, k))
    for k in range(3):
        write_wav(
            tmp_path / "noise" / "ambience_1s" / f"room{k}.wav", (0.1 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
        )
    report = validate(tmp_path, count=4, seed=0, ambience=2, model=tiny_model.int8)
    assert list(report) == ["synthetic", "real testing", "real training", "ambience", "noise bursts"]
    assert [row["clips"] for row in report.values()] == [4, 2, 2, 2, 50]
    assert all(0.0 <= row["glass_fraction"] <= 1.0 and 0.0 <= row["median_score"] <= 1.0 for row in report.values())
    assert report["ambience"]["high_band"] < 0.01 and report["synthetic"]["high_band"] > 0.5
    assert report["noise bursts"]["high_band"] > 0.9
