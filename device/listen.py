"""`audio-lstm listen`: live microphone daemon printing one JSON line per detected event.

`--input FILE` or `--input -` (stdin) feeds a file or a pipe through the same worker, detector and
event sink instead (`audio_lstm.device.audio_sources`) and exits at the end of the input.

Captures mono float32 at the input device's default rate (16 kHz when unknown), resamples to the
model rate in a worker thread and runs the same classifier + detector as `audio-lstm classify`,
returning each event when its score crosses the threshold (`--report crossing`, the default; see
`audio_lstm.device.detector`). Events go to stdout, `--events-file`, `--exec` and `--mqtt`
(`audio_lstm.device.mqtt_events`). Stops cleanly on SIGINT/SIGTERM; a failing or vanished device
is retried with exponential back-off.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from audio_lstm.device.audio_sources import RAW_CHANNELS, RAW_RATE, InputError, open_input, play
from audio_lstm.device.daemon import PROG, CaptureQueue, CommandRunner, EventSink, StopSignals, Worker, warn
from audio_lstm.device.detector import CROSSING
from audio_lstm.device.model_file import ModelFileError
from audio_lstm.device.mqtt_events import MqttUnavailable, add_mqtt_arguments, publisher_from_args
from audio_lstm.device.options import (
    add_report_argument,
    event_labels,
    make_detector,
    positive_int,
    resolve_thresholds,
    threshold_arg,
)
from audio_lstm.device.runtime import StreamingClassifier

FALLBACK_RATE = 16000  # capture rate when the device does not say
BACKOFF_START_S, BACKOFF_MAX_S = 1.0, 30.0  # retry delays after device errors: 1, 2, 4, ... 30 s
BACKOFF_RESET_S = 60.0  # a stream that ran this long resets the back-off
QUEUE_SECONDS = 5.0  # audio the capture queue holds before dropping chunks
REPORT_EVERY_S = 60.0  # period of the overflow report on stderr (only when counts changed)
POLL_S = 0.1  # main-thread reaction time to signals and stream failures
DEFAULT_REPORT = CROSSING  # events are returned when their score crosses the threshold (--report)


class DeviceLost(RuntimeError):
    """The input stream stopped on its own (device unplugged, driver error)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Detect keywords and glass breaking on a live "
                                     "microphone; prints one JSON line per event.")
    parser.add_argument("--model", type=Path, help="ONNX model file (default: the bundled model)")
    parser.add_argument("--device", help="input device name (substring) or index; default: the system's default")
    parser.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    parser.add_argument("--threads", type=positive_int, default=1, help="inference threads (default 1)")
    parser.add_argument("--threshold", type=threshold_arg, action="append", default=[], metavar="LABEL=VALUE",
                        help="detection threshold of a label, overriding the model's (repeatable; "
                             "default: the thresholds stored in the model)")
    parser.add_argument("--events-file", type=Path,
                        help="also append each event's JSON line to this file (default: stdout only)")
    parser.add_argument("--exec", dest="command", metavar="CMD", help="run CMD (no shell) for each event, with "
                        "AUDIO_LSTM_LABEL, AUDIO_LSTM_SCORE, AUDIO_LSTM_START_S, AUDIO_LSTM_END_S set "
                        "(default: none)")
    parser.add_argument("--chunk-ms", type=positive_int, default=80, help="capture block length (default 80 ms)")
    parser.add_argument("--input", metavar="FILE|-", help="instead of a microphone, read a file (any format soundfile "
                        "reads) or, with -, stdin: raw 16-bit little-endian PCM or a WAV stream; exits at its end "
                        "(default: the microphone)")
    parser.add_argument("--input-rate", type=positive_int, metavar="HZ",
                        help=f"sample rate of raw PCM on stdin (default {RAW_RATE})")
    parser.add_argument("--input-channels", type=positive_int, metavar="N",
                        help=f"channels of raw PCM on stdin, interleaved (default {RAW_CHANNELS})")
    parser.add_argument("--realtime", action="store_true",
                        help="with --input: play at real-time speed (default: as fast as possible)")
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
        print(f"{index:3d}  {device['name']}  ({device['max_input_channels']} ch, "
              f"{device['default_samplerate']:.0f} Hz){mark}")
    return 0


def parse_device(text: str | None) -> int | str | None:
    return int(text) if text is not None and text.strip().isdigit() else text


