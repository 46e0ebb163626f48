"""Reading audio files as 16 kHz mono float32, with errors that name the file and the problem.

Torch-free: used by training data readers and the device runtime alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile
import soxr

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


class AudioFileError(ValueError):
    """An input file that cannot be used; the message names the file and why."""


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """High-quality resampling (soxr) of mono or (samples, channels) audio."""
    if source_rate == target_rate:
        return audio
    return soxr.resample(audio, source_rate, target_rate, quality="HQ").astype(np.float32, copy=False)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average channels: (samples, channels) -> (samples,)."""
    return audio.mean(axis=1) if audio.ndim == 2 else audio


def audio_info(path: Path | str) -> soundfile._SoundFileInfo:
    """soundfile's header info, with AudioFileError for anything unreadable."""
    path = Path(path)
    _check_path(path)
    try:
        return soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioFileError(f"{path}: not a readable audio file ({_short(error)})") from error


def load_audio(path: Path | str, sample_rate: int = 16000) -> np.ndarray:
    """Whole file -> mono float32 at `sample_rate`. Any rate, channel count, WAV/FLAC/OGG."""
    path = Path(path)
    _check_path(path)
    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioFileError(f"{path}: not a readable audio file ({_short(error)})") from error
    if audio.shape[0] == 0:
        raise AudioFileError(f"{path}: contains no samples")
    return resample(to_mono(audio), rate, sample_rate)


def iter_audio_blocks(path: Path | str, block_seconds: float = 10.0, sample_rate: int = 16000) -> Iterator[np.ndarray]:
    """Stream a long file as mono float32 blocks at `sample_rate`, without loading it whole."""
    path = Path(path)
    info = audio_info(path)
    if info.frames == 0:
        raise AudioFileError(f"{path}: contains no samples")
    resampler = None if info.samplerate == sample_rate else soxr.ResampleStream(
        info.samplerate, sample_rate, 1, dtype="float32", quality="HQ"
    )
    block = max(1, int(block_seconds * info.samplerate))
    try:
        with soundfile.SoundFile(str(path)) as handle:
            while True:
                data = handle.read(block, dtype="float32", always_2d=True)
                last = len(data) < block
                mono = to_mono(data)
                if resampler is not None:
                    mono = resampler.resample_chunk(mono, last=last)
                if len(mono):
                    yield mono.astype(np.float32, copy=False)
                if last:
                    break
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioFileError(f"{path}: audio data is corrupt or truncated ({_short(error)})") from error


def find_audio_files(paths: list[Path | str]) -> tuple[list[Path], list[str]]:
    """Expand files and directories (recursively) into audio files; also return problems found."""
    files: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                problems.append(f"{path}: directory holds no .wav, .flac or .ogg files")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or directory")
    return files, problems


def _check_path(path: Path) -> None:
    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    if path.is_dir():
        raise AudioFileError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: file is empty (0 bytes)")


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
