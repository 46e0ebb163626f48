"""False accepts per hour on real negative audio: kinds, sweep, the rates FRR is read at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_lstm.data.negatives_cache import NegativeRecording
from audio_lstm.device.audio_io import load_audio
from audio_lstm.device.labels import KEYWORDS
from audio_lstm.device.options import make_detector
from audio_lstm.device.runtime import StreamingClassifier
from audio_lstm.evaluation.event_matching import ClassOutcome, replay
from audio_lstm.evaluation.negatives import (
    category_of,
    choose_on_negatives,
    evaluate_negatives,
    format_frr_table,
    format_negatives_table,
    frr_at_rates,
    mean_frr,
)


def recording(path: Path, package: str, kind: str, language: str = "", seconds: float = 0.0) -> NegativeRecording:
    return NegativeRecording(
        path, package, kind, language, "spk", f"{package}/{kind}", "validation", seconds, "", "", ""
    )


def test_kinds_are_reported_by_what_a_user_would_call_them() -> None:
    assert category_of(recording(Path("a"), "asterisk-core-sounds-en-wav", "speech", "en")) == "speech, English"
    assert category_of(recording(Path("a"), "asterisk-core-sounds-fr-wav", "speech", "fr")) == "speech, other languages"
    assert category_of(recording(Path("a"), "ktuberling-data", "speech", "de")) == "spoken words"
    assert category_of(recording(Path("a"), "0ad-data", "ambience")) == "ambience"


def test_counts_match_the_device_detector_and_fall_with_the_threshold(tiny_model, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    files = []
    for name, seconds in (("a", 8.0), ("b", 6.0)):
        path = tmp_path / f"{name}.flac"
        t = np.arange(int(seconds * 16000)) / 16000
        audio = 0.2 * np.sin(2 * np.pi * 300 * (1 + 0.5 * np.sin(t)) * t) + 0.05 * rng.standard_normal(len(t))
        soundfile.write(str(path), audio.astype(np.float32), 16000)
        files.append(recording(path, "music-pkg", "music", seconds=seconds))
    classifier = StreamingClassifier(tiny_model.int8)
    grid = [0.0, 0.05, 0.1, 0.2, 1.01]
    result = evaluate_negatives(classifier, files, grid)
    assert [k.kind for k in result.kinds] == ["music"]
    assert result.hours == pytest.approx(14 / 3600, rel=0.02)
    music = result.kinds[0]
    assert all(counts[-1] == 0 for counts in music.sweep.values())  # nothing reaches 1.01
    # the model's thresholds: the device's own detector over the same audio, played back to back
    classifier.reset()
    audio = np.concatenate([load_audio(f.path, 16000) for f in files])
    scores = np.concatenate([classifier.process(audio), classifier.flush()])
    direct = replay(make_detector(classifier, classifier.info.thresholds), scores)
    assert sum(music.at_model.values()) == len(direct)
    table = format_negatives_table(result, [label for label in classifier.labels if label in music.sweep])
    assert "music" in table and "all" in table


def test_frr_is_read_at_the_lowest_threshold_meeting_each_rate(tiny_model, tmp_path: Path) -> None:
    path = tmp_path / "n.flac"
    soundfile.write(str(path), np.zeros(16000 * 36, dtype=np.float32), 16000)  # 0.01 h
    result = evaluate_negatives(StreamingClassifier(tiny_model.int8), [recording(path, "p", "ambience")], [0.1, 0.5])
    # "yes" raises 2 events at 0.1 and none at 0.5 on this 0.01 h; "no" merges into one event at 0.1
    kind = result.kinds[0]
    kind.sweep = {label: [0, 0] for label in kind.sweep} | {"yes": [2, 0], "no": [1, 5]}
    curves = {"yes": [ClassOutcome("yes", 0.1, 10, 9, 0, 1.0), ClassOutcome("yes", 0.5, 10, 6, 0, 1.0)]}
    table = frr_at_rates(result, curves, rates=(0.1, 500.0))
    assert table == {"yes": {0.1: pytest.approx(0.4), 500.0: pytest.approx(0.1)}}
    assert result.lowest_threshold("no", 200.0) is None  # 0.1 is quiet only because its events merged
    assert "yes" in format_frr_table(table)
    table["no"] = {0.1: None, 500.0: 0.3}  # "no" is never as quiet as 0.1/h: it counts as switched off
    assert mean_frr(table, 0.1) == pytest.approx((0.4 + 1.0) / 2) and mean_frr(table, 500.0) == pytest.approx(0.2)
    text = format_frr_table(table)
    assert text.splitlines()[-2].split() == ["mean", "0.700", "0.200"] and "counts as never found (FRR 1)" in text
    chosen = choose_on_negatives(result, 500.0)  # keywords share it: 50/h each -> "yes" needs 0.5
    assert chosen["yes"] == 0.5 and chosen["no"] == 0.5  # "no": never quiet enough, the highest of the grid
    assert all(chosen[k] == 0.1 for k in KEYWORDS if k not in ("yes", "no") and k in chosen)
