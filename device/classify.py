"""`audio-lstm classify`: label short clips (--clip), or find events in long recordings (default).

Event mode streams each file in blocks through the same `StreamingClassifier` + `Detector` pair
the live daemon uses (scores do not depend on the block size), so it reproduces what `listen`
would have reported for that audio; each file ends with a summary record (see `records`).
Clip mode holds a file whole, so it refuses one longer than CLIP_MAX_SECONDS, judged from the header
before anything is decoded. Both modes read in blocks of bounded size (`audio_io.iter_audio_blocks`),
whatever the header claims. A file that fails is one line on stderr and the batch goes on.
Torch-free.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from audio_lstm.device.audio_io import (
    AUDIO_SUFFIXES,
    AudioFileError,
    Warn,
    audio_info,
    check_sample_rate,
    display_name,
    find_audio_files,
    iter_audio_blocks,
)

# One definition of the clip tail, shared with training-time validation (0.3 s of zeros).
from audio_lstm.device.decisions import CLIP_TAIL_SECONDS, clip_label, pad_clip
from audio_lstm.device.detector import PEAK, Detector
from audio_lstm.device.heap import reuse_freed_memory
from audio_lstm.device.messages import EXIT_BAD_INPUT
from audio_lstm.device.model_file import ModelFileError
from audio_lstm.device.options import (
    NON_EVENT_LABELS,
    add_report_argument,
    add_threshold_argument,
    make_detector,
    parse_arguments,
    positive_int,
    resolve_thresholds,
    threshold_arg,
)
from audio_lstm.device.progress import ProgressLine
from audio_lstm.device.records import CLIP_FIELDS, EVENT_FIELDS, RecordWriter, summary_record
from audio_lstm.device.runtime import StreamingClassifier

__all__ = [
    "CLIP_MAX_SECONDS",
    "CLIP_TAIL_SECONDS",
    "NON_EVENT_LABELS",
    "main",
    "make_detector",
    "resolve_thresholds",
    "threshold_arg",
]

PROG = "audio-lstm classify"
BLOCK_SECONDS = 10.0  # event mode reads this much audio at a time
CLIP_MAX_SECONDS = 30.0  # --clip holds a file whole: longer ones are refused from the header (event mode reads any)
PROGRESS_MIN_SECONDS = 30.0  # files longer than this get a progress bar (when stderr is a terminal)


# -- classification -------------------------------------------------------------------------------


def check_header(path: Path, warn: Warn, model_rate: int, clip: bool) -> float:
    """Refuse what the header rules out before anything is decoded; warn about a narrow band.

    Returns the duration the header claims. Clip mode holds a file whole, so it takes at most
    CLIP_MAX_SECONDS; event mode reads any length in blocks.
    """
    info = audio_info(path)
    check_sample_rate(path, info.samplerate)
    duration = info.frames / info.samplerate
    if clip and duration > CLIP_MAX_SECONDS:
        raise AudioFileError(
            f"{display_name(path)}: {duration:.1f} s long; --clip takes clips of at most "
            f"{CLIP_MAX_SECONDS:g} s (run without --clip: event mode reads long recordings in blocks)"
        )
    if info.samplerate < model_rate:
        warn(
            f"{display_name(path)}: warning: recorded at {info.samplerate} Hz, so it lacks the "
            f"{info.samplerate // 2}-{model_rate // 2} Hz band the model uses; results may be less accurate"
        )
    return duration


def classify_clip(classifier: StreamingClassifier, path: Path, warn: Warn) -> dict[str, object]:
    """The whole file as one clip (plus CLIP_TAIL_SECONDS of zeros) -> {file, label, score}."""
    rate = classifier.sample_rate
    check_header(path, warn, rate, clip=True)
    blocks = list(iter_audio_blocks(path, BLOCK_SECONDS, rate, max_seconds=CLIP_MAX_SECONDS, warn=warn))
    audio = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)  # a few samples may resample to none
    scores = classifier.predict_clip(pad_clip(audio, rate))
    label, score = clip_label(scores, classifier.labels, classifier.smoothing_frames)
    return {"file": display_name(path), "label": label, "score": round(score, 4)}


def stream_events(
    classifier: StreamingClassifier, detector: Detector, path: Path, warn: Warn, progress: bool
) -> Iterator[dict[str, object]]:
    """Events of one recording, streamed in blocks, each as soon as it has ended; then its summary."""
    classifier.reset()
    detector.reset()
    duration = check_header(path, warn, classifier.sample_rate, clip=False)
    name, rate, count, samples = display_name(path), classifier.sample_rate, 0, 0
    show = progress and duration > PROGRESS_MIN_SECONDS
    with ProgressLine(name, duration, sys.stderr, enabled=show) as bar:

        def warn_off_bar(message: str) -> None:
            bar.clear()
            warn(message)

        for block in iter_audio_blocks(path, BLOCK_SECONDS, rate, warn=warn_off_bar):
            events = detector.update(classifier.process(block))
            if events:
                bar.clear()  # the caller prints the records: keep them off the bar's line
            for event in events:
                count += 1
                yield {"file": name, **event.to_dict()}
            samples += len(block)
            bar.update(len(block) / rate)
    for event in detector.update(classifier.flush()) + detector.flush():
        count += 1
        yield {"file": name, **event.to_dict()}
    yield summary_record(name, count, samples / rate)


def build_parser() -> argparse.ArgumentParser:
    """The `classify` command line."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Classify audio files with the streaming model. Default: events in recordings of any "
        "length (one record per event, then one summary record per file); --clip: one label per "
        f"file of at most {CLIP_MAX_SECONDS:g} s. Exit status: 0 all files done, 1 some file "
        "failed (each failure is one line on stderr; the other files are still done), 2 usage or "
        "model error.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=f"audio files or directories (searched recursively for {', '.join(AUDIO_SUFFIXES)})",
    )
    parser.add_argument("--model", type=Path, help="ONNX model file (default: the bundled model)")
    parser.add_argument(
        "--clip",
        action="store_true",
        help=f"treat each file as one short clip of at most {CLIP_MAX_SECONDS:g} s (scored with "
        f"{CLIP_TAIL_SECONDS} s of zeros appended)",
    )
    parser.add_argument(
        "--format",
        choices=("table", "jsonl", "csv"),
        help="output format (default: table on a terminal, jsonl otherwise)",
    )
    add_threshold_argument(parser, "event mode: ")
    parser.add_argument("--threads", type=positive_int, default=1, help="inference threads (default 1)")
    add_report_argument(parser, PEAK)
    return parser


