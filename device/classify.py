"""`audio-lstm classify`: label short clips (--clip), or find events in long recordings (default).

Event mode streams each file in blocks through the same `StreamingClassifier` + `Detector` pair
the live daemon uses (scores do not depend on the block size), so it reproduces what `listen`
would have reported for that audio. Torch-free.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from audio_lstm.device.audio_io import AudioFileError, audio_info, find_audio_files, iter_audio_blocks, load_audio

# One definition of the clip tail, shared with training-time validation (0.3 s of zeros).
from audio_lstm.device.decisions import CLIP_TAIL_SECONDS, clip_label, pad_clip
from audio_lstm.device.detector import PEAK, Detector
from audio_lstm.device.model_file import ModelFileError
from audio_lstm.device.options import (
    NON_EVENT_LABELS,
    add_report_argument,
    make_detector,
    positive_int,
    resolve_thresholds,
    threshold_arg,
)
from audio_lstm.device.runtime import StreamingClassifier

__all__ = ["CLIP_TAIL_SECONDS", "NON_EVENT_LABELS", "main", "make_detector", "resolve_thresholds", "threshold_arg"]

PROG = "audio-lstm classify"
BLOCK_SECONDS = 10.0  # event mode reads this much audio at a time
PROGRESS_MIN_SECONDS = 30.0  # files longer than this get a progress bar (when stderr is a terminal)
CLIP_FIELDS = ("file", "label", "score")
EVENT_FIELDS = ("file", "label", "start_s", "end_s", "score")


# -- output ---------------------------------------------------------------------------------------


class RecordWriter:
    """Writes records as jsonl, csv (with header) or an aligned table, one line per record."""

    def __init__(self, fmt: str, fields: tuple[str, ...], stream: TextIO, widths: dict[str, int]) -> None:
        self.fmt, self.fields, self.stream = fmt, fields, stream
        self.widths = {name: max(widths.get(name, 0), len(name)) for name in fields}
        for name in ("start_s", "end_s"):
            self.widths[name] = max(self.widths[name], 9) if name in fields else 0
        if "score" in fields:
            self.widths["score"] = 6
        self._csv = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(fields)
        elif fmt == "table":
            stream.write(self._row({name: name for name in fields}) + "\n")

    def _row(self, values: dict[str, object]) -> str:
        cells = []
        for name in self.fields:
            value = values[name]
            if isinstance(value, float):
                text = f"{value:.4f}" if name == "score" else f"{value:.3f}"
                cells.append(text.rjust(self.widths[name]))
            elif name in ("start_s", "end_s", "score"):
                cells.append(str(value).rjust(self.widths[name]))
            else:
                cells.append(str(value).ljust(self.widths[name]))
        return "  ".join(cells).rstrip()

    def write(self, record: dict[str, object]) -> None:
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(record) + "\n")
        elif self._csv is not None:
            self._csv.writerow([record[name] for name in self.fields])
        else:
            self.stream.write(self._row(record) + "\n")

    def flush(self) -> None:
        self.stream.flush()


# -- classification -------------------------------------------------------------------------------


def classify_clip(classifier: StreamingClassifier, path: Path) -> dict[str, object]:
    """The whole file as one clip (plus CLIP_TAIL_SECONDS of zeros) -> {file, label, score}."""
    audio = load_audio(path, classifier.sample_rate)
    scores = classifier.predict_clip(pad_clip(audio, classifier.sample_rate))
    label, score = clip_label(scores, classifier.labels, classifier.smoothing_frames)
    return {"file": str(path), "label": label, "score": round(score, 4)}


def stream_events(classifier: StreamingClassifier, detector: Detector, path: Path,
                  progress: bool) -> Iterator[dict[str, object]]:
    """Events of one recording, streamed in blocks; yields each as soon as it has ended."""
    classifier.reset()
    detector.reset()
    duration = audio_info(path).duration
    show = progress and duration > PROGRESS_MIN_SECONDS
    rate = classifier.sample_rate
    with tqdm(total=round(duration, 1), unit="s", desc=path.name, file=sys.stderr, disable=not show,
              leave=False, bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s") as bar:
        for block in iter_audio_blocks(path, BLOCK_SECONDS, rate):
            events = detector.update(classifier.process(block))
            if events:
                bar.clear()  # the caller prints the records: keep them off the bar's line
            for event in events:
                yield {"file": str(path), **event.to_dict()}
            bar.update(len(block) / rate)
    for event in detector.update(classifier.flush()) + detector.flush():
        yield {"file": str(path), **event.to_dict()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Classify audio files with the streaming model. Default: events in long recordings "
                    "(one record per event); --clip: one label per file.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="audio files or directories (searched recursively "
                        "for .wav, .flac, .ogg)")
    parser.add_argument("--model", type=Path, help="ONNX model file (default: the bundled model)")
    parser.add_argument("--clip", action="store_true",
                        help=f"treat each file as one short clip (scored with {CLIP_TAIL_SECONDS} s of zeros appended)")
    parser.add_argument("--format", choices=("table", "jsonl", "csv"),
                        help="output format (default: table on a terminal, jsonl otherwise)")
    parser.add_argument("--threshold", type=threshold_arg, action="append", default=[], metavar="LABEL=VALUE",
                        help="detection threshold of a label, overriding the model's (repeatable)")
    parser.add_argument("--threads", type=positive_int, default=1, help="inference threads (default 1)")
    add_report_argument(parser, PEAK)
    return parser


def _stderr(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _warn_low_rate(path: Path, model_rate: int) -> None:
    """Tell the user when a file cannot carry the band the model listens to (processing goes on)."""
    rate = audio_info(path).samplerate
    if rate < model_rate:
        _stderr(f"{path}: warning: recorded at {rate} Hz, so it lacks the {rate // 2}-{model_rate // 2} Hz band "
                f"the model uses; results may be less accurate")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    """Entry point of `audio-lstm classify`. 0: all files done; 1: some failed; 2: usage/model error."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error (2)
        return stop.code if isinstance(stop.code, int) else 2
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
    out = sys.stdout
    fmt = args.format or ("table" if _isatty(out) else "jsonl")
    widths = {"file": max((len(str(f)) for f in files), default=0), "label": max(map(len, classifier.labels))}
    writer = RecordWriter(fmt, CLIP_FIELDS if args.clip else EVENT_FIELDS, out, widths)
    detector = None if args.clip else make_detector(classifier, thresholds, report=args.report)
    progress = _isatty(sys.stderr)
    failed = bool(problems)
    try:
        for path in files:
            try:
                _warn_low_rate(path, classifier.sample_rate)
                if detector is None:
                    writer.write(classify_clip(classifier, path))
                else:
                    for record in stream_events(classifier, detector, path, progress):
                        writer.write(record)
            except AudioFileError as error:
                failed = True
                _stderr(str(error))
            except BrokenPipeError:
                raise
            except OSError as error:
                failed = True
                _stderr(f"{path}: {error.strerror or error}")
            writer.flush()
    except BrokenPipeError:  # e.g. `| head`: stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
