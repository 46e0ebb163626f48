"""The microphone side of `audio-lstm listen`: choose the input device, keep a stream open, stop.

`resolve_device` turns `--device` (an index, a name substring, or nothing for the system default)
into the device to open; at start-up, a choice that cannot work (no such index, a name matching
several devices or none, no input device at all) is a usage error: `Daemon.run` returns 2 with a
hint to `--list-devices`. Once a device has been opened, every failure is retried with
exponential back-off (a vanished USB microphone may come back).

A stream that delivers no audio for `--stall-s` seconds (e.g. the audio server was stopped) is a
stall: a warning names the device, the stream is closed (on a helper thread with a deadline: a
stalled stream's close can block for ever, see `audio_lstm.device.watchdog`) and opened again with
back-off; stalls are counted in the periodic status line and in the exit summary.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from audio_lstm.device.daemon import CaptureQueue, Worker
from audio_lstm.device.messages import PROG, warn
from audio_lstm.device.signals import StopSignals
from audio_lstm.device.stderr_filter import NativeStderrFilter
from audio_lstm.device.watchdog import HungCall, StallWatch, Stopped, call_with_deadline, release_at_exit

FALLBACK_RATE = 16000  # capture rate when the device does not say
BACKOFF_START_S, BACKOFF_MAX_S = 1.0, 30.0  # retry delays after device errors: 1, 2, 4, ... 30 s
BACKOFF_RESET_S = 60.0  # a stream that ran this long resets the back-off
REPORT_EVERY_S = 60.0  # period of the status line on stderr (only when a count changed)
# The main thread's longest sleep: signals wake it at once; a stream that ended on its own is seen
# within this time. (No PortAudio `finished_callback`: with one registered, a daemon that had left a
# blocked stream behind crashed at exit in a test.)
MAX_WAIT_S = 1.0
DEFAULT_STALL_S = 3.0  # no audio for this long: the stream is reopened (--stall-s)
OPEN_TIMEOUT_S = 10.0  # opening a stream that takes longer is given up on (and retried)
CLOSE_TIMEOUT_S = 1.0  # closing a stream that takes longer is left behind, blocked on its thread
HINT = f"see `{PROG} --list-devices`"


class DeviceLost(RuntimeError):
    """The input stream stopped on its own (device unplugged, driver error)."""


class Stall(RuntimeError):
    """The input stream delivered no audio for too long."""


class DeviceChoiceError(ValueError):
    """`--device` names no usable input device; the message says why and what there is."""


@dataclass(frozen=True)
class InputDevice:
    """A device as PortAudio numbers it, with its default capture rate."""

    index: int
    name: str
    rate: int

    def __str__(self) -> str:
        return f"{self.name} (device {self.index})"


def default_input_index(sd: ModuleType) -> int:
    """PortAudio's default input device, or -1 when there is none."""
    index = sd.default.device[0]
    return index if isinstance(index, int) else -1


def resolve_device(sd: ModuleType, spec: int | str | None) -> InputDevice:
    """The input device `spec` names (None: the default). DeviceChoiceError when there is none, or
    several for a name; PortAudioError when PortAudio cannot be asked."""
    if spec is None:
        index = default_input_index(sd)
        if index < 0:
            inputs = [d for d in sd.query_devices() if d.get("max_input_channels", 0) > 0]
            raise DeviceChoiceError(
                f"no default audio input device; choose one with --device; {HINT}"
                if inputs
                else f"no audio input device found; {HINT}"
            )
        info = sd.query_devices(index)
    elif isinstance(spec, int):
        count = len(sd.query_devices())
        if not 0 <= spec < count:
            known = f"devices are numbered 0 to {count - 1}" if count else "there are no audio devices"
            raise DeviceChoiceError(f"--device {spec}: no such device ({known}); {HINT}")
        info = sd.query_devices(spec)
    else:
        try:
            info = sd.query_devices(spec, "input")
        except ValueError as error:  # sounddevice: none or several devices match
            first, *candidates = str(error).splitlines()
            if candidates:
                raise DeviceChoiceError(
                    f"--device {spec!r} matches several input devices: {'; '.join(candidates)}; "
                    f"give its index or more of its name; {HINT}"
                ) from error
            raise DeviceChoiceError(f"--device {spec!r}: {first}; {HINT}") from error
    index = int(info.get("index", spec if isinstance(spec, int) else -1))
    if info.get("max_input_channels", 0) < 1:
        raise DeviceChoiceError(f"--device {spec}: {info.get('name')} (device {index}) has no input channels; {HINT}")
    rate = int(info.get("default_samplerate") or 0)
    return InputDevice(index, str(info.get("name", index)), rate if rate > 0 else FALLBACK_RATE)


def _close_stream(stream: Any) -> None:
    stream.abort()
    stream.close()


