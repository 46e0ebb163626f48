"""`audio-lstm serve`: a Wyoming wake-word server (Home Assistant's Wyoming integration, port 10400).

Every connection streams its own audio through its own classifier state and detector; the model
file is loaded once and its onnxruntime session shared. The protocol side lives in
`audio_lstm.device.wyoming_handler` and needs the optional `wyoming` package
(`pip install 'audio-lstm[wyoming]'`); without it this command says so and exits 2.
`--mqtt URL` (optional `mqtt` extra) also publishes every event of every connection, whatever
wake words the client asked for, through one `MqttEventPublisher` for the whole process (the same
topics and Home Assistant discovery as `listen --mqtt`). SIGINT/SIGTERM stop it cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from audio_lstm.device.detector import CROSSING, DEFAULT_REFRACTORY_S
from audio_lstm.device.model_file import ModelFileError
from audio_lstm.device.mqtt_events import MqttEventPublisher, MqttUnavailable, add_mqtt_arguments, publisher_from_args
from audio_lstm.device.options import (
    add_report_argument,
    add_threshold_argument,
    parse_arguments,
    positive_int,
    refractory_arg,
    resolve_thresholds,
)
from audio_lstm.device.runtime import StreamingClassifier

if TYPE_CHECKING:  # the wyoming package is optional: imported at run time only when present
    from wyoming.zeroconf import HomeAssistantZeroconf

    from audio_lstm.device.wyoming_handler import WakeService

PROG = "audio-lstm serve"
DEFAULT_URI = "tcp://0.0.0.0:10400"
EXTRA_HINT = "needs the wyoming extra: pip install 'audio-lstm[wyoming]'"
LOG = logging.getLogger("audio_lstm.serve")


def warn(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Wyoming wake-word server: every event label of the "
        "model (keywords, glass breaking) is offered as a wake word.",
    )
    parser.add_argument(
        "--uri", default=DEFAULT_URI, help=f"where to listen: tcp://HOST:PORT or unix://PATH (default {DEFAULT_URI})"
    )
    parser.add_argument("--model", type=Path, help="ONNX model file (default: the bundled model)")
    add_threshold_argument(parser)
    parser.add_argument(
        "--refractory-s",
        type=refractory_arg,
        default=DEFAULT_REFRACTORY_S,
        metavar="SECONDS",
        help=f"after an event, its label stays quiet this long (default {DEFAULT_REFRACTORY_S:g})",
    )
    add_report_argument(parser, CROSSING)
    parser.add_argument("--threads", type=positive_int, default=1, help="inference threads per call (default 1)")
    parser.add_argument(
        "--zeroconf",
        nargs="?",
        const="audio-lstm",
        metavar="NAME",
        help="announce the server as _wyoming._tcp NAME (default name audio-lstm) for "
        "discovery; needs the zeroconf package and a tcp:// URI",
    )
    parser.add_argument("--debug", action="store_true", help="log connections and protocol details")
    add_mqtt_arguments(parser)
    return parser


def check_uri(uri: str) -> str | None:
    """Why `uri` cannot be served (None when it can): tcp://HOST:PORT or unix://PATH."""
    try:
        parts = urlparse(uri)
        port = parts.port if parts.scheme == "tcp" else None
    except ValueError as error:
        return f"--uri {uri!r}: {error}"
    if parts.scheme == "tcp" and (not parts.hostname or port is None):
        return f"--uri {uri!r}: a tcp:// URI needs a host and a port, e.g. {DEFAULT_URI}"
    if parts.scheme == "unix" and not parts.path:
        return f"--uri {uri!r}: a unix:// URI needs a socket path, e.g. unix:///run/audio-lstm.sock"
    if parts.scheme not in ("tcp", "unix"):
        return f"--uri {uri!r}: expected tcp://HOST:PORT or unix://PATH"
    return None


