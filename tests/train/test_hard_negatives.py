"""Hard-negative mining: windows where a model nearly fires, written, read back and loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_lstm.commands import mine as mine_command
from audio_lstm.data.negatives_cache import MANIFEST_COLUMNS
from audio_lstm.device.labels import LABELS
from audio_lstm.train.hard_negatives import mine, read_windows, window_bank, windows_near_threshold, write_windows


def test_windows_are_centred_on_near_threshold_peaks_of_event_labels_only() -> None:
    scores = np.zeros((500, len(LABELS)), dtype=np.float32)
    yes, unknown = LABELS.index("yes"), LABELS.index("_unknown_")
    scores[100:110, yes] = [0.2, 0.35, 0.4, 0.5, 0.45, 0.3, 0.31, 0.32, 0.2, 0.1]
    scores[:, unknown] = 0.99  # never an event, never mined
    found = windows_near_threshold(scores, LABELS, {"yes": 0.6, "_unknown_": 0.5}, 0.02, 0.5, 3.0, 10.0)
    assert len(found) == 1
    start, end, label, peak = found[0]
    assert label == "yes" and peak == pytest.approx(0.5)
    assert start == pytest.approx(103.5 * 0.02 - 1.5) and end == pytest.approx(start + 3.0)
    edge = windows_near_threshold(scores[:120], LABELS, {"yes": 0.6}, 0.02, 0.5, 3.0, 2.4)
    assert edge[0][:2] == (0.0, 2.4)  # clipped to the recording


def test_mine_write_read_and_load(tiny_model, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    recording = tmp_path / "radio.flac"
    soundfile.write(str(recording), (0.3 * rng.standard_normal(16000 * 8)).astype(np.float32), 16000)
    windows, hours = mine(tiny_model.int8, [recording], near=0.01, window_s=2.0)
    assert hours == pytest.approx(8 / 3600, rel=1e-3)
    assert windows and all(w.end_s - w.start_s == pytest.approx(2.0) and 0 <= w.start_s <= 6 for w in windows)
    listing = tmp_path / "mined.tsv"
    write_windows(listing, windows)
    assert read_windows(listing) == windows
    bank = window_bank(windows)
    assert len(bank) == len(windows) and bank.seconds == pytest.approx(2.0 * len(windows), abs=0.01)
    (tmp_path / "junk.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="junk.tsv: not a list of mined windows"):
        read_windows(tmp_path / "junk.tsv")


def test_mine_command_scores_the_training_split_of_a_cache(tiny_model, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    rng = np.random.default_rng(1)
    cache = tmp_path / "cache"
    (cache / "audio").mkdir(parents=True)
    lines = ["\t".join(MANIFEST_COLUMNS)]
    recordings = (("radio", "music", "train"), ("voice", "generated", "train"), ("held", "music", "validation"))
    for name, kind, split in recordings:
        noise = (0.3 * rng.standard_normal(16000 * 4)).astype(np.float32)
        soundfile.write(str(cache / "audio" / f"{name}.flac"), noise, 16000)
        row = {"path": f"audio/{name}.flac", "package": "p", "kind": kind, "split": split, "duration_s": "4.000"}
        lines.append("\t".join(row.get(column, "") for column in MANIFEST_COLUMNS))
    (cache / "manifest.tsv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "mined.tsv"
    argv = [str(tiny_model.int8), "--negatives", str(cache), "--out", str(out), "--near", "0.01", "--window-s", "1"]
    assert mine_command.main(argv) == 0
    assert "from 0.00 h of negatives" in capsys.readouterr().out
    mined = read_windows(out)
    assert {Path(w.path).name for w in mined} == {"radio.flac", "voice.flac"}  # the training split, generated too
    assert mine_command.main(argv) == 2 and "exists" in capsys.readouterr().err  # never overwritten silently
