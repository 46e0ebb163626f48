"""`python bench/bench.py`: whole-path speed of our models beside the reference models.

For each model: single-thread cost (process CPU time) per second of audio of the whole daemon path
(int16 PCM in -> front end -> model -> detector -> events out) at 10, 20, 40, 80 and 160 ms chunks, per-chunk
latency (median, p99), peak RSS of the worker process while it streams the demo recording the way the
daemon does (before the benchmark loads its long signal), model file size, and the detection delay
(end of the spoken keyword in examples/stream_demo.flac -> the stream time at which the event was
returned). Every model runs in a fresh subprocess on the same seeded signal (the demo recording
looped, plus noise): ours with the project's venv importing what `audio-lstm listen` imports,
the references (openWakeWord 0.5.1, TFLite Micro micro_speech) in the benchmark's own venv::

    bash bench/setup_refs.sh                     # once: .bench-venv/ with the reference models
    python bench/bench.py --fp32 runs/default/model.fp32.onnx --json bench.json
    python bench/bench.py --quick --no-refs  # a few seconds, our bundled model only
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from refs import CHUNKS_MS, HEADLINE_MS, SAMPLE_RATE, run_worker, single_thread_env, worker_args

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "stream_demo.flac"
DEMO_WORDS = (("stop", 2.0), ("yes", 8.0))  # keyword, onset in stream_demo.flac (examples/build_examples.py)
REF_VENV_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
REFS = ("ref-oww", "ref-micro")
TARGETS = {"cost": 0.5, "ratio": 20.0, "p99": 2.0, "rss": 64.0}  # int8 at 80 ms, single thread (docs/speed.md)
WORKER_TIMEOUT_S = 1800


class OursPipeline:
    """Our daemon path: StreamingClassifier(threads=1) -> the Detector `listen` builds."""

    def __init__(self, path: Path | None, frames_per_call: int | None = None) -> None:
        import audio_lstm.device.listen  # noqa: F401 - the daemon's own import set, for a fair RSS

        try:  # noqa: SIM105
            import sounddevice  # noqa: F401 - listen imports it when it opens the microphone
        except OSError:  # no PortAudio library here: RSS then lacks its ~3 MB
            pass
        from audio_lstm.device.listen import DEFAULT_REPORT
        from audio_lstm.device.options import make_detector
        from audio_lstm.device.runtime import StreamingClassifier

        self.classifier = StreamingClassifier(path, threads=1, frames_per_call=frames_per_call)
        self.detector = make_detector(self.classifier, self.classifier.info.thresholds, report=DEFAULT_REPORT)
        self.files = [self.classifier.path]
        group = "" if frames_per_call is None else f", groups of {frames_per_call}"
        self.name = f"ours {self.classifier.info.precision} ({self.classifier.path.name}{group})"
        self.labels = tuple(label for label in self.classifier.labels if label in self.detector.thresholds)

    def reset(self) -> None:
        self.classifier.reset()
        self.detector.reset()

    def feed(self, chunk: np.ndarray) -> list[str]:
        return [event.label for event in self.detector.update(self.classifier.process(chunk))]

    def finish(self) -> list[str]:
        events = self.detector.update(self.classifier.flush()) + self.detector.flush()
        return [event.label for event in events]

    def extra(self, signal: np.ndarray) -> dict:
        """Where the time goes at 80 ms chunks: ms per second of audio per stage (instance wrappers)."""
        clf, det, clock = self.classifier, self.detector, time.perf_counter
        spent = {"frontend": 0.0, "model": 0.0, "detector": 0.0, "total": 0.0}

        def timed(stage, function):  # noqa: ANN001, ANN202
            def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                start = clock()
                try:
                    return function(*args, **kwargs)
                finally:
                    spent[stage] += clock() - start

            return wrapper

        clf._frontend.process = timed("frontend", clf._frontend.process)
        clf._run, clf._run_group = timed("model", clf._run), timed("model", clf._run_group)
        update = timed("detector", det.update)
        try:
            self.reset()
            chunk = HEADLINE_MS * SAMPLE_RATE // 1000
            count = len(signal) // chunk
            for k in range(count):
                piece = signal[k * chunk : (k + 1) * chunk]
                start = clock()
                update(clf.process(piece))
                spent["total"] += clock() - start
        finally:
            del clf._frontend.process, clf._run, clf._run_group  # back to the class methods
        scale = 1000.0 / (count * chunk / SAMPLE_RATE)
        stages = {name: value * scale for name, value in spent.items()}
        stages["other"] = stages["total"] - stages["frontend"] - stages["model"] - stages["detector"]
        return {"breakdown_ms_per_s": stages}


# -- the main process -----------------------------------------------------------------------------


def make_signals(seconds: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """(looped demo + seeded noise as int16, the demo as int16, keyword end times in the demo)."""
    from audio_lstm.augment.signal import word_activity
    from audio_lstm.device.audio_io import load_audio

    demo = load_audio(DEMO, SAMPLE_RATE)
    n = int(round(seconds * SAMPLE_RATE))
    looped = np.resize(demo, n) + np.random.default_rng(seed).normal(0.0, 10 ** (-50 / 20), n)  # -50 dBFS noise
    ends = {}
    for word, onset in DEMO_WORDS:  # rain at -42 dBFS: 20 dB below the loudest frame keeps it out
        segment = demo[int(onset * SAMPLE_RATE) : int((onset + 1.0) * SAMPLE_RATE)]
        ends[word] = onset + word_activity(segment, SAMPLE_RATE, threshold_db=20.0)[1] / SAMPLE_RATE

    def pcm(audio: np.ndarray) -> np.ndarray:
        return (np.clip(audio, -1.0, 32767 / 32768) * 32768).astype(np.int16)

    return pcm(looped), pcm(demo), ends


def run_one(command: list[str], env: dict[str, str]) -> dict:
    """Run one worker; its JSON result, or {"error": ...} naming why there is none."""
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, env=env)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"error": f"{type(error).__name__}: {error}"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return {"error": f"worker exited {proc.returncode}: {tail or 'no output'}"}
    return json.loads(lines[-1])


def delays(result: dict, ends: dict[str, float]) -> dict[str, float | str | None]:
    """Per demo keyword: first matching event returned after the word's onset, minus the word end."""
    out: dict[str, float | str | None] = {}
    for word, onset in DEMO_WORDS:
        if word not in result.get("labels", ()):
            out[word] = "n/a"
            continue
        hits = [e["emitted_s"] for e in result.get("events", []) if e["label"] == word and e["emitted_s"] > onset]
        out[word] = round(hits[0] - ends[word], 3) if hits else None
    return out


