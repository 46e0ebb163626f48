"""Audio for `audio-lstm listen --input`: a file, or raw PCM or a WAV stream on stdin.

The blocks go through the daemon's own path (`daemon.Worker`: resampling, classifier, detector,
event sink with --events-file and --exec), exactly as microphone audio does; at the end of the
input the worker flushes, the daemon prints its summary and exits 0. stdin carries raw 16-bit
little-endian PCM (rate and channels from the options) or, when it starts with a RIFF/WAVE
header, a WAV stream whose header gives the format (a streaming writer's unknown length is fine).
"""

from __future__ import annotations

import os
import queue
import select
import struct
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile

from audio_lstm.device.audio_io import AudioFileError, audio_info, to_mono
from audio_lstm.device.daemon import CaptureQueue, Worker, warn
from audio_lstm.device.pcm import RAW_CHANNELS, RAW_RATE, RAW_WIDTH, PcmDecoder, check_format
from audio_lstm.device.signals import StopSignals

STDIN = "-"
POLL_S = 0.1  # reaction time to signals while waiting for input
UNBOUNDED_WAV = 0x7FFF0000  # a WAV data size of 0 or at least this means "until the end of the stream"
WAV_INT, WAV_FLOAT, WAV_EXTENSIBLE = 1, 3, 0xFFFE

Stopping = Callable[[], bool]


class InputError(ValueError):
    """Input that cannot be used; the message names it and why."""


class AudioSource:
    """Mono float32 blocks at `rate`: `start` once, then `read` until it returns None."""

    rate: int = 0
    description: str = ""

    def start(self, stopping: Stopping) -> None:
        """Get ready to read (a stream's header is read here); InputError when the input is unusable."""

    def read(self, stopping: Stopping) -> np.ndarray | None:
        """The next block (possibly empty), or None at the end of the input or once `stopping()`."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the input."""


