"""Reading audio files as 16 kHz mono float32, with errors that name the file and the problem.

Torch-free: used by training data readers and the device runtime alike. `iter_audio_blocks` reads
in blocks of bounded size whatever a file's header claims (sample rate, channels, length), so
memory never grows with the recording; `load_audio` reads a whole (short) file at once.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import soundfile
import soxr

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")  # what directory scans pick up (explicit files: any)
MIN_SAMPLE_RATE = 1000  # Hz; below this a header is taken for corrupt (upsampling would multiply the data)
MAX_SAMPLE_RATE = 768_000  # Hz; the highest rate recording hardware offers
BLOCK_SAMPLES = 1 << 20  # most samples (frames x channels) decoded at once: 4 MiB of float32
SAMPLE_LIMIT = 1e6  # |sample| beyond this is corrupt data (the front end's power spectrum would overflow)
_STREAMED_LENGTHS = 0x7FFFFFFF  # data sizes at or above this are "unknown length" marks of streaming writers
_DATA_LOG = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)  # libsndfile's WAV log line

Warn = Callable[[str], None]


class AudioFileError(ValueError):
    """An input file that cannot be used; the message names the file and why."""


def display_name(path: Path | str | bytes) -> str:
    """A path as one printable line: undecodable bytes as \\xNN, control characters escaped."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


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
        return soundfile.info(os.fsencode(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise _undecodable(path, error) from error


def check_sample_rate(path: Path | str, rate: int) -> None:
    """AudioFileError unless `rate` lies in [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE] (a corrupt header otherwise)."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioFileError(
            f"{display_name(path)}: header says {rate} Hz; supported rates are "
            f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz (corrupt header?)"
        )


def load_audio(path: Path | str, sample_rate: int = 16000) -> np.ndarray:
    """Whole file -> mono float32 at `sample_rate`. Any rate, channel count, WAV/FLAC/OGG/MP3."""
    path = Path(path)
    _check_path(path)
    try:
        audio, rate = soundfile.read(os.fsencode(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise _undecodable(path, error) from error
    if audio.shape[0] == 0:
        raise AudioFileError(f"{display_name(path)}: contains no samples")
    return resample(to_mono(audio), rate, sample_rate)


def iter_audio_blocks(
    path: Path | str,
    block_seconds: float = 10.0,
    sample_rate: int = 16000,
    *,
    max_seconds: float | None = None,
    warn: Warn | None = None,
) -> Iterator[np.ndarray]:
    """Stream a file as mono float32 blocks at `sample_rate`, never holding more than one block.

    A block is at most `block_seconds` of audio and BLOCK_SAMPLES decoded samples, whatever the
    header says. Files with a sample rate outside [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE] are refused;
    NaN/infinite samples become 0 and absurd ones are clipped to ±SAMPLE_LIMIT, with one `warn`
    per file; so is data shorter than the header declares. More than `max_seconds` of audio
    raises AudioFileError (for readers that must hold the whole file).
    """
    path = Path(path)
    name = display_name(path)
    info = audio_info(path)
    check_sample_rate(path, info.samplerate)
    if info.frames == 0:
        raise AudioFileError(f"{name}: contains no samples")
    say = warn or (lambda message: None)  # noqa: ARG005
    _warn_if_truncated(name, info, say)
    resampler = (
        None
        if info.samplerate == sample_rate
        else soxr.ResampleStream(info.samplerate, sample_rate, 1, dtype="float32", quality="HQ")
    )
    block = max(1, min(int(block_seconds * info.samplerate), BLOCK_SAMPLES // max(1, info.channels)))
    limit = None if max_seconds is None else int(max_seconds * info.samplerate)
    frames, cleaned = 0, False
    try:
        with soundfile.SoundFile(os.fsencode(path)) as handle:
            while True:
                data = handle.read(block, dtype="float32", always_2d=True)
                frames += len(data)
                if limit is not None and frames > limit:
                    raise AudioFileError(f"{name}: holds more than the {max_seconds:g} s its reader takes")
                last = len(data) < block
                if not cleaned and _clean(data):
                    cleaned = True
                    say(
                        f"{name}: warning: NaN, infinite or absurd samples (|x| > {SAMPLE_LIMIT:g}): "
                        "NaN and infinite ones set to 0, the rest clipped"
                    )
                elif cleaned:
                    _clean(data)
                mono = to_mono(data)
                if resampler is not None:
                    mono = resampler.resample_chunk(mono, last=last)
                if len(mono):
                    yield mono.astype(np.float32, copy=False)
                if last:
                    break
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioFileError(f"{name}: audio data is corrupt or truncated ({_short(error)})") from error
    if 0 < frames < info.frames:
        say(
            f"{name}: warning: audio data ends at {frames / info.samplerate:.3f} s, but the header says "
            f"{info.frames / info.samplerate:.3f} s (truncated file?)"
        )


def find_audio_files(paths: list[Path | str]) -> tuple[list[Path], list[str]]:
    """Expand files and directories (recursively) into audio files; also return problems found."""
    files: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                problems.append(f"{display_name(path)}: directory holds no {', '.join(AUDIO_SUFFIXES)} files")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(f"{display_name(path)}: no such file or directory")
    return files, problems


def _clean(data: np.ndarray) -> bool:
    """Zero non-finite samples and clip absurd ones in place; True if there were any."""
    if np.isfinite(data).all() and (not data.size or np.abs(data).max() <= SAMPLE_LIMIT):
        return False
    np.nan_to_num(data, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    np.clip(data, -SAMPLE_LIMIT, SAMPLE_LIMIT, out=data)
    return True


def _warn_if_truncated(name: str, info: soundfile._SoundFileInfo, say: Warn) -> None:
    """libsndfile reads a WAV whose data chunk is cut short and logs "data : DECLARED (should be HELD)"."""
    found = _DATA_LOG.search(info.extra_info or "")
    if found is None:
        return
    declared, held = map(int, found.groups())
    if held < declared < _STREAMED_LENGTHS:
        say(
            f"{name}: warning: the header declares {declared} bytes of audio data but the file holds {held} "
            f"(truncated file?); reading {info.frames / info.samplerate:.3f} s"
        )


def _undecodable(path: Path, error: Exception) -> AudioFileError:
    return AudioFileError(f"{display_name(path)}: cannot decode: not a readable audio file ({_short(error)})")


def _check_path(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise AudioFileError(f"{display_name(path)}: no such file") from None
    if stat.S_ISDIR(mode):
        raise AudioFileError(f"{display_name(path)}: is a directory, not an audio file")
    if not stat.S_ISREG(mode):
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "a special file"
        )
        raise AudioFileError(f"{display_name(path)}: not a regular audio file ({kind})")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{display_name(path)}: file is empty (0 bytes)")


def _short(error: Exception) -> str:
    """The first line of an error, without soundfile's "Error opening <name>: " (the name is said already)."""
    text = (getattr(error, "error_string", None) or str(error)).strip().splitlines()
    return text[0].rstrip(".") if text else type(error).__name__
