"""audio-lstm: streaming keyword and glass-break recognition (int8 LSTM, ONNX) for small boards.

The public API is `audio_lstm.device` (torch-free); its names are also reachable from here, loaded
on first use so that `import audio_lstm.device.labels` does not load onnxruntime.
"""

from __future__ import annotations


def _installed_version() -> str:
    """The installed distribution's version (importlib.metadata, ~3 MB resident: loaded only when asked)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("audio-lstm")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> object:
    """`audio_lstm.__version__`, and `audio_lstm.StreamingClassifier` and friends: the names of `audio_lstm.device`.

    Imports by module path: `from audio_lstm import device` would ask this function for `device`
    again (endless recursion for `from audio_lstm import cli` in a fresh interpreter).
    """
    if name == "__version__":
        return _installed_version()
    import importlib

    device = importlib.import_module("audio_lstm.device")
    if name in device.__all__:
        return getattr(device, name)
    raise AttributeError(f"module 'audio_lstm' has no attribute {name!r}")