def cell(value: float | str | None, fmt: str = "{:.3f}") -> str:
    if value is None:
        return "missed"
    return value if isinstance(value, str) else fmt.format(value)


def print_table(results: list[dict], chunks: list[int], ends: dict[str, float], seconds: float) -> None:
    head = (
        ["model", "size KB"]
        + [f"ms/s@{c}" for c in chunks]
        + [f"wall@{HEADLINE_MS}"]
        + [f"p50@{HEADLINE_MS} ms", f"p99@{HEADLINE_MS} ms", "RSS MB"]
        + [f"{w} delay s" for w, _ in DEMO_WORDS]
    )
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["name"], f"FAILED: {r['error']}"])
            continue
        lat = r["latency_ms"].get(str(HEADLINE_MS), {})
        rows.append(
            [r["name"], f"{r['file_bytes'] / 1024:.0f}"]
            + [cell(r["cost_ms_per_s"].get(str(c))) for c in chunks]
            + [cell(r["wall_ms_per_s"].get(str(HEADLINE_MS)))]
            + [cell(lat.get("p50")), cell(lat.get("p99")), f"{r['peak_rss_mb']:.0f}"]
            + [cell(r["delay_s"][w], "{:+.2f}") for w, _ in DEMO_WORDS]
        )
    widths = [max(len(row[i]) for row in [head] + [r for r in rows if len(r) == len(head)]) for i in range(len(head))]
    print(
        f"whole path, single thread; ms/s = CPU ms per s of audio, {seconds:g} s of audio per pass; "
        f"word ends: " + ", ".join(f"{w} {t:.2f} s" for w, t in ends.items())
    )
    for row in [head] + rows:
        if len(row) != len(head):
            print(f"{row[0].ljust(widths[0])}  {row[1]}")
            continue
        print("  ".join([row[0].ljust(widths[0])] + [text.rjust(w) for text, w in zip(row[1:], widths[1:])]))


