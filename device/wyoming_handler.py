"""The Wyoming side of `audio-lstm serve`: the `info` answer and one event handler per connection.

Needs the optional `wyoming` package (`pip install 'audio-lstm[wyoming]'`); `serve.main` checks
for it before importing this module. Protocol, per connection:

* ``describe`` -> ``info`` with one wake model per event label of the model file;
* ``detect`` (optional ``names``) -> only those labels are reported from then on (default: all);
* ``audio-start`` / ``audio-chunk`` / ``audio-stop`` at any rate, width (1-4 bytes) and channel
  count -> one ``detection`` per event of a requested label (``timestamp``: milliseconds from
  ``audio-start`` to the end of the event, where what follows the word begins), and after
  ``audio-stop`` the remaining ones, or ``not-detected`` when none fired in that stream.

Inference runs in a worker thread (`asyncio.to_thread`), so clients progress side by side. With a
publisher (`serve --mqtt`), every event of every connection is also published, whether or not the
client asked for its label, with the client's address as ``source``.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from typing import TYPE_CHECKING

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event as WyomingEvent
from wyoming.info import Attribution, Describe, Info, WakeModel, WakeProgram
from wyoming.server import AsyncEventHandler
from wyoming.wake import Detect, Detection, NotDetected

from audio_lstm.device.detector import CROSSING, Event
from audio_lstm.device.labels import GLASS, KEYWORDS
from audio_lstm.device.options import event_labels, make_detector
from audio_lstm.device.runtime import StreamingClassifier
from audio_lstm.device.wake_stream import WakeStream

if TYPE_CHECKING:
    from audio_lstm.device.mqtt_events import MqttEventPublisher

LOG = logging.getLogger("audio_lstm.serve")
PROGRAM = "audio-lstm"
PROJECT_URL = ""  # the project has no public home recorded yet; Wyoming requires the field
ATTRIBUTION = Attribution(name="audio-lstm", url=PROJECT_URL)
LANGUAGES = ["en"]  # the Speech Commands keywords are English words


def phrase(label: str) -> str:
    """What a label sounds like, for people: glass_break -> 'glass break'."""
    return label.replace("_", " ")


def describe_label(label: str) -> str:
    """One line about a wake model, for Home Assistant's list."""
    if label in KEYWORDS:
        return f"the spoken word '{label}'"
    if label == GLASS:
        return "the sound of breaking glass"
    return f"'{phrase(label)}' (a label of this model)"


def build_info(classifier: StreamingClassifier) -> Info:
    """The `info` answer: one wake program with a wake model per event label of the model file."""
    try:
        package_version: str | None = importlib.metadata.version("audio-lstm")
    except importlib.metadata.PackageNotFoundError:
        package_version = None
    models = [
        WakeModel(
            name=label,
            attribution=ATTRIBUTION,
            installed=True,
            description=describe_label(label),
            version=classifier.info.model_version,
            languages=list(LANGUAGES),
            phrase=phrase(label),
        )
        for label in event_labels(classifier.labels)
    ]
    program = WakeProgram(
        name=PROGRAM,
        attribution=ATTRIBUTION,
        installed=True,
        version=package_version,
        description=f"keyword and glass-break recognizer ({classifier.path.name})",
        models=models,
    )
    return Info(wake=[program])


class WakeService:
    """What all connections share: one model (one onnxruntime session), thresholds, the `info` answer,
    and the optional MQTT publisher (one per process)."""

    def __init__(
        self,
        classifier: StreamingClassifier,
        thresholds: dict[str, float],
        refractory_s: float,
        report: str = CROSSING,
        publisher: MqttEventPublisher | None = None,
    ) -> None:
        self.classifier, self.thresholds, self.refractory_s = classifier, thresholds, refractory_s
        self.report, self.publisher = report, publisher
        self.labels = event_labels(classifier.labels)
        self.info_event = build_info(classifier).event()

    def new_stream(self) -> WakeStream:
        """Fresh per-connection state on the shared session."""
        classifier = self.classifier.fork()
        detector = make_detector(classifier, self.thresholds, refractory_s=self.refractory_s, report=self.report)
        return WakeStream(classifier, detector)

    def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> WakeHandler:
        """The `wyoming` server's handler factory."""
        return WakeHandler(reader, writer, self)