def check_wyoming(zeroconf: bool) -> str | None:
    """Why the optional packages this run needs are missing (None when they are there)."""
    try:
        from wyoming.info import WakeModel
    except ImportError:
        return EXTRA_HINT
    if "phrase" not in getattr(WakeModel, "__dataclass_fields__", {}):
        return f"the installed wyoming package is too old (need >= 1.5.3); {EXTRA_HINT}"
    if zeroconf:
        try:
            import zeroconf as _  # noqa: F401 - only whether it is there
        except ImportError:
            return "--zeroconf needs the zeroconf package: pip install zeroconf"
    return None


async def announce(uri: str, name: str) -> HomeAssistantZeroconf | None:
    """Register the server with mDNS as _wyoming._tcp through the wyoming package's helper.

    Returns the helper (to close it) where the installed wyoming has the class, else None.
    """
    from wyoming import zeroconf

    parts = urlparse(uri)
    host = None if parts.hostname in ("0.0.0.0", "::", "") else parts.hostname
    helper = None
    try:
        if hasattr(zeroconf, "HomeAssistantZeroconf"):
            helper = zeroconf.HomeAssistantZeroconf(name=name, port=parts.port, host=host)
            await helper.register_server()
        else:  # wyoming releases before the class: a module function
            await zeroconf.register_server(name=name, port=parts.port, host=host)
    except Exception as error:  # noqa: BLE001 - no network, a name clash, ...: serve without it
        LOG.warning("zeroconf announcement failed: %s: %s", type(error).__name__, error)
        return None
    LOG.info("announced as %s._wyoming._tcp.local. on port %s", name, parts.port)
    return helper


async def serve(uri: str, service: WakeService, zeroconf: str | None = None, stop: asyncio.Event | None = None) -> None:
    """Serve `service` on `uri` until `stop` is set or SIGINT/SIGTERM arrives."""
    from wyoming.server import AsyncServer

    server = AsyncServer.from_uri(uri)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
    try:
        await server.start(service.handler)
        LOG.info("serving %d wake words on %s: %s", len(service.labels), uri, ", ".join(service.labels))
        announcer = await announce(uri, zeroconf) if zeroconf else None
        await stop.wait()
        LOG.info("stopping")
        await server.stop()
        zeroconf_handle = getattr(announcer, "_aiozc", None)  # the helper offers no public close
        if zeroconf_handle is not None:
            await zeroconf_handle.async_close()  # says goodbye on mDNS
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `audio-lstm serve`. 0: stopped by a signal; 1: cannot listen; 2: usage or setup error."""
    parser = build_parser()
    args = parse_arguments(parser, argv)
    if isinstance(args, int):
        return args
    problem = check_uri(args.uri) or check_wyoming(args.zeroconf is not None)
    if problem is None and args.zeroconf is not None and not args.uri.startswith("tcp://"):
        problem = "--zeroconf announces a TCP port; use a tcp:// --uri"
    if problem:
        warn(problem)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format=f"{PROG}: %(message)s", stream=sys.stderr
    )
    from audio_lstm.device.wyoming_handler import WakeService

    publisher: MqttEventPublisher | None = None
    try:
        classifier = StreamingClassifier(args.model, threads=args.threads)
        thresholds = resolve_thresholds(classifier.labels, classifier.info.thresholds, args.threshold)
        service = WakeService(classifier, thresholds, args.refractory_s, args.report)
        publisher = service.publisher = publisher_from_args(args, service.labels, classifier.info.model_version, warn)
    except (ModelFileError, MqttUnavailable) as error:
        warn(str(error))
        return 2
    except ValueError as error:
        parser.print_usage(sys.stderr)
        warn(f"error: {error}")
        return 2
    try:
        asyncio.run(serve(args.uri, service, args.zeroconf))
    except OSError as error:  # address in use, no permission for the socket path, ...
        warn(f"cannot listen on {args.uri}: {error.strerror or error}")
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        if publisher is not None:  # waits a little for queued events, then publishes `offline`
            publisher.close()
            LOG.info("%s", publisher.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