def summarize(results: list[dict]) -> dict:
    """Ratios to our int8 model at 80 ms and the issue's targets."""
    key = str(HEADLINE_MS)
    ok = [r for r in results if "error" not in r and key in r["cost_ms_per_s"]]
    ours = next((r for r in ok if r["name"].startswith("ours int8")), None)
    summary: dict = {"ratios_vs_ours_int8": {}, "targets": {}}
    if ours is None:
        return summary
    base = ours["cost_ms_per_s"][key]
    for r in ok:
        if r is not ours:
            summary["ratios_vs_ours_int8"][r["name"]] = r["cost_ms_per_s"][key] / base
    oww = next(
        (ratio for name, ratio in summary["ratios_vs_ours_int8"].items() if name.startswith("openWakeWord")), None
    )
    summary["targets"] = {
        f"cost <= {TARGETS['cost']} ms per s": [base, base <= TARGETS["cost"]],
        f"openWakeWord/ours >= {TARGETS['ratio']}x": [oww, None if oww is None else oww >= TARGETS["ratio"]],
        f"p99 latency < {TARGETS['p99']} ms": [
            ours["latency_ms"][key]["p99"],
            ours["latency_ms"][key]["p99"] < TARGETS["p99"],
        ],
        f"peak RSS < {TARGETS['rss']} MB": [ours["peak_rss_mb"], ours["peak_rss_mb"] < TARGETS["rss"]],
    }
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python bench/bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        type=Path,
        action="append",
        default=[],
        help="our ONNX model (repeatable; default: the bundled int8 model)",
    )
    parser.add_argument("--fp32", type=Path, help="an fp32 export to measure beside the int8 model(s)")
    parser.add_argument(
        "--frames-per-call",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="also measure the int8 model(s) with this frame group (repeatable; default group: the runtime's)",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="audio per chunk size and pass (default 60)")
    parser.add_argument("--repeats", type=int, default=5, help="passes per chunk size; cost is their median")
    parser.add_argument("--chunks", default=",".join(map(str, CHUNKS_MS)), help="chunk sizes in ms")
    parser.add_argument("--quick", action="store_true", help="3 s of audio, one pass (a smoke test)")
    parser.add_argument("--no-refs", action="store_true", help="skip openWakeWord and micro_speech")
    parser.add_argument(
        "--ref-python",
        type=Path,
        default=REF_VENV_PYTHON,
        help="interpreter of the reference venv (default .bench-venv/, see bench/setup_refs.sh)",
    )
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--worker" in argv:  # a measurement subprocess
        single_thread_env()
        args = worker_args(argv, ["ours"])
        return run_worker(lambda: OursPipeline(args.model, args.frames_per_call), args)
    args = build_parser().parse_args(argv)
    if args.quick:
        args.seconds, args.repeats = 3.0, 1
    chunks = [int(c) for c in args.chunks.split(",")]
    models: list[Path | None] = list(args.model) or [None]
    if args.fp32:
        models.append(args.fp32)
    signal, demo, ends = make_signals(args.seconds)
    # Ours runs from the installed package; the references run bench_refs.py by path (no audio_lstm import).
    env = {**os.environ, **{name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    results = []
    with tempfile.TemporaryDirectory(prefix="audio-lstm-bench-") as tmp:
        data = Path(tmp) / "signal.npz"
        np.savez(data, signal=signal, demo=demo)
        common = ["--data", str(data), "--chunks", ",".join(map(str, chunks)), "--repeats", str(args.repeats)]
        variants = [(m, None) for m in models] + [
            (m, g) for g in args.frames_per_call for m in models if args.fp32 is None or m != args.fp32
        ]
        jobs = [
            (
                [sys.executable, str(Path(__file__).resolve()), "--worker", "ours", *common]
                + ([] if m is None else ["--model", str(m)])
                + ([] if g is None else ["--frames-per-call", str(g)]),
                f"ours ({m or 'bundled'}{'' if g is None else f', groups of {g}'})",
            )
            for m, g in variants
        ]
        if args.no_refs:
            note = "reference models skipped (--no-refs)"
        elif not args.ref_python.exists():
            note = f"reference models skipped: no {args.ref_python} (run: bash bench/setup_refs.sh)"
        else:
            note = ""
            script = str(Path(__file__).with_name("refs.py"))
            jobs += [([str(args.ref_python), script, "--worker", ref, *common], ref) for ref in REFS]
        for command, label in jobs:
            print(f"measuring {label} ...", file=sys.stderr, flush=True)
            result = run_one(command, env)
            result.setdefault("name", label)
            if "error" not in result:
                result["delay_s"] = delays(result, ends)
            results.append(result)
    print_table(results, chunks, ends, args.seconds)
    if not args.fp32 and len(models) == 1:
        print("fp32: not measured (only the int8 model is given; add --fp32 PATH)")
    if note:
        print(note)
    summary = summarize(results)
    for r in results:
        if "breakdown_ms_per_s" in r:
            b = r["breakdown_ms_per_s"]
            print(
                f"{r['name']} at {HEADLINE_MS} ms, ms per s of audio: front end {b['frontend']:.3f}, model "
                f"{b['model']:.3f}, detector {b['detector']:.3f}, other {b['other']:.3f} (total {b['total']:.3f})"
            )
    for name, ratio in summary["ratios_vs_ours_int8"].items():
        print(f"{name} / ours int8 at {HEADLINE_MS} ms: {ratio:.1f}x the cost")
    for target, (value, passed) in summary["targets"].items():
        verdict = "not measured" if passed is None else ("ok" if passed else "MISSED")
        print(f"target {target}: {'' if value is None else cell(value) + ' '}{verdict}")
    if args.json:
        report = {
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": {
                "platform": platform.platform(),
                "processor": platform.processor(),
                "cpus": os.cpu_count(),
                "loadavg_at_start": os.getloadavg(),
            },
            "audio_seconds": args.seconds,
            "repeats": args.repeats,
            "chunks_ms": chunks,
            "word_ends_s": ends,
            "results": results,
            **summary,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