class WakeHandler(AsyncEventHandler):
    """One connection: its own stream state, its requested names, its detections."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, service: WakeService) -> None:
        super().__init__(reader, writer)
        self.service = service
        peer = writer.get_extra_info("peername")
        self.client = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "client"
        self.names: frozenset[str] | None = None  # None: every label
        self.stream: WakeStream | None = None  # made at the first audio event
        self.fired = 0  # detections sent in the current stream

    async def run(self) -> None:
        """Serve until the client leaves; a dropped connection is routine, not an error."""
        LOG.debug("%s: connected", self.client)
        try:
            await super().run()
        except ConnectionError:
            LOG.debug("%s: connection reset", self.client)
        except asyncio.IncompleteReadError:
            LOG.debug("%s: left in the middle of an event", self.client)
        except Exception as error:  # noqa: BLE001 - one client's failure must not reach the others
            LOG.error("%s: closed after an error: %s: %s", self.client, type(error).__name__, error)
            LOG.debug("details", exc_info=True)
        LOG.debug("%s: disconnected", self.client)

    async def disconnect(self) -> None:
        """Free the stream state (the classifier fork, detector and resampler) with the connection."""
        self.stream = None
        self.writer.close()

    async def handle_event(self, event: WyomingEvent) -> bool:
        """Answer one event; False closes the connection (after an `error` event)."""
        if Describe.is_type(event.type):
            await self.write_event(self.service.info_event)
        elif Detect.is_type(event.type):
            self._set_names(Detect.from_event(event).names)
        elif AudioStart.is_type(event.type) or AudioChunk.is_type(event.type):
            try:
                await self._audio(event)
            except (KeyError, TypeError, ValueError) as error:
                LOG.warning("%s: refused audio: %s", self.client, error)
                await self.write_event(Error(text=f"audio-lstm: {error}", code="audio-format").event())
                return False
        elif AudioStop.is_type(event.type):
            stream = self.stream
            if stream is not None and stream.active:
                await self._send(await asyncio.to_thread(stream.stop))
            if not self.fired:
                await self.write_event(NotDetected().event())
            self.fired = 0
        else:
            LOG.debug("%s: ignored event %r", self.client, event.type)
        return True

    def _set_names(self, names: list[str] | None) -> None:
        self.names = frozenset(names) if names else None
        unknown = sorted((self.names or frozenset()) - set(self.service.labels))
        if unknown:
            LOG.warning(
                "%s: asked for unknown wake words %s; the model has %s",
                self.client,
                unknown,
                ", ".join(self.service.labels),
            )

    async def _audio(self, event: WyomingEvent) -> None:
        if self.stream is None:
            self.stream = self.service.new_stream()
        stream = self.stream
        if AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            stream.start(start.rate, start.width, start.channels)
            self.fired = 0
            return
        chunk = AudioChunk.from_event(event)
        if not stream.active:  # audio without audio-start: a new stream in the chunk's format
            self.fired = 0
        await self._send(await asyncio.to_thread(stream.feed, chunk.audio, chunk.rate, chunk.width, chunk.channels))

    async def _send(self, events: list[Event]) -> None:
        publisher = self.service.publisher
        for event in events:
            if publisher is not None:  # never blocks: queued while the broker is away
                publisher.publish(event, source=self.client)
            if self.names is not None and event.label not in self.names:
                continue
            LOG.info("%s: %s at %.2f s (score %.2f)", self.client, event.label, event.end_s, event.score)
            await self.write_event(Detection(name=event.label, timestamp=round(event.end_s * 1000)).event())
            self.fired += 1
