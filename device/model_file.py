"""The streaming ONNX model file contract: tensor names, metadata keys, and their validation.

A model file is an ONNX graph with

* inputs  ``features`` float32 (1, steps, frame_stack * n_mfcc) -- raw MFCC frames
  (`audio_lstm.device.features`), `frame_stack` consecutive frames side by side per row
  (`audio_lstm.device.frame_stack`; one frame per row when frame_stack is 1),
  ``h`` and ``c`` float32 (num_layers, 1, hidden_size) -- LSTM state;
* outputs ``scores`` float32 (1, steps, classes) -- per-step softmax probabilities,
  ``h_out`` and ``c_out`` -- the new state, fed back as ``h`` and ``c`` on the next call.

``steps`` may be any length >= 1. Its ``metadata_props`` carry everything the runtime needs
(see `METADATA_KEYS`); values are strings, JSON-encoded where structured. Format version 2 adds
the key ``frame_stack`` (frames per step, >= 2); version 1 files have one frame per step, and
export still writes version 1 for them so that older runtimes keep reading them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio_lstm.device.features import MfccConfig

FORMAT_NAME = "audio-lstm-streaming"
FORMAT_VERSION = 2  # the newest this runtime reads
SUPPORTED_VERSIONS = ("1", "2")
FRAME_STACK_KEY = "frame_stack"  # format version 2: MFCC frames per model step
INPUT_FEATURES, INPUT_H, INPUT_C = "features", "h", "c"
OUTPUT_SCORES, OUTPUT_H, OUTPUT_C = "scores", "h_out", "c_out"
WEIGHTS_KEY = "int8_weights"  # int8 files: "uint8" once the weights are stored unsigned (export)
UNSIGNED = "uint8"
THRESHOLDS_KEY = "thresholds"  # the metadata key `evaluate --write-thresholds` rewrites
METADATA_KEYS = (
    "format",  # FORMAT_NAME
    "format_version",  # one of SUPPORTED_VERSIONS; a runtime refuses versions it does not know
    "labels",  # JSON list of class names, in score order
    "sample_rate",  # Hz the front end expects
    "frontend",  # JSON of MfccConfig
    "state_shapes",  # JSON {"h": [layers, 1, hidden], "c": [...]}
    THRESHOLDS_KEY,  # JSON {label: default detection threshold}
    "model_version",  # free-form version string of this trained model
    "precision",  # "fp32" or "int8"
)


class ModelFileError(ValueError):
    """The file is not a streaming model this runtime can honour."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model file says about itself."""

    labels: tuple[str, ...]
    frontend: MfccConfig
    state_shape: tuple[int, int, int]
    thresholds: dict[str, float]
    model_version: str
    precision: str
    extra: dict[str, str]
    frame_stack: int = 1  # MFCC frames per model step

    @property
    def sample_rate(self) -> int:
        return self.frontend.sample_rate

    @property
    def step_width(self) -> int:
        """Features per model step (the graph's last input dimension)."""
        return self.frame_stack * self.frontend.n_mfcc

    @property
    def step_hop(self) -> int:
        """Samples between consecutive model steps."""
        return self.frame_stack * self.frontend.hop_length

    @property
    def step_span(self) -> int:
        """Samples one model step sees: its frames' hops plus one frame's length."""
        return (self.frame_stack - 1) * self.frontend.hop_length + self.frontend.n_fft

    @property
    def step_seconds(self) -> float:
        """Seconds between consecutive model steps (scores)."""
        return self.step_hop / self.frontend.sample_rate


def build_metadata(
    labels: tuple[str, ...],
    frontend: MfccConfig,
    state_shape: tuple[int, int, int],
    thresholds: dict[str, float],
    model_version: str,
    precision: str,
    extra: dict[str, Any] | None = None,
    frame_stack: int = 1,
) -> dict[str, str]:
    """The metadata_props dictionary export writes into a model file (version 1 unless frames are stacked)."""
    metadata = {
        "format": FORMAT_NAME,
        "format_version": "1" if frame_stack == 1 else str(FORMAT_VERSION),
        "labels": json.dumps(list(labels)),
        "sample_rate": str(frontend.sample_rate),
        "frontend": json.dumps(frontend.to_dict()),
        "state_shapes": json.dumps({"h": list(state_shape), "c": list(state_shape)}),
        "thresholds": json.dumps({label: float(thresholds[label]) for label in thresholds}),
        "model_version": model_version,
        "precision": precision,
    }
    if frame_stack != 1:
        metadata[FRAME_STACK_KEY] = str(frame_stack)
    for key, value in (extra or {}).items():
        metadata[key] = value if isinstance(value, str) else json.dumps(value)
    return metadata


def parse_metadata(metadata: dict[str, str], source: str | Path = "model") -> ModelInfo:
    """Validate metadata_props; raise ModelFileError naming the file and the problem."""

    def fail(problem: str) -> ModelFileError:
        return ModelFileError(f"{source}: {problem}")

    missing = [key for key in METADATA_KEYS if key not in metadata]
    if missing:
        raise fail(f"not an audio-lstm streaming model (metadata lacks {', '.join(missing)})")
    if metadata["format"] != FORMAT_NAME:
        raise fail(f"unknown model format {metadata['format']!r}, expected {FORMAT_NAME!r}")
    if metadata["format_version"] not in SUPPORTED_VERSIONS:
        raise fail(
            f"model format version {metadata['format_version']} is not supported by this runtime "
            f"(supports {', '.join(SUPPORTED_VERSIONS)}); upgrade audio-lstm or re-export the model"
        )
    try:
        labels = tuple(json.loads(metadata["labels"]))
        frontend = MfccConfig.from_dict(json.loads(metadata["frontend"]))
        shapes = json.loads(metadata["state_shapes"])
        state_shape = tuple(int(v) for v in shapes["h"])
        thresholds = {str(k): float(v) for k, v in json.loads(metadata["thresholds"]).items()}
        sample_rate = int(metadata["sample_rate"])
        frame_stack = int(metadata[FRAME_STACK_KEY]) if metadata["format_version"] != "1" else 1
    except (ValueError, KeyError, TypeError) as error:
        raise fail(f"unreadable model metadata: {error}") from error
    if sample_rate != frontend.sample_rate:
        raise fail(f"sample_rate {sample_rate} disagrees with the front end's {frontend.sample_rate}")
    if len(state_shape) != 3 or state_shape[1] != 1 or tuple(shapes["c"]) != state_shape:
        raise fail(f"unsupported state shapes {shapes}")
    if not labels or len(set(labels)) != len(labels):
        raise fail(f"labels must be unique and non-empty, got {list(labels)}")
    if frame_stack < 1:
        raise fail(f"{FRAME_STACK_KEY} must be >= 1, got {frame_stack}")
    unknown = sorted(set(thresholds) - set(labels))
    if unknown:
        raise fail(f"thresholds name labels the model does not have: {unknown}")
    extra = {k: v for k, v in metadata.items() if k not in METADATA_KEYS and k != FRAME_STACK_KEY}
    return ModelInfo(
        labels=labels,
        frontend=frontend,
        state_shape=state_shape,  # type: ignore[arg-type]
        thresholds=thresholds,
        model_version=metadata["model_version"],
        precision=metadata["precision"],
        extra=extra,
        frame_stack=frame_stack,
    )
