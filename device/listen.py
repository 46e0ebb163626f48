"""`audio-lstm listen`: live microphone daemon printing one JSON line per detected event.

Captures mono float32 at the input device's default rate (16 kHz when unknown), resamples to the
model rate in a worker thread and runs the same classifier + detector as `audio-lstm classify`.
Stops cleanly on SIGINT/SIGTERM; a failing or vanished device is retried with exponential back-off.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from audio_lstm.device.options import make_detector, positive_int, resolve_thresholds, threshold_arg
from audio_lstm.device.daemon import PROG, CaptureQueue, CommandRunner, EventSink, Worker, warn
from audio_lstm.device.model_file import ModelFileError
from audio_lstm.device.runtime import StreamingClassifier

FALLBACK_RATE = 16000  # capture rate when the device does not say
BACKOFF_START_S, BACKOFF_MAX_S = 1.0, 30.0  # retry delays after device errors: 1, 2, 4, ... 30 s
BACKOFF_RESET_S = 60.0  # a stream that ran this long resets the back-off
QUEUE_SECONDS = 5.0  # audio the capture queue holds before dropping chunks
REPORT_EVERY_S = 60.0  # period of the overflow report on stderr (only when counts changed)
POLL_S = 0.1  # main-thread reaction time to signals and stream failures


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
        self.stopping = False  # set by signal handlers (a plain flag: safe inside a handler)
        self._reported = (0, 0)
        self._next_report = time.monotonic() + REPORT_EVERY_S

    def request_stop(self, *_: Any) -> None:
        self.stopping = True

    def run(self) -> int:
        previous = self._install_signals()
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
            self._restore_signals(previous)
            overflows, dropped = self.capture.counts()
            warn(f"stopped after {self.worker.seconds:.1f} s of audio; {overflows} input overflows, "
                 f"{dropped} dropped chunks")
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

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, self.request_stop)
        return previous

    @staticmethod
    def _restore_signals(previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `audio-lstm listen`. 0: stopped by a signal; 1: processing failed; 2: usage."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    try:
        import sounddevice as sd
    except OSError as error:  # the PortAudio shared library is missing
        warn(f"cannot load PortAudio ({error}); install it, e.g. `apt-get install libportaudio2`")
        return 2
    if args.list_devices:
        return list_devices(sd)
    try:
        classifier = StreamingClassifier(args.model, threads=args.threads)
        thresholds = resolve_thresholds(classifier.labels, classifier.info.thresholds, args.threshold)
        runner = CommandRunner(args.command) if args.command else None
        sink = EventSink(sys.stdout, args.events_file, runner)
    except ModelFileError as error:
        warn(str(error))
        return 2
    except (ValueError, OSError) as error:
        parser.print_usage(sys.stderr)
        warn(f"error: {error}")
        return 2
    capture = CaptureQueue(max(4, int(QUEUE_SECONDS * 1000 / args.chunk_ms)))
    worker = Worker(capture, classifier, make_detector(classifier, thresholds), sink)
    try:
        return Daemon(sd, worker, capture, parse_device(args.device), args.chunk_ms).run()
    finally:
        sink.close()


if __name__ == "__main__":
    sys.exit(main())