class FileSource(AudioSource):
    """Any file soundfile reads, in blocks of `block_ms`."""

    def __init__(self, path: Path, block_ms: int) -> None:
        try:
            info = audio_info(path)
        except AudioFileError as error:
            raise InputError(f"--input {error}") from error
        if info.frames == 0:
            raise InputError(f"--input {path}: contains no samples")
        self.path, self.rate, self.description = path, int(info.samplerate), str(path)
        self.block = max(1, round(self.rate * block_ms / 1000))
        self._file: soundfile.SoundFile | None = None

    def start(self, stopping: Stopping) -> None:  # noqa: ARG002
        try:
            self._file = soundfile.SoundFile(str(self.path))
        except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
            raise InputError(f"--input {self.path}: cannot open: {error}") from error

    def read(self, stopping: Stopping) -> np.ndarray | None:
        if self._file is None or stopping():
            return None
        try:
            data = self._file.read(self.block, dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise InputError(f"--input {self.path}: audio data is corrupt or truncated ({error})") from error
        return to_mono(data) if len(data) else None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class StdinSource(AudioSource):
    """Raw PCM, or a WAV stream detected by its header, read from a file descriptor."""

    def __init__(self, fd: int, rate: int | None, channels: int | None, block_ms: int) -> None:
        self.fd, self.block_ms = fd, block_ms
        self.raw_rate, self.raw_channels = rate, channels
        self.rate, self.description = rate or RAW_RATE, "stdin"
        self._pending = b""  # bytes read while looking for a header, still to be decoded
        self._left: int | None = None  # bytes of WAV data still to read; None: until the end of input
        self._decoder: PcmDecoder | None = None
        self._block_bytes = 0

    def _read(self, size: int, stopping: Stopping) -> bytes:
        """Up to `size` bytes as soon as some are there; b'' at the end of input or once `stopping()`."""
        while not stopping():
            ready, _, _ = select.select([self.fd], [], [], POLL_S)
            if ready:
                return os.read(self.fd, size)
        return b""

    def _read_exact(self, size: int, stopping: Stopping) -> bytes:
        data = b""
        while len(data) < size:
            piece = self._read(size - len(data), stopping)
            if not piece:
                break
            data += piece
        return data

    def start(self, stopping: Stopping) -> None:
        head = self._read_exact(12, stopping)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            rate, width, channels, is_float = self._wav_header(stopping)
            if self.raw_rate or self.raw_channels:
                warn("--input-rate/--input-channels ignored: the WAV header on stdin gives the format")
            self.description = f"a WAV stream on stdin ({rate} Hz, {channels} ch, {8 * width}-bit)"
        else:
            self._pending = head
            rate, width, channels, is_float = self.rate, RAW_WIDTH, self.raw_channels or RAW_CHANNELS, False
            self.description = f"raw PCM on stdin ({rate} Hz, {channels} ch, 16-bit)"
        try:
            check_format(rate, width, channels, is_float)
        except ValueError as error:
            raise InputError(f"--input -: {error}") from error
        self.rate = rate
        self._decoder = PcmDecoder(width, channels, is_float)
        self._block_bytes = max(1, round(rate * self.block_ms / 1000)) * width * channels

    def _wav_header(self, stopping: Stopping) -> tuple[int, int, int, bool]:
        """Read chunks up to `data`: (rate, sample width in bytes, channels, float samples)."""
        fmt: tuple[int, int, int, bool] | None = None
        while True:
            header = self._read_exact(8, stopping)
            if len(header) < 8:
                raise InputError("--input -: the WAV stream on stdin ends before its audio data")
            chunk_id, size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"data":
                if fmt is None:
                    raise InputError("--input -: the WAV stream on stdin has no 'fmt ' chunk before its data")
                self._left = None if size == 0 or size >= UNBOUNDED_WAV else size
                return fmt
            body = self._read_exact(size + size % 2, stopping)
            if chunk_id == b"fmt ":
                fmt = _wav_format(body)

    def read(self, stopping: Stopping) -> np.ndarray | None:
        if self._decoder is None:
            return None
        size = self._block_bytes if self._left is None else min(self._block_bytes, self._left)
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
        else:
            data = self._read(size, stopping) if size else b""
        if not data:
            return None
        if self._left is not None:
            self._left -= len(data)
        return self._decoder.decode(data)


def _wav_format(body: bytes) -> tuple[int, int, int, bool]:
    """(rate, width, channels, is_float) of a WAV 'fmt ' chunk; InputError for compressed formats."""
    if len(body) < 16:
        raise InputError("--input -: the WAV stream on stdin has a truncated 'fmt ' chunk")
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == WAV_EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack("<H", body[24:26])[0]  # the sub-format GUID starts with the format tag
    if tag not in (WAV_INT, WAV_FLOAT) or channels < 1:
        raise InputError(
            f"--input -: the WAV stream on stdin is not PCM or float audio (format tag {tag:#x}, "
            f"{bits} bits); convert it, e.g. with ffmpeg -f wav -c:a pcm_s16le"
        )
    width = block_align // channels if block_align else (bits + 7) // 8
    return rate, width, channels, tag == WAV_FLOAT


def open_input(spec: str, rate: int | None, channels: int | None, block_ms: int, stdin_fd: int = 0) -> AudioSource:
    """The source `--input SPEC` names: '-' for stdin, otherwise a file. InputError names a bad one."""
    if spec == STDIN:
        return StdinSource(stdin_fd, rate, channels, block_ms)
    if rate or channels:
        warn("--input-rate/--input-channels ignored: they describe raw PCM on stdin (--input -)")
    return FileSource(Path(spec), block_ms)


def _put(capture: CaptureQueue, block: np.ndarray, worker: Worker, stopping: Stopping) -> None:
    """Hand a block to the worker, waiting while it is behind (input is never dropped)."""
    while worker.is_alive() and not stopping():
        try:
            capture.queue.put(block, timeout=POLL_S)
            return
        except queue.Full:
            continue


def play(source: AudioSource, worker: Worker, capture: CaptureQueue, realtime: bool = False) -> int:
    """Feed `source` through the daemon's worker until it ends or a signal stops it.

    0: end of input or stopped; 1: processing failed; 2: unusable input (InputError).
    """
    signals = StopSignals(hangup=worker.sink.request_reopen)  # SIGHUP reopens --events-file
    stopping: Stopping = lambda: signals.stopping  # noqa: E731
    signals.install()
    worker.start()
    code = 0
    try:
        source.start(stopping)
        worker.restart(source.rate, stopping)
        started, fed = time.monotonic(), 0
        while worker.is_alive() and not stopping():
            block = source.read(stopping)
            if block is None:
                break
            if len(block):
                _put(capture, block, worker, stopping)
                fed += len(block)
            while realtime and not stopping() and time.monotonic() < started + fed / source.rate:
                signals.wait(started + fed / source.rate - time.monotonic())  # a signal ends it at once
    except InputError as error:
        warn(str(error))
        code = 2
    finally:
        worker.finish(timeout=None)
        signals.restore()
        source.close()
    if worker.error is not None:
        warn(f"processing failed: {type(worker.error).__name__}: {worker.error}")
        return 1
    how = "stopped" if signals.stopping else "end of input"
    warn(f"{how} after {worker.seconds:.1f} s of audio from {source.description}; {worker.sink.summary()}")
    return code
