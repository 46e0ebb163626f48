"""Timing harness shared by every benchmark worker, and the reference pipelines it measures.

Imports only the standard library and numpy at module level, so it runs unchanged in the
project's venv (our model, via ``python bench/bench.py --worker ours``) and in the
benchmark's own venv made by ``bench/setup_refs.sh`` (run by file path, without importing the
``audio_lstm`` package)::

    .bench-venv/bin/python bench/refs.py --worker ref-oww --data signal.npz

A pipeline is PCM in -> events out: ``reset()``, ``feed(int16 chunk) -> [labels]``,
``finish() -> [labels]``, plus ``name``, ``files`` (its model files) and ``labels`` (the
event labels it can report). Each worker prints one JSON object on its last stdout line.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
CHUNKS_MS = (10, 20, 40, 80, 160)
HEADLINE_MS = 80  # latency percentiles and detection delay are reported at this chunk size
WARMUP_SECONDS = 2.0
ANCHORS = Path(__file__).resolve().parents[1].parent / "shared" / "anchors"


def single_thread_env() -> None:
    """Keep BLAS/OpenMP helpers to one thread (set before numpy/onnxruntime start their pools)."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(name, "1")


RSS_DEMO_PASSES = 3  # streams of the demo recording before the daemon-like peak RSS is read


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB.

    Linux's VmHWM belongs to the process image, so it starts afresh at exec; `ru_maxrss` does not
    (a child keeps its parent's peak from before the exec), so it is only the fallback.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def chunks_of(signal: np.ndarray, chunk: int) -> list[np.ndarray]:
    """The signal cut into whole chunks (a trailing partial chunk is dropped)."""
    return [signal[i : i + chunk] for i in range(0, len(signal) - chunk + 1, chunk)]


def time_stream(pipe, signal: np.ndarray, chunk: int) -> tuple[np.ndarray, float]:  # noqa: ANN001
    """Feed the whole signal from a fresh state: (wall seconds of each `feed` call, CPU seconds of the pass).

    The CPU time is the process's (all its threads), so time spent waiting for a core while other
    programs run is not counted as our cost; the per-call latencies are wall clock and do include it.
    """
    pipe.reset()
    pieces = chunks_of(signal, chunk)
    latencies = np.empty(len(pieces))
    clock, feed = time.perf_counter, pipe.feed
    cpu_start = time.process_time()
    for k, piece in enumerate(pieces):
        start = clock()
        feed(piece)
        latencies[k] = clock() - start
    return latencies, time.process_time() - cpu_start


def detection_times(pipe, demo: np.ndarray, chunk_ms: int = HEADLINE_MS) -> list[dict]:  # noqa: ANN001
    """Stream the demo recording; each event with the stream time at which it was returned."""
    chunk = chunk_ms * SAMPLE_RATE // 1000
    pipe.reset()
    events = []
    position = 0
    for piece in chunks_of(demo, chunk):
        position += len(piece)
        events += [{"label": label, "emitted_s": position / SAMPLE_RATE} for label in pipe.feed(piece)]
    events += [{"label": label, "emitted_s": position / SAMPLE_RATE} for label in pipe.finish()]
    return events


def measure(pipe, signal: np.ndarray, demo: np.ndarray, chunks_ms, repeats: int) -> dict:  # noqa: ANN001
    """Cost per second of audio and per-chunk latency at each chunk size, plus detection times.

    Cost (CPU ms per s of audio; `wall_ms_per_s` is the same from the wall clock) is the median over
    `repeats` full passes; latency percentiles pool every chunk of every pass.
    """
    seconds = len(signal) / SAMPLE_RATE
    warm = signal[: int(WARMUP_SECONDS * SAMPLE_RATE)]
    time_stream(pipe, warm, HEADLINE_MS * SAMPLE_RATE // 1000)  # first-call allocations, caches
    cost, wall, latency = {}, {}, {}
    for ms in chunks_ms:
        chunk = ms * SAMPLE_RATE // 1000
        passes = [time_stream(pipe, signal, chunk) for _ in range(repeats)]
        audio_s = len(passes[0][0]) * chunk / SAMPLE_RATE
        cost[str(ms)] = float(np.median([cpu for _, cpu in passes])) * 1000.0 / audio_s
        wall[str(ms)] = float(np.median([lat.sum() for lat, _ in passes])) * 1000.0 / audio_s
        pooled = np.concatenate([lat for lat, _ in passes]) * 1000.0
        latency[str(ms)] = {
            "p50": float(np.percentile(pooled, 50)),
            "p99": float(np.percentile(pooled, 99)),
            "max": float(pooled.max()),
        }
    return {
        "name": pipe.name,
        "files": [str(f) for f in pipe.files],
        "file_bytes": sum(Path(f).stat().st_size for f in pipe.files),
        "labels": list(pipe.labels),
        "audio_seconds": seconds,
        "repeats": repeats,
        "cost_ms_per_s": cost,
        "wall_ms_per_s": wall,
        "latency_ms": latency,
        "events": detection_times(pipe, demo) if len(demo) else [],
    }


# -- reference pipelines ---------------------------------------------------------------------------


class OpenWakeWord:
    """openWakeWord 0.5.1 with its bundled ONNX models: melspectrogram -> embedding -> wake word.

    `Model.predict` buffers to its own 80 ms (1280-sample) frame; any chunk size may be fed.
    ONNX Runtime sessions with one intra-op thread (``ncpu=1``; the wake-word model is always 1).
    An event is a score >= `threshold` (openWakeWord's default 0.5), at most one per `refractory_s`.
    """

    def __init__(self, model: str = "hey_jarvis_v0.1", threshold: float = 0.5, refractory_s: float = 1.0) -> None:
        import openwakeword
        from openwakeword.model import Model

        self._model_cls = Model
        folder = Path(openwakeword.__file__).parent / "resources" / "models"
        self.files = [folder / "melspectrogram.onnx", folder / "embedding_model.onnx", folder / f"{model}.onnx"]
        missing = [f.name for f in self.files if not f.is_file()]
        if missing:
            raise RuntimeError(
                f"openwakeword {getattr(openwakeword, '__version__', '?')} ships no {missing} "
                "(0.6.0 ships no models: install openwakeword==0.5.1)"
            )
        self.name = f"openWakeWord 0.5.1 {model} (onnx)"
        self.labels = (model,)
        self.threshold, self.refractory_s = threshold, refractory_s
        self.model = None
        self.reset()

    def reset(self) -> None:
        # 0.5.1 has no way to clear its audio/feature buffers: build a fresh Model (outside the timing).
        self.model = None
        gc.collect()
        np.random.seed(0)  # AudioFeatures seeds its feature buffer with np.random noise
        self.model = self._model_cls(
            wakeword_models=[str(self.files[2])],
            inference_framework="onnx",
            ncpu=1,
            melspec_model_path=str(self.files[0]),
            embedding_model_path=str(self.files[1]),
        )
        self._samples = 0
        self._quiet_until = 0

    def feed(self, chunk: np.ndarray) -> list[str]:
        scores = self.model.predict(chunk)
        self._samples += len(chunk)
        events = []
        for label, score in scores.items():
            if score >= self.threshold and self._samples >= self._quiet_until:
                events.append(label)
                self._quiet_until = self._samples + int(self.refractory_s * SAMPLE_RATE)
        return events

    def finish(self) -> list[str]:
        return []


class MicroSpeech:
    """TFLite Micro's micro_speech: int8 audio preprocessor (TFLM interpreter: it needs TFLM's signal
    ops) -> 49x40 int8 feature window -> int8 classifier (LiteRT, one thread).

    The preprocessor turns each 30 ms window into 40 features every 20 ms hop; the classifier runs
    once per fed chunk that completed at least one new hop (as the example's loop does), so at
    10 ms chunks it runs every 20 ms. Event: a class score >= `threshold` (0.8, micro_speech's
    RecognizeCommands default, but without its 1 s averaging), at most one per `refractory_s` (1.5 s).
    """

    WINDOW, HOP, SLICES, FEATURES = 480, 320, 49, 40
    CLASSES = ("silence", "unknown", "yes", "no")

    def __init__(self, anchors: Path = ANCHORS, threshold: float = 0.8, refractory_s: float = 1.5) -> None:
        from ai_edge_litert.interpreter import Interpreter
        from tflite_micro import runtime

        anchors = Path(anchors)
        self.files = [anchors / "audio_preprocessor_int8.tflite", anchors / "micro_speech_quantized.tflite"]
        self.preprocessor = runtime.Interpreter.from_file(str(self.files[0]))
        self.classifier = Interpreter(str(self.files[1]), num_threads=1)
        self.classifier.allocate_tensors()
        source, target = self.classifier.get_input_details()[0], self.classifier.get_output_details()[0]
        self._in, self._out = source["index"], target["index"]
        self._fill = np.int8(source["quantization"][1])  # the zero point: "no energy"
        self._scale, self._zero = target["quantization"]
        self.name = "micro_speech (TFLM preproc + LiteRT int8)"
        self.labels = ("yes", "no")
        self.threshold, self.refractory_s = threshold, refractory_s
        self.reset()

    def reset(self) -> None:
        self.preprocessor.reset()
        self._pending = np.zeros(0, dtype=np.int16)
        self._window = np.full((1, self.SLICES * self.FEATURES), self._fill, dtype=np.int8)
        self._samples = 0
        self._quiet_until = 0

    def feed(self, chunk: np.ndarray) -> list[str]:
        audio = np.concatenate([self._pending, chunk]) if len(self._pending) else chunk
        window, width, new = self._window, self.FEATURES, 0
        start = 0
        while len(audio) - start >= self.WINDOW:
            self.preprocessor.set_input(audio[None, start : start + self.WINDOW], 0)
            self.preprocessor.invoke()
            window[0, :-width] = window[0, width:].copy()
            window[0, -width:] = self.preprocessor.get_output(0)
            start += self.HOP
            new += 1
        self._pending = audio[start:].copy()
        self._samples += len(chunk)
        if not new:
            return []
        self.classifier.set_tensor(self._in, window)
        self.classifier.invoke()
        scores = (self.classifier.get_tensor(self._out)[0].astype(np.float32) - self._zero) * self._scale
        best = int(np.argmax(scores))
        label = self.CLASSES[best]
        if label in self.labels and scores[best] >= self.threshold and self._samples >= self._quiet_until:
            self._quiet_until = self._samples + int(self.refractory_s * SAMPLE_RATE)
            return [label]
        return []

    def finish(self) -> list[str]:
        return []


REFERENCES = {"ref-oww": OpenWakeWord, "ref-micro": MicroSpeech}


def worker_args(argv: list[str] | None, choices) -> argparse.Namespace:  # noqa: ANN001
    """The options every worker takes (also parsed by `bench` for `--worker ours`)."""
    parser = argparse.ArgumentParser(description="benchmark worker: prints one JSON line")
    parser.add_argument("--worker", required=True, choices=choices)
    parser.add_argument("--data", required=True, type=Path, help="npz with int16 `signal` and `demo`")
    parser.add_argument("--chunks", default=",".join(map(str, CHUNKS_MS)))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", type=Path, help="our model file (--worker ours)")
    parser.add_argument("--frames-per-call", type=int, default=None, help="our int8 frame group (--worker ours)")
    parser.add_argument("--anchors", type=Path, default=ANCHORS, help="micro_speech model folder")
    return parser.parse_args(argv)


def run_worker(pipe_factory, args: argparse.Namespace) -> int:  # noqa: ANN001
    """Build the pipeline, measure it, print the JSON result (or the error) on stdout."""
    data = np.load(args.data)  # an npz reads each array when it is first asked for
    demo = data["demo"]
    try:
        pipe = pipe_factory()
    except Exception as error:  # noqa: BLE001 - reported in the table
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        return 0
    for _ in range(RSS_DEMO_PASSES):  # daemon-like: the model streaming a short recording, nothing else held
        detection_times(pipe, demo)
    daemon_rss = peak_rss_mb()
    signal = data["signal"]
    result = measure(pipe, signal, demo, [int(c) for c in args.chunks.split(",")], args.repeats)
    extra = getattr(pipe, "extra", None)
    if extra is not None:
        result.update(extra(signal))
    result["peak_rss_mb"] = daemon_rss
    result["peak_rss_harness_mb"] = peak_rss_mb()  # with the benchmark's signal and timing arrays
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    single_thread_env()
    args = worker_args(argv, sorted(REFERENCES))
    factory = REFERENCES[args.worker]
    return run_worker(lambda: factory(args.anchors) if factory is MicroSpeech else factory(), args)


if __name__ == "__main__":
    sys.exit(main())
