"""The unknown_words audit: sample-identical duplicates, the model's keyword verdicts, the list file."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile

from audio_lstm.commands.audit_unknown import main
from audio_lstm.data.readers import read_exclusions
from audio_lstm.data.unknown_audit import audit, find_duplicates

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "clips"


def copy_audio(source: Path, target: Path, gain: float = 1.0) -> Path:
    audio, rate = soundfile.read(str(source), dtype="float32")
    target.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(target), audio * gain, rate)
    return target


def test_duplicates_are_equal_samples_in_any_container(tmp_path: Path) -> None:
    left = copy_audio(EXAMPLES / "left.flac", tmp_path / "labelled" / "left.flac")
    stop = copy_audio(EXAMPLES / "stop.flac", tmp_path / "labelled" / "stop.flac")
    same_as_left = copy_audio(left, tmp_path / "candidates" / "a.wav")
    quieter_stop = copy_audio(stop, tmp_path / "candidates" / "b.flac", gain=0.5)
    assert find_duplicates([same_as_left, quieter_stop], [left, stop]) == {same_as_left: left}


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    left = copy_audio(EXAMPLES / "left.flac", root / "speech_commands" / "left" / "aaaa0001_nohash_0.flac")
    copy_audio(left, root / "unknown_words" / "aaaa0001_111.flac")  # a copy of a keyword clip
    copy_audio(EXAMPLES / "stop.flac", root / "unknown_words" / "bbbb0002_222.flac", gain=0.7)  # a keyword
    copy_audio(EXAMPLES / "yes.flac", root / "unknown_words" / "cccc0003_333.flac")  # never filed there
    copy_audio(EXAMPLES / "unknown.flac", root / "unknown_words" / "dddd0004_444.flac")  # other speech
    return root


def test_audit_lists_duplicates_and_model_keywords(shared: Path) -> None:
    from audio_lstm.device.bundled import default_model_path

    rows, total = audit(shared, [default_model_path()])
    assert total == 4
    assert [row[:2] for row in rows] == [("aaaa0001_111.flac", "duplicate"), ("bbbb0002_222.flac", "model")]
    assert rows[0][2] == "speech_commands/left/aaaa0001_nohash_0.flac"
    keyword, confidence = rows[1][2].split()
    assert keyword == "stop" and 0.5 < float(confidence) <= 1.0


def test_main_writes_the_list_and_keeps_an_existing_file(shared: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "excluded.tsv"
    assert main([str(shared), "--out", str(out)]) == 0
    assert read_exclusions(out.read_text()) == {"aaaa0001_111.flac", "bbbb0002_222.flac"}
    assert "2 of 4 clips listed" in capsys.readouterr().err
    out.write_text("mine\n")
    assert main([str(shared), "--out", str(out)]) == 2
    assert out.read_text() == "mine\n"
    assert capsys.readouterr().err == f"audio-lstm audit-unknown: {out} exists; pass --force to overwrite it\n"
    assert main([str(tmp_path / "empty"), "--out", str(tmp_path / "other.tsv")]) == 2
    assert "no unknown_words folder" in capsys.readouterr().err and not (tmp_path / "other.tsv").exists()
