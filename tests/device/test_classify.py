"""`audio-lstm classify`: output contracts, formats, recursion, bad inputs, exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import test_signal

from audio_lstm.device.audio_io import load_audio
from audio_lstm.device.classify import CLIP_TAIL_SECONDS, main
from audio_lstm.device.decisions import clip_label
from audio_lstm.device.detector import Detector
from audio_lstm.device.runtime import StreamingClassifier


def run_main(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, list[str]]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, [line for line in captured.err.splitlines() if line]


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line]


def events_in(text: str) -> list[dict]:
    """The event records of jsonl output (each file's summary record left out)."""
    return [record for record in jsonl(text) if "summary" not in record]


@pytest.fixture
def clips(tmp_path: Path, write_wav) -> list[Path]:  # noqa: ANN001
    return [
        write_wav(tmp_path / "plain.wav"),
        write_wav(tmp_path / "stereo44k.wav", sample_rate=44100, channels=2),
        write_wav(tmp_path / "narrow8k.wav", sample_rate=8000),
        write_wav(tmp_path / "deep24.wav", subtype="PCM_24", seconds=0.7),
        write_wav(tmp_path / "float.flac", subtype="PCM_16", sample_rate=22050, seconds=1.2),
        write_wav(tmp_path / "vorbis.ogg", subtype="VORBIS", sample_rate=48000),
    ]


def test_clip_jsonl_contract(tiny_model, clips, capsys) -> None:  # noqa: ANN001
    code, out, err = run_main(capsys, "--model", tiny_model.int8, "--clip", "--format", "jsonl", *clips)
    # the 8 kHz file is classified, with a warning that it lacks the upper band
    assert (
        code == 0
        and len(err) == 1
        and err[0].startswith(f"audio-lstm classify: {clips[2]}: warning: recorded at 8000 Hz")
    )
    records = jsonl(out)
    assert [r["file"] for r in records] == [str(p) for p in clips]
    classifier = StreamingClassifier(tiny_model.int8)
    for record, path in zip(records, clips):
        assert list(record) == ["file", "label", "score"]
        assert isinstance(record["label"], str) and record["label"] in classifier.labels
        assert isinstance(record["score"], float) and 0.0 <= record["score"] <= 1.0
        # Same as scoring the clip plus CLIP_TAIL_SECONDS of zeros directly.
        audio = load_audio(path)
        padded = np.concatenate([audio, np.zeros(int(CLIP_TAIL_SECONDS * 16000), np.float32)])
        label, score = clip_label(classifier.predict_clip(padded), classifier.labels, classifier.smoothing_frames)
        assert (record["label"], record["score"]) == (label, round(score, 4))
    assert CLIP_TAIL_SECONDS == 0.3


def test_directory_is_recursed(tiny_model, tmp_path, write_wav, capsys) -> None:  # noqa: ANN001
    root = tmp_path / "data"
    expected = [
        write_wav(root / "a" / "one.wav"),
        write_wav(root / "a" / "deeper" / "two.flac"),
        write_wav(root / "b" / "three.WAV"),
    ]
    (root / "notes.txt").write_text("not audio, ignored in directories")
    code, out, err = run_main(capsys, "--model", tiny_model.int8, "--clip", root)
    assert code == 0 and err == []
    assert sorted(r["file"] for r in jsonl(out)) == sorted(str(p) for p in expected)


def test_bad_inputs_are_reported_and_skipped(tiny_model, tmp_path, write_wav, capsys) -> None:  # noqa: ANN001
    good_first = write_wav(tmp_path / "good1.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "text.wav"
    text.write_text("this is not a RIFF file\n" * 20)
    flac = write_wav(tmp_path / "full.flac", seconds=3.0)
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(flac.read_bytes()[: flac.stat().st_size // 2])
    flac.unlink()
    no_samples = write_wav(tmp_path / "nosamples.wav", audio=np.zeros(0, np.float32))
    missing = tmp_path / "missing.wav"
    good_last = write_wav(tmp_path / "good2.wav", sample_rate=8000)
    inputs = [good_first, empty, text, missing, truncated, no_samples, good_last]

    for mode in (["--clip"], ["--threshold", "yes=0"]):  # --threshold is for event mode only
        code, out, err = run_main(capsys, "--model", tiny_model.int8, *mode, *inputs)
        assert code == 1
        assert len(err) == 6 and sum("warning: recorded at 8000 Hz" in line for line in err) == 1, err
        for bad in (empty, text, missing, truncated, no_samples):
            assert sum(line.startswith(f"audio-lstm classify: {bad}: ") for line in err) == 1, (bad, err)
        files = {r["file"] for r in jsonl(out)}
        assert {str(good_first), str(good_last)} <= files


def test_csv_and_table_formats(tiny_model, clips, capsys) -> None:  # noqa: ANN001
    code, out, _ = run_main(capsys, "--model", tiny_model.int8, "--clip", "--format", "csv", *clips[:2])
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == ["file", "label", "score"] and len(rows) == 3
    code, out, _ = run_main(capsys, "--model", tiny_model.int8, "--format", "csv", "--threshold", "go=0", clips[0])
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == ["file", "label", "start_s", "end_s", "score"] and rows[1][1] == "go"
    code, out, _ = run_main(capsys, "--model", tiny_model.int8, "--clip", "--format", "table", *clips[:2])
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["file", "label", "score"] and len(lines) == 3
    assert len({line.index(line.split()[1]) for line in lines}) == 1  # label column aligned


def test_events_match_offline_detection(tiny_model, tmp_path, write_wav, capsys) -> None:  # noqa: ANN001
    """Event mode over a 25 s file (three read blocks) equals detection over the whole clip at once."""
    audio = np.concatenate([test_signal(5.0, seed=s) for s in range(5)])
    path = write_wav(tmp_path / "long.wav", audio=audio)
    classifier = StreamingClassifier(tiny_model.int8)
    scores = classifier.predict_clip(load_audio(path))
    # Thresholds just under each label's top smoothed score, so some events surely happen.
    from audio_lstm.device.decisions import smooth

    peaks = smooth(scores, classifier.smoothing_frames).max(axis=0)
    overrides = {
        label: round(float(peaks[i]) - 0.01, 3)
        for i, label in enumerate(classifier.labels)
        if label not in ("_unknown_", "_silence_")
    }
    args = [arg for label, value in overrides.items() for arg in ("--threshold", f"{label}={value}")]
    code, out, err = run_main(capsys, "--model", tiny_model.int8, *args, path)
    assert code == 0 and err == []
    records, summary = jsonl(out)[:-1], jsonl(out)[-1]
    assert records and all(list(r) == ["file", "label", "start_s", "end_s", "score"] for r in records)
    assert summary == {"file": str(path), "summary": True, "events": len(records), "duration_s": 25.0}
    thresholds = dict(classifier.info.thresholds, **overrides)
    detector = Detector(
        classifier.labels,
        thresholds,
        classifier.frame_seconds,
        event_labels=[label for label in classifier.labels if not label.startswith("_")],
    )
    offline = detector.update(scores) + detector.flush()
    assert records == [{"file": str(path), **event.to_dict()} for event in offline]


def test_threshold_usage_errors(tiny_model, clips, capsys) -> None:  # noqa: ANN001
    code, out, err = run_main(capsys, "--model", tiny_model.int8, "--threshold", "banana=0.5", clips[0])
    assert code == 2 and out == "" and any("banana" in line for line in err)
    code, _, err = run_main(capsys, "--model", tiny_model.int8, "--threshold", "stop", clips[0])
    assert code == 2 and any("LABEL=VALUE" in line for line in err)
    code, _, _ = run_main(capsys, "--model", tiny_model.int8, "--threshold", "stop=0.7", clips[0])
    assert code == 0
    assert main([]) == 2


def test_bad_model_exits_2(tmp_path, clips, capsys) -> None:  # noqa: ANN001
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"nope")
    code, out, err = run_main(capsys, "--model", junk, "--clip", clips[0])
    assert code == 2 and out == "" and len(err) == 1 and "junk.onnx" in err[0]


def test_no_audio_at_all_exits_2(tiny_model, tmp_path, capsys) -> None:  # noqa: ANN001
    """A missing path among others is one failed file (1, see above); nothing to classify is bad input."""
    (tmp_path / "empty").mkdir()
    missing = tmp_path / "missing.wav"
    code, out, err = run_main(capsys, "--model", tiny_model.int8, missing)
    assert code == 2 and out == "" and err == [f"audio-lstm classify: {missing}: no such file or directory"]
    code, out, err = run_main(capsys, "--model", tiny_model.int8, "--clip", tmp_path / "empty")
    assert code == 2 and out == "" and len(err) == 1 and "holds no" in err[0]


DEMO = Path(__file__).resolve().parents[2] / "examples" / "stream_demo.flac"


def test_bundled_model_returns_crossing_events_earlier_than_peak_events(capsys) -> None:  # noqa: ANN001
    """examples/stream_demo.flac in listen's 80 ms chunks: each mode's events and when they come back."""
    from audio_lstm.device.options import make_detector

    classifier = StreamingClassifier()  # the bundled model
    audio = load_audio(DEMO, classifier.sample_rate)
    chunk = round(0.08 * classifier.sample_rate)
    returned: dict[str, list[tuple[str, float, float]]] = {}
    for mode in ("crossing", "peak"):
        classifier.reset()
        detector = make_detector(classifier, classifier.info.thresholds, report=mode)
        found = []
        for start in range(0, len(audio), chunk):
            now = min(start + chunk, len(audio)) / classifier.sample_rate
            found += [
                (e.label, e.start_s, now) for e in detector.update(classifier.process(audio[start : start + chunk]))
            ]
        found += [
            (e.label, e.start_s, len(audio) / classifier.sample_rate)
            for e in detector.update(classifier.flush()) + detector.flush()
        ]
        returned[mode] = found
    crossing, peak = returned["crossing"], returned["peak"]
    assert {"stop", "yes", "go"} <= {label for label, _, _ in peak}  # the demo's keywords (README: make demo)
    assert [(label, start) for label, start, _ in crossing] == [(label, start) for label, start, _ in peak]
    assert all(early < late for (_, _, early), (_, _, late) in zip(crossing, peak))
    # classify keeps peak mode (end_s after start_s) unless --report crossing is asked for
    code, out, _ = run_main(capsys, DEMO)
    assert code == 0 and all(r["end_s"] > r["start_s"] for r in events_in(out))
    code, out, _ = run_main(capsys, "--report", "crossing", DEMO)
    found = [(r["label"], r["start_s"]) for r in events_in(out)]
    assert code == 0 and found == [(lab, round(s, 3)) for lab, s, _ in crossing]
    assert all(r["end_s"] == r["start_s"] for r in events_in(out))