def _stderr(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _failure(path: Path, error: Exception) -> str:
    """One line naming the file and what went wrong, whatever the error."""
    if isinstance(error, AudioFileError):
        return str(error)
    if isinstance(error, OSError):
        return f"{display_name(path)}: {error.strerror or error}"
    lines = str(error).strip().splitlines()
    return f"{display_name(path)}: failed: {type(error).__name__}" + (f": {lines[0]}" if lines else "")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `audio-lstm classify`. 0: all files done; 1: some failed; 2: usage/model error, or no
    audio file at all in the paths given."""
    parser = build_parser()
    args = parse_arguments(parser, argv)
    if isinstance(args, int):
        return args
    reuse_freed_memory()  # long files: 10 s blocks of arrays, reused instead of faulted in again
    if args.clip and args.threshold:
        parser.print_usage(sys.stderr)
        _stderr(
            "error: --threshold applies to event mode (without --clip); --clip reports each file's top label, "
            "which no threshold decides"
        )
        return 2
    try:
        classifier = StreamingClassifier(args.model, threads=args.threads)
        thresholds = resolve_thresholds(classifier.labels, classifier.info.thresholds, args.threshold)
    except ModelFileError as error:
        _stderr(str(error))
        return 2
    except ValueError as error:
        parser.print_usage(sys.stderr)
        _stderr(f"error: {error}")
        return 2

    files, problems = find_audio_files(args.paths)
    for problem in problems:
        _stderr(problem)
    if not files:  # nothing to classify: bad input, not a failed file
        return EXIT_BAD_INPUT
    out = sys.stdout
    fmt = args.format or ("table" if _isatty(out) else "jsonl")
    widths = {"file": max((len(display_name(f)) for f in files), default=0), "label": max(map(len, classifier.labels))}
    writer = RecordWriter(fmt, CLIP_FIELDS if args.clip else EVENT_FIELDS, out, widths)
    detector = None if args.clip else make_detector(classifier, thresholds, report=args.report)
    progress = _isatty(sys.stderr)
    failed = bool(problems)
    try:
        for path in files:
            try:
                if detector is None:
                    writer.write(classify_clip(classifier, path, _stderr))
                else:
                    for record in stream_events(classifier, detector, path, _stderr, progress):
                        writer.write(record)
            except BrokenPipeError:
                raise
            except Exception as error:  # noqa: BLE001 - one file's failure, whatever it is, must not end the batch
                failed = True
                _stderr(_failure(path, error))
            writer.flush()
    except BrokenPipeError:  # e.g. `| head`: stop quietly
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
