"""`audio-lstm listen`: live microphone daemon printing one JSON line per detected event.

`--input FILE` or `--input -` (stdin) feeds a file or a pipe through the same worker, detector and
event sink instead (`audio_lstm.device.audio_sources`) and exits at the end of the input.

Captures mono float32 at the input device's default rate (16 kHz when unknown), resamples to the
model rate in a worker thread and runs the same classifier + detector as `audio-lstm classify`,
returning each event when its score crosses the threshold (`--report crossing`, the default; see
`audio_lstm.device.detector`). Events go to stdout, `--events-file`, `--exec` and `--mqtt`
(`audio_lstm.device.mqtt_events`). Stops cleanly on SIGINT/SIGTERM; SIGHUP reopens `--events-file`
(log rotation). A failing or vanished device and a stalled stream (no audio for `--stall-s`) are
retried with exponential back-off (`audio_lstm.device.microphone`); a `--device` that cannot work
at start-up is a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from types import ModuleType

from audio_lstm.device.daemon import PROG, CaptureQueue, EventSink, Worker, warn
from audio_lstm.device.detector import CROSSING
from audio_lstm.device.hooks import OUTPUT_MODES, CommandRunner
from audio_lstm.device.microphone import (
    DEFAULT_STALL_S,
    Daemon,
    DeviceChoiceError,
    InputDevice,
    exit_now,
    resolve_device,
)
from audio_lstm.device.model_file import ModelFileError
from audio_lstm.device.mqtt_events import MqttUnavailable, add_mqtt_arguments, publisher_from_args
from audio_lstm.device.options import (
    add_report_argument,
    add_threshold_argument,
    event_labels,
    make_detector,
    number_in,
    parse_arguments,
    positive_int,
    resolve_thresholds,
)
from audio_lstm.device.pcm import RAW_CHANNELS, RAW_RATE
from audio_lstm.device.runtime import StreamingClassifier

QUEUE_SECONDS = 5.0  # audio the capture queue holds before dropping chunks
DEFAULT_REPORT = CROSSING  # events are returned when their score crosses the threshold (--report)


def seconds_arg(text: str) -> float:
    """argparse type for a duration in seconds (> 0)."""
    return number_in(text, lambda number: 0 < number < math.inf, "seconds > 0")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Detect keywords and glass breaking on a live microphone; prints one JSON line per event.",
    )
    parser.add_argument("--model", type=Path, help="ONNX model file (default: the bundled model)")
    parser.add_argument("--device", help="input device name (substring) or index; default: the system's default")
    parser.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    parser.add_argument("--threads", type=positive_int, default=1, help="inference threads (default 1)")
    add_threshold_argument(parser)
    parser.add_argument(
        "--events-file",
        type=Path,
        help="also append each event's JSON line to this file; a failing write is warned about "
        "once and retried later (events still go to stdout); SIGHUP reopens it, for log "
        "rotation (default: stdout only)",
    )
    parser.add_argument(
        "--exec",
        dest="command",
        metavar="CMD",
        help="run CMD (no shell) for each event, with "
        "AUDIO_LSTM_LABEL, AUDIO_LSTM_SCORE, AUDIO_LSTM_START_S, AUDIO_LSTM_END_S set; its stdout "
        "and stderr go to the daemon's stderr as 'exec[PID]: LINE' (never to stdout, which "
        "carries only events), or to /dev/null (--exec-output null); at most 8 run at once "
        "(default: none)",
    )
    parser.add_argument(
        "--exec-output",
        choices=OUTPUT_MODES,
        default="stderr",
        help="where --exec commands' output goes (default stderr)",
    )
    parser.add_argument(
        "--stall-s",
        type=seconds_arg,
        default=DEFAULT_STALL_S,
        metavar="SECONDS",
        help="no audio from the microphone for this long is a stall: warned about, counted, and "
        f"the stream reopened (default {DEFAULT_STALL_S:g})",
    )
    parser.add_argument("--chunk-ms", type=positive_int, default=80, help="capture block length (default 80 ms)")
    parser.add_argument(
        "--input",
        metavar="FILE|-",
        help="instead of a microphone, read a file (any format soundfile "
        "reads) or, with -, stdin: raw 16-bit little-endian PCM or a WAV stream; exits at its end "
        "(default: the microphone)",
    )
    parser.add_argument(
        "--input-rate", type=positive_int, metavar="HZ", help=f"sample rate of raw PCM on stdin (default {RAW_RATE})"
    )
    parser.add_argument(
        "--input-channels",
        type=positive_int,
        metavar="N",
        help=f"channels of raw PCM on stdin, interleaved (default {RAW_CHANNELS})",
    )
    parser.add_argument(
        "--realtime", action="store_true", help="with --input: play at real-time speed (default: as fast as possible)"
    )
    add_report_argument(parser, DEFAULT_REPORT)
    add_mqtt_arguments(parser)
    return parser


def list_devices(sd: ModuleType) -> int:
    """Print input-capable devices as `INDEX  NAME  (channels, rate)`; 0 even when there are none."""
    try:
        devices = sd.query_devices()
        default_input = sd.default.device[0]
    except Exception as error:  # noqa: BLE001 - PortAudio errors vary by platform
        warn(f"cannot list audio devices: {error}")
        return 1
    inputs = [(i, d) for i, d in enumerate(devices) if d.get("max_input_channels", 0) > 0]
    if not inputs:
        warn("no audio input devices found")
    for index, device in inputs:
        mark = "  (default)" if index == default_input else ""
        print(
            f"{index:3d}  {device['name']}  ({device['max_input_channels']} ch, "
            f"{device['default_samplerate']:.0f} Hz){mark}"
        )
    return 0


def parse_device(text: str | None) -> int | str | None:
    """`--device`: an index when all digits, else a name substring; None for the default."""
    return int(text) if text is not None and text.strip().isdigit() else text


def first_device(sd: ModuleType, text: str | None) -> InputDevice | None:
    """The device `--device TEXT` names, looked up at start-up; DeviceChoiceError when none can work,
    None when PortAudio cannot be asked now (the daemon looks again when it opens the stream)."""
    try:
        return resolve_device(sd, parse_device(text))
    except sd.PortAudioError as error:
        warn(f"cannot look up audio devices now: {error}")
        return None


def main(argv: list[str] | None = None) -> int:
    """Entry point of `audio-lstm listen`. 0: stopped by a signal; 1: processing failed; 2: usage."""
    parser = build_parser()
    args = parse_arguments(parser, argv)
    if isinstance(args, int):
        return args
    if args.input is None and (args.input_rate or args.input_channels or args.realtime):
        parser.print_usage(sys.stderr)
        warn("error: --input-rate, --input-channels and --realtime describe --input; give --input FILE or -")
        return 2
    if args.input is not None and args.device is not None:
        warn(f"--device {args.device} ignored: reading --input {args.input}")
    sd = None
    if args.input is None or args.list_devices:  # files and pipes need no PortAudio
        try:
            import sounddevice as sd
        except OSError as error:  # the PortAudio shared library is missing
            warn(f"cannot load PortAudio ({error}); install it, e.g. `apt-get install libportaudio2`")
            return 2
    if args.list_devices:
        return list_devices(sd)
    source = None
    if args.input is not None:  # soundfile (about 3 MB resident) is loaded only for --input
        from audio_lstm.device.audio_sources import InputError, open_input

        try:
            source = open_input(args.input, args.input_rate, args.input_channels, args.chunk_ms)
        except InputError as error:
            warn(str(error))
            return 2
    publisher = None
    try:
        classifier = StreamingClassifier(args.model, threads=args.threads)
        thresholds = resolve_thresholds(classifier.labels, classifier.info.thresholds, args.threshold)
        runner = CommandRunner(args.command, args.exec_output) if args.command else None
        labels = list(event_labels(classifier.labels))
        publisher = publisher_from_args(args, labels, classifier.info.model_version, warn)
        first = None if sd is None else first_device(sd, args.device)  # a --device that cannot work: exit 2
        sink = EventSink(sys.stdout, args.events_file, runner, [publisher] if publisher else [])
    except (ModelFileError, MqttUnavailable, DeviceChoiceError, ValueError, OSError) as error:
        if publisher is not None:
            publisher.close(timeout=0)
        if isinstance(error, (ModelFileError, MqttUnavailable, DeviceChoiceError)):
            warn(str(error))
        else:
            parser.print_usage(sys.stderr)
            warn(f"error: {error}")
        return 2
    capture = CaptureQueue(max(4, int(QUEUE_SECONDS * 1000 / args.chunk_ms)))
    worker = Worker(capture, classifier, make_detector(classifier, thresholds, report=args.report), sink)
    try:
        if source is not None:
            from audio_lstm.device.audio_sources import play

            return play(source, worker, capture, args.realtime)
        daemon = Daemon(sd, worker, capture, parse_device(args.device), args.chunk_ms, args.stall_s, first)
        code = daemon.run()
    finally:
        sink.close()
    if daemon.streams_left_behind:
        exit_now(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
