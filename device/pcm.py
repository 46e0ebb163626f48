"""Raw PCM bytes -> mono float32, in pieces of any size, and streaming resampling to the model rate.

Shared by `listen --input` (raw PCM and WAV streams on stdin) and `serve` (Wyoming audio chunks).
Samples are little-endian; 8-bit samples are unsigned (as in WAV files and in the `wyoming`
package's own converter), wider integer samples signed; float samples are 4 or 8 bytes wide.
Channels are averaged to mono, as `audio_io.to_mono` does for files.
"""

from __future__ import annotations

import numpy as np
import soxr

RAW_RATE, RAW_CHANNELS, RAW_WIDTH = 16000, 1, 2  # raw PCM on `listen --input -` unless its options say otherwise
INT_WIDTHS = (1, 2, 3, 4)  # bytes per integer sample
FLOAT_WIDTHS = (4, 8)  # bytes per float sample
MAX_CHANNELS = 64


def check_format(rate: int, width: int, channels: int, is_float: bool = False) -> None:
    """ValueError naming the problem unless rate, sample width and channel count can be decoded."""
    widths = FLOAT_WIDTHS if is_float else INT_WIDTHS
    if not isinstance(rate, int) or rate < 1:
        raise ValueError(f"sample rate must be a positive integer, got {rate!r}")
    if width not in widths:
        kind = "float" if is_float else "integer"
        raise ValueError(f"unsupported {kind} sample width {width!r} bytes (supported: {', '.join(map(str, widths))})")
    if not isinstance(channels, int) or not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"channel count must be 1..{MAX_CHANNELS}, got {channels!r}")


def _samples(data: bytes | memoryview, width: int, is_float: bool) -> np.ndarray:
    """Interleaved samples as float32 in [-1, 1] (integers) or as stored (floats)."""
    if is_float:
        return np.frombuffer(data, dtype=f"<f{width}").astype(np.float32)
    if width == 1:
        return (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 3:  # 24-bit: place the 3 bytes in the top of an int32, then scale like 32-bit
        packed = np.zeros((len(data) // 3, 4), dtype=np.uint8)
        packed[:, 1:] = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3)
        return packed.view("<i4")[:, 0].astype(np.float32) / 2.0**31
    return np.frombuffer(data, dtype=f"<i{width}").astype(np.float32) / float(2 ** (8 * width - 1))


class PcmDecoder:
    """Interleaved PCM bytes -> mono float32; a partial frame at the end of a piece waits for the next."""

    def __init__(self, width: int, channels: int, is_float: bool = False) -> None:
        check_format(1, width, channels, is_float)
        self.width, self.channels, self.is_float = width, channels, is_float
        self.frame_bytes = width * channels
        self._rest = b""

    def decode(self, data: bytes) -> np.ndarray:
        """The complete frames of `data` (after the bytes held from the previous call) as mono float32."""
        buffer = self._rest + data if self._rest else data
        usable = len(buffer) - len(buffer) % self.frame_bytes
        self._rest = bytes(buffer[usable:])
        samples = _samples(memoryview(buffer)[:usable], self.width, self.is_float)
        if self.channels == 1:
            return samples
        return samples.reshape(-1, self.channels).mean(axis=1, dtype=np.float32)

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete frame held for the next call (dropped if the stream ends there)."""
        return len(self._rest)


class StreamResampler:
    """Streaming soxr resampling of mono float32 chunks (a pass-through when the rates agree)."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        self.source_rate, self.target_rate = source_rate, target_rate
        self._stream = (
            None
            if source_rate == target_rate
            else soxr.ResampleStream(source_rate, target_rate, 1, dtype="float32", quality="HQ")
        )
        self._spent = False

    def process(self, audio: np.ndarray) -> np.ndarray:
        """Resample the next chunk; the output may lag the input by soxr's filter delay."""
        if self._spent:
            raise RuntimeError("this resampler was flushed; make a new one for the next stream")
        audio = np.asarray(audio, dtype=np.float32)
        if self._stream is None or not len(audio):
            return audio
        return self._stream.resample_chunk(audio)

    def flush(self) -> np.ndarray:
        """End of stream: the samples still inside the filter. The resampler is spent afterwards."""
        stream, self._stream, self._spent = self._stream, None, True
        if stream is None:
            return np.zeros(0, dtype=np.float32)
        return stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
