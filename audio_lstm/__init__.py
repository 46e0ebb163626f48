"""audio-lstm: streaming keyword and glass-break recognition (int8 LSTM, ONNX) for small boards."""

from audio_lstm.device.bundled import default_model_path
from audio_lstm.device.detector import Detector, Event
from audio_lstm.device.model_file import ModelFileError
from audio_lstm.device.runtime import StreamingClassifier
from audio_lstm.features import MfccConfig, StreamingMfcc, mfcc
from audio_lstm.labels import EVENT_LABELS, KEYWORDS, LABELS

__all__ = ["AudioFileError", "Detector", "EVENT_LABELS", "Event", "KEYWORDS", "LABELS", "MfccConfig",
           "ModelFileError", "StreamingClassifier", "StreamingMfcc", "default_model_path", "load_audio", "mfcc"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """File reading (soundfile) loads on first use, so the live daemon never pays for it."""
    if name in ("AudioFileError", "load_audio"):
        from audio_lstm import audio_io

        return getattr(audio_io, name)
    raise AttributeError(f"module 'audio_lstm' has no attribute {name!r}")