def device_rate(sd: ModuleType, device: int | str | None) -> int:
    """The device's default input rate, or FALLBACK_RATE when it cannot be asked."""
    try:
        rate = int(sd.query_devices(device, "input")["default_samplerate"])
    except Exception:  # noqa: BLE001 - no device yet, unknown name, odd host API
        rate = 0
    return rate if rate > 0 else FALLBACK_RATE


class Daemon:
    """Main-thread loop: open the stream, watch it, retry on device errors, stop on signals."""

    def __init__(self, sd: ModuleType, worker: Worker, capture: CaptureQueue, device: int | str | None,
                 chunk_ms: int) -> None:
        self.sd, self.worker, self.capture = sd, worker, capture
        self.device, self.chunk_ms = device, chunk_ms
        self.signals = StopSignals()
        self._reported = (0, 0)
        self._next_report = time.monotonic() + REPORT_EVERY_S

    @property
    def stopping(self) -> bool:
        return self.signals.stopping

    def request_stop(self, *_: Any) -> None:
        self.signals.request_stop()

    def run(self) -> int:
        self.signals.install()
        self.worker.start()
        delay = BACKOFF_START_S
        try:
            while not self.stopping and self.worker.is_alive():
                started = time.monotonic()
                try:
                    self._capture()
                except (self.sd.PortAudioError, DeviceLost, ValueError) as error:
                    if self.stopping:
                        break
                    if time.monotonic() - started >= BACKOFF_RESET_S:
                        delay = BACKOFF_START_S
                    warn(f"audio device error: {error}; retrying in {delay:g} s")
                    self._sleep(delay)
                    delay = min(delay * 2, BACKOFF_MAX_S)
        finally:
            self.worker.finish()
            self.signals.restore()
            self.worker.sink.close()  # publishers flush what they still hold: their counts are final
            overflows, dropped = self.capture.counts()
            warn(f"stopped after {self.worker.seconds:.1f} s of audio; {overflows} input overflows, "
                 f"{dropped} dropped chunks; {self.worker.sink.summary()}")
        if self.worker.error is not None:
            warn(f"processing failed: {type(self.worker.error).__name__}: {self.worker.error}")
            return 1
        return 0

    def _capture(self) -> None:
        """One stream's life: returns on stop, raises on device failure."""
        rate = device_rate(self.sd, self.device)
        self.worker.restart(rate)
        blocksize = max(1, round(rate * self.chunk_ms / 1000))
        with self.sd.InputStream(device=self.device, samplerate=rate, channels=1, dtype="float32",
                                 blocksize=blocksize, callback=self.capture.callback) as stream:
            warn(f"listening on {self.device if self.device is not None else 'the default input'} at {rate} Hz")
            while not self.stopping and self.worker.is_alive():
                time.sleep(POLL_S)
                self._report()
                if not stream.active:
                    raise DeviceLost("the input stream stopped")

    def _report(self) -> None:
        now = time.monotonic()
        if now < self._next_report:
            return
        self._next_report = now + REPORT_EVERY_S
        counts = self.capture.counts()
        if counts != self._reported:
            self._reported = counts
            warn(f"{counts[0]} input overflows, {counts[1]} dropped chunks so far")

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))


def main(argv: list[str] | None = None) -> int:
    """Entry point of `audio-lstm listen`. 0: stopped by a signal; 1: processing failed; 2: usage."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
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
    publisher = None
    try:
        source = None if args.input is None else open_input(args.input, args.input_rate, args.input_channels,
                                                             args.chunk_ms)
        classifier = StreamingClassifier(args.model, threads=args.threads)
        thresholds = resolve_thresholds(classifier.labels, classifier.info.thresholds, args.threshold)
        runner = CommandRunner(args.command) if args.command else None
        publisher = publisher_from_args(args, list(event_labels(classifier.labels)), classifier.info.model_version, warn)
        sink = EventSink(sys.stdout, args.events_file, runner, [publisher] if publisher else [])
    except (ModelFileError, InputError, MqttUnavailable) as error:
        warn(str(error))
        return 2
    except (ValueError, OSError) as error:
        if publisher is not None:
            publisher.close(timeout=0)
        parser.print_usage(sys.stderr)
        warn(f"error: {error}")
        return 2
    capture = CaptureQueue(max(4, int(QUEUE_SECONDS * 1000 / args.chunk_ms)))
    worker = Worker(capture, classifier, make_detector(classifier, thresholds, report=args.report), sink)
    try:
        if source is not None:
            return play(source, worker, capture, args.realtime)
        return Daemon(sd, worker, capture, parse_device(args.device), args.chunk_ms).run()
    finally:
        sink.close()


if __name__ == "__main__":
    sys.exit(main())
