"""The default model shipped inside the package (`audio_lstm/models/default.int8.onnx`)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from audio_lstm.device.model_file import ModelFileError

MODELS_PACKAGE = "audio_lstm.models"
DEFAULT_MODEL_FILE = "default.int8.onnx"


def default_model_path() -> Path:
    """Filesystem path of the bundled int8 model; ModelFileError if the install lacks it."""
    try:
        resource = resources.files(MODELS_PACKAGE) / DEFAULT_MODEL_FILE
    except ModuleNotFoundError as error:  # pragma: no cover - broken install
        raise ModelFileError(f"no bundled model: package {MODELS_PACKAGE} is not installed") from error
    if not resource.is_file():
        raise ModelFileError(
            f"no bundled model: {DEFAULT_MODEL_FILE} is missing from {MODELS_PACKAGE}; run `make model` or pass --model"
        )
    # Regular (non-zipped) installs, editable ones included, keep package data on disk.
    return Path(str(resource))
