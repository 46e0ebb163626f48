"""Golden test: the bundled model on the bundled example audio says what `make demo` shows.

The expected values below are literal: what `audio-lstm classify` printed for the bundled model
named in `MODEL_VERSION` (`audio_lstm/models/default.int8.onnx`). This is deliberate. When the
bundled model is replaced, this test fails, and whoever replaced it updates the table (and only
the table) from

    .venv/bin/audio-lstm classify --clip --format jsonl examples/clips
    .venv/bin/audio-lstm classify --format jsonl examples/stream_demo.flac

after checking that the new answers are what the model should say (README and docs/model-card.md
quote the demo too).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audio_lstm.device.bundled import default_model_path
from audio_lstm.device.classify import main
from audio_lstm.device.runtime import StreamingClassifier

# -- The golden table: update it deliberately when the bundled model changes -----------------------

MODEL_VERSION = "2026.12.05-r47"
CLIP_LABELS = {  # examples/clips/NAME -> the label of `classify --clip`
    "down.flac": "down",
    "go.flac": "go",
    "left.flac": "left",
    "no.flac": "no",
    "off.flac": "off",
    "on.flac": "on",
    "right.flac": "_silence_",  # missed: README says so
    "silence.flac": "_silence_",
    "stop.flac": "stop",
    "unknown.flac": "_silence_",  # its score stays under every threshold (README)
    "up.flac": "up",
    "yes.flac": "yes",
}
# examples/stream_demo.flac -> (label, start_s to 10 ms) of each event; the unknown word "bird" raises none (README)
STREAM_EVENTS = [("stop", 2.55), ("yes", 8.61), ("go", 11.23)]

# ---------------------------------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def classify(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    """The jsonl records `audio-lstm classify --model <bundled> ARGS` prints; it must exit 0 quietly."""
    code = main(["--model", str(default_model_path()), "--format", "jsonl", *args])
    captured = capsys.readouterr()
    assert code == 0 and captured.err == "", captured.err
    return [json.loads(line) for line in captured.out.splitlines() if line]


def test_the_table_describes_the_bundled_model() -> None:
    version = StreamingClassifier(default_model_path()).info.model_version
    assert version == MODEL_VERSION, "the bundled model changed: update the golden table (see the docstring)"


def test_clip_labels_of_the_example_clips(capsys: pytest.CaptureFixture[str]) -> None:
    records = classify(capsys, "--clip", str(EXAMPLES / "clips"))
    assert {Path(record["file"]).name: record["label"] for record in records} == CLIP_LABELS


def test_events_of_the_example_stream(capsys: pytest.CaptureFixture[str]) -> None:
    records = classify(capsys, str(EXAMPLES / "stream_demo.flac"))
    events = [(record["label"], round(record["start_s"], 2)) for record in records if "summary" not in record]
    assert events == STREAM_EVENTS
    assert records[-1]["summary"] and records[-1]["events"] == len(STREAM_EVENTS)
