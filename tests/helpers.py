"""Helpers shared by tests in several folders (fixtures live in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import soundfile

from audio_lstm.device.runtime import StreamingClassifier

DEMO = Path(__file__).resolve().parents[1] / "examples" / "stream_demo.flac"
TONES = {"yes": 500.0, "no": 1500.0, "glass_break": 4000.0}  # the tone-burst corpus's labels and pitches
# `audio-lstm train` options of a tiny model that learns the tone corpus (validation accuracy about 0.9)
TINY_TRAINING = [
    "--epochs",
    "6",
    "--steps-per-epoch",
    "12",
    "--batch-size",
    "16",
    "--hidden",
    "32",
    "--layers",
    "1",
    "--workers",
    "0",
    "--no-progress",
    "--lr",
    "0.01",
    "--label-weight",
    "glass_break=2.5",
]


def write_corpus(root: Path, speakers: int = 24) -> None:
    """Folder-per-label tree: each label a tone burst; per-speaker pitch jitter; some silence."""
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    for speaker in range(speakers):
        for label, freq in TONES.items():
            folder = root / label
            folder.mkdir(parents=True, exist_ok=True)
            burst = np.where(
                (t > 0.3) & (t < 0.7), np.sin(2 * np.pi * freq * (1 + 0.02 * rng.standard_normal()) * t), 0
            )
            audio = 0.5 * burst + 0.01 * rng.standard_normal(len(t))
            soundfile.write(folder / f"spk{speaker:02d}_nohash_0.wav", audio.astype(np.float32), 16000)
        silence = root / "_silence_"
        silence.mkdir(exist_ok=True)
        soundfile.write(
            silence / f"spk{speaker:02d}_nohash_0.wav", (0.01 * rng.standard_normal(16000)).astype(np.float32), 16000
        )
    noise = root / "_background_noise_"
    noise.mkdir(exist_ok=True)
    soundfile.write(noise / "hum.wav", (0.02 * rng.standard_normal(5 * 16000)).astype(np.float32), 16000)


def run_chunked(classifier: StreamingClassifier, audio: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Scores of `audio` fed in chunks of `sizes`, then flushed."""
    classifier.reset()
    parts, start = [], 0
    for size in sizes:
        out = classifier.process(audio[start : start + size])
        assert out.ndim == 2 and out.shape[1] == len(classifier.labels)
        parts.append(out.copy())
        start += size
    assert start >= len(audio)
    parts.append(classifier.flush().copy())
    assert classifier.pending_frames == 0
    return np.concatenate(parts)


def rewrite_metadata(source: Path, target: Path, edit: Callable[[dict[str, str]], object]) -> Path:
    """A copy of `source` whose metadata `edit` changed in place."""
    graph = onnx.load(str(source))
    metadata = {p.key: p.value for p in graph.metadata_props}
    edit(metadata)
    del graph.metadata_props[:]
    for key, value in metadata.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(target))
    return target


def quantized_weights(path: Path) -> dict[str, tuple[np.ndarray, str]]:
    """Each quantized op's integer weights minus their zero points, and the stored dtype."""
    graph = onnx.load(str(path)).graph
    values = {init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer}
    inputs = {"DynamicQuantizeLSTM": ((1, 9), (2, 11)), "MatMulInteger": ((1, 3),)}
    found = {}
    for node in graph.node:
        for weights, zero in inputs.get(node.op_type, ()):
            q, z = values[node.input[weights]], values[node.input[zero]]
            if node.op_type == "DynamicQuantizeLSTM":
                z = z[:, None, :]  # (directions, 4 * hidden) -> per output column
            found[f"{node.name}:{weights}"] = (q.astype(np.int32) - z.astype(np.int32), str(q.dtype))
    return found


def demo_events_at_crossing() -> list[dict]:
    """What `audio-lstm classify --report crossing` finds in examples/stream_demo.flac (event records
    only): the reference for `listen --input` and `serve`."""
    import io
    import json
    from contextlib import redirect_stdout

    from audio_lstm.device import classify

    out = io.StringIO()
    with redirect_stdout(out):
        assert classify.main(["--format", "jsonl", "--report", "crossing", str(DEMO)]) == 0
    events = [record for line in out.getvalue().splitlines() if "summary" not in (record := json.loads(line))]
    assert {"stop", "yes", "go"} <= {event["label"] for event in events}
    return events
