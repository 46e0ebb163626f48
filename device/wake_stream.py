"""One client's audio stream for `audio-lstm serve`: PCM chunks in any format -> detector events.

Synchronous and free of the `wyoming` package, so the server can run it in a worker thread
(`asyncio.to_thread`) while the event loop serves other clients. Each `WakeStream` owns its own
classifier state (a `StreamingClassifier.fork`, sharing the onnxruntime session), detector,
PCM decoder and soxr resampler.
"""

from __future__ import annotations

import numpy as np

from audio_lstm.device.detector import Detector, Event
from audio_lstm.device.pcm import PcmDecoder, StreamResampler, check_format
from audio_lstm.device.runtime import StreamingClassifier

AudioFormat = tuple[int, int, int]  # (rate in Hz, sample width in bytes, channels)


class WakeStream:
    """Audio of one connection -> events whose times are seconds since `start`.

    The format may change from chunk to chunk (each Wyoming chunk says its own); the resampler
    is then drained and replaced, while the model and detector carry on, so the clock continues.
    """

    def __init__(self, classifier: StreamingClassifier, detector: Detector) -> None:
        self.classifier, self.detector = classifier, detector
        self.format: AudioFormat | None = None
        self._decoder: PcmDecoder | None = None
        self._resampler: StreamResampler | None = None
        self.active = False

    @property
    def seconds(self) -> float:
        """Seconds of audio scored since `start` (at the model rate)."""
        return self.classifier.frames_processed * self.classifier.frame_seconds

    def start(self, rate: int, width: int, channels: int) -> None:
        """Begin a new stream: zero state, clock at 0. ValueError names an unusable format."""
        check_format(rate, width, channels)
        self.classifier.reset()
        self.detector.reset()
        self.format = (rate, width, channels)
        self._decoder = PcmDecoder(width, channels)
        self._resampler = StreamResampler(rate, self.classifier.sample_rate)
        self.active = True

    def feed(self, audio: bytes, rate: int, width: int, channels: int) -> list[Event]:
        """One chunk of interleaved PCM; returns the events that ended in it.

        Starts the stream when `start` was not called; a new format drains the old resampler first.
        """
        if not self.active:
            self.start(rate, width, channels)
            events: list[Event] = []
        elif (rate, width, channels) != self.format:
            check_format(rate, width, channels)
            events = self._score(self._resampler.flush())
            self.format = (rate, width, channels)
            self._decoder = PcmDecoder(width, channels)
            self._resampler = StreamResampler(rate, self.classifier.sample_rate)
        else:
            events = []
        samples = self._decoder.decode(audio)
        return events + self._score(self._resampler.process(samples))

    def stop(self) -> list[Event]:
        """End of the stream: drain the resampler, score the last frames, close open events."""
        if not self.active:
            return []
        events = self._score(self._resampler.flush())
        events += self.detector.update(self.classifier.flush())
        events += self.detector.flush()
        self.active = False
        self._decoder = self._resampler = None
        return events

    def _score(self, audio: np.ndarray) -> list[Event]:
        if not len(audio):
            return []
        return self.detector.update(self.classifier.process(audio))
