"""The torch-free device side: labels, front end, model-file contract, streaming runtime, detector.

The public API loads on first use, so `import audio_lstm.device.labels` does not load onnxruntime::

    from audio_lstm.device import StreamingClassifier, Detector
    classifier = StreamingClassifier()            # the bundled model
    scores = classifier.process(chunk)            # float32 mono 16 kHz, any chunk size
"""

from __future__ import annotations

import importlib

_PUBLIC: dict[str, str] = {
    "StreamingClassifier": "runtime",
    "Detector": "detector",
    "Event": "detector",
    "ModelFileError": "model_file",
    "default_model_path": "bundled",
    "MfccConfig": "features",
    "StreamingMfcc": "features",
    "mfcc": "features",
    "EVENT_LABELS": "labels",
    "KEYWORDS": "labels",
    "LABELS": "labels",
    "AudioFileError": "audio_io",
    "load_audio": "audio_io",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> object:
    """Import the module that defines `name` on first use."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'audio_lstm.device' has no attribute {name!r}")
    return getattr(importlib.import_module(f"audio_lstm.device.{_PUBLIC[name]}"), name)