class Daemon:
    """Main-thread loop: open the stream, watch it, retry on device errors and stalls, stop on signals."""

    def __init__(
        self,
        sd: ModuleType,
        worker: Worker,
        capture: CaptureQueue,
        device: int | str | None,
        chunk_ms: int,
        stall_s: float = DEFAULT_STALL_S,
        first: InputDevice | None = None,
    ) -> None:
        self.sd, self.worker, self.capture = sd, worker, capture
        self.device, self.chunk_ms, self.first = device, chunk_ms, first
        self.signals = StopSignals(hangup=worker.sink.request_reopen)
        self.watch = StallWatch(stall_s, lambda: capture.last_chunk)
        self._stream: tuple[Any, InputDevice] | None = None
        # A stream whose close never returned: its PortAudio thread may still call into Python, so
        # the process must end without the interpreter's teardown (`exit_now`).
        self.streams_left_behind = False
        self._reported = (0, 0, 0)
        self._next_report = time.monotonic() + REPORT_EVERY_S

    @property
    def stopping(self) -> bool:
        """A stop was asked for (SIGINT/SIGTERM or `request_stop`)."""
        return self.signals.stopping

    def request_stop(self, *_: Any) -> None:
        """Stop as a signal would."""
        self.signals.request_stop()

    def run(self) -> int:
        """Capture until stopped. 0: stopped; 1: processing failed; 2: `--device` cannot work."""
        device = self.first
        if device is None:
            try:
                device = resolve_device(self.sd, self.device)
            except DeviceChoiceError as error:
                warn(str(error))
                return 2
            except self.sd.PortAudioError:
                pass  # looked up again at the first attempt
        native_stderr = NativeStderrFilter()
        native_stderr.install()  # PortAudio's repeated C assertions while a device is gone
        self.signals.install()
        self.worker.start()
        delay = BACKOFF_START_S
        try:
            while not self.stopping and self.worker.is_alive():
                started = time.monotonic()
                try:
                    self._capture(device)
                except Stopped:
                    break
                except (self.sd.PortAudioError, DeviceLost, Stall, HungCall, ValueError) as error:
                    if self.stopping:
                        break
                    if time.monotonic() - started >= BACKOFF_RESET_S:
                        delay = BACKOFF_START_S
                    if isinstance(error, Stall):
                        warn(f"{error}; reopening in {delay:g} s")
                    else:
                        warn(f"audio device error: {error}; retrying in {delay:g} s")
                    self._close()
                    self._sleep(delay)
                    delay = min(delay * 2, BACKOFF_MAX_S)
                device = None  # from now on the device is looked up again at each attempt
        finally:
            self.worker.stop_soon()  # drains the queue while the stream closes
            self._close()
            self.worker.finish()
            self.signals.restore()
            self.worker.sink.close()  # publishers flush what they still hold: their counts are final
            native_stderr.remove()
            overflows, dropped = self.capture.counts()
            warn(
                f"stopped after {self.worker.seconds:.1f} s of audio; {overflows} input overflows, "
                f"{dropped} dropped chunks, {self.watch.count} stalls; {self.worker.sink.summary()}"
            )
            if release_at_exit(self.sd):
                self.streams_left_behind = True
                warn("a stalled stream still blocks PortAudio; skipping its clean-up at exit")
        if self.worker.error is not None:
            warn(f"processing failed: {type(self.worker.error).__name__}: {self.worker.error}")
            return 1
        return 0

    def _capture(self, device: InputDevice | None) -> None:
        """One stream's life: returns on stop, raises on device failure or stall."""
        if device is None:
            device = resolve_device(self.sd, self.device)
        self.capture.new_stream()
        self.worker.restart(device.rate, lambda: self.stopping)
        blocksize = max(1, round(device.rate * self.chunk_ms / 1000))

        def open_stream() -> Any:
            stream = self.sd.InputStream(
                device=device.index,
                samplerate=device.rate,
                channels=1,
                dtype="float32",
                blocksize=blocksize,
                callback=self.capture.callback,
            )
            try:
                stream.start()
            except BaseException:
                stream.close()
                raise
            return stream

        try:
            stream = call_with_deadline(open_stream, OPEN_TIMEOUT_S, lambda: self.stopping, late=_close_stream)
        except HungCall as error:
            raise HungCall(f"opening {device} hangs ({error})") from error
        self._stream = (stream, device)
        self.watch.start()
        warn(f"listening on {device} at {device.rate} Hz")
        while not self.stopping and self.worker.is_alive():
            self.signals.wait(min(MAX_WAIT_S, max(0.0, self.watch.due_in()), self._next_report - time.monotonic()))
            self._report()
            if self.stopping:
                return
            if not stream.active:
                raise DeviceLost("the input stream stopped")
            silent = self.watch.check()
            if silent is not None:
                raise Stall(f"stalled: no audio from {device} for {silent:.1f} s")

    def _close(self) -> None:
        """Close the open stream, if any, giving up after CLOSE_TIMEOUT_S (it stays blocked on its thread)."""
        if self._stream is None:
            return
        stream, device = self._stream
        self._stream = None
        try:
            call_with_deadline(lambda: _close_stream(stream), CLOSE_TIMEOUT_S)
        except HungCall:
            warn(f"closing {device} did not finish within {CLOSE_TIMEOUT_S:g} s; leaving it behind")

    def _report(self) -> None:
        now = time.monotonic()
        if now < self._next_report:
            return
        self._next_report = now + REPORT_EVERY_S
        counts = (*self.capture.counts(), self.watch.count)
        if counts != self._reported:
            self._reported = counts
            warn(
                f"status: {counts[0]} input overflows, {counts[1]} dropped chunks, {counts[2]} stalls so far; "
                f"{self.worker.sink.count} events"
            )

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            self.signals.wait(min(MAX_WAIT_S, deadline - time.monotonic()))
            self._report()


def exit_now(code: int) -> None:
    """End the process with `code` at once, after flushing stdout and stderr: no interpreter teardown,
    which a PortAudio thread left behind could crash by calling back into Python (exit -11 seen)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
