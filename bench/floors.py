"""`python bench/floors.py`: the least CPU the device path can cost on this machine, stage by stage.

The whole path's cost per second of audio is calls per second times a fixed cost per call plus
frames per second times a cost per frame, for each stage. This measures both terms in tight loops
(warm caches: a lower bound for the daemon, whose blocks run on cold caches), by fitting the time
of one call against its size, for the bundled model (or `--model`):

* model: one onnxruntime run of the streaming graph (I/O bindings, as the runtime makes them) at
  1, 2, 4, ..., 64 steps;
* front end: `mfcc_from_frames` at 1 to 64 frames (numpy's FFT, mel and DCT products);
* detector: `Detector.update` on score rows that stay below every threshold (its usual case);
* a Python thread that only sleeps for a block and wakes up, as every daemon thread does per block;
* the peak resident memory of this process once it imported the runtime and once the model ran.

It prints each fit and the floor of the whole path for groups of 80 ms to 1.28 s, i.e. what no
change to this project's Python code can undercut while the stages are numpy and onnxruntime calls::

    python bench/floors.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1, 2, 4, 8, 16, 32, 64)
GROUPS_S = (0.08, 0.16, 0.32, 0.64, 1.28)


def cpu_us(call: Callable[[], object], repeats: int) -> float:
    """Median over 5 rounds of the CPU microseconds of one call, after a warm-up call."""
    call()
    rounds = []
    for _ in range(5):
        started = time.thread_time()
        for _ in range(repeats):
            call()
        rounds.append((time.thread_time() - started) / repeats * 1e6)
    return float(np.median(rounds))


def fit(sizes: tuple[int, ...], costs: list[float]) -> tuple[float, float]:
    """(fixed microseconds per call, microseconds per unit) of a least-squares line."""
    slope, intercept = np.polyfit(np.array(sizes, dtype=float), np.array(costs), 1)
    return float(intercept), float(slope)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wake_cost_us(block_s: float, seconds: float) -> float:
    """CPU microseconds per wake-up of a thread that only sleeps `block_s` at a time."""
    started, cpu, wakes = time.monotonic(), time.thread_time(), 0
    while time.monotonic() < started + seconds:
        time.sleep(block_s)
        wakes += 1
    return (time.thread_time() - cpu) / wakes * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], prog="bench/floors.py")
    parser.add_argument("--model", type=Path, help="int8 model file (default: the bundled one)")
    parser.add_argument("--repeats", type=int, default=300, help="calls per timing round (default 300)")
    parser.add_argument("--wake-seconds", type=float, default=5.0, help="how long to time wake-ups (default 5)")
    args = parser.parse_args(argv)

    from audio_lstm.device.detector import Detector
    from audio_lstm.device.features import _frames, mfcc_from_frames
    from audio_lstm.device.runtime import StreamingClassifier

    imported_mb = peak_rss_mb()  # numpy, onnxruntime and the runtime's own modules
    base = StreamingClassifier(args.model, threads=1)
    info, cfg = base.info, base.info.frontend
    base.process(np.random.default_rng(2).normal(0, 0.1, 2 * cfg.sample_rate).astype(np.float32))
    model_ran_mb = peak_rss_mb()  # ... and one session of the model after it ran
    model_costs = []
    for steps in SIZES:
        classifier = StreamingClassifier(args.model, threads=1, frames_per_call=steps)
        classifier._group_features[:] = np.random.default_rng(0).normal(0, 1, classifier._group_features.shape)
        model_costs.append(cpu_us(classifier._run_group, args.repeats))
    audio = np.random.default_rng(1).normal(0, 0.1, cfg.n_fft + cfg.hop_length * max(SIZES)).astype(np.float32)
    frontend_costs = [cpu_us(lambda n=n: mfcc_from_frames(_frames(audio, n, cfg), cfg), args.repeats) for n in SIZES]
    detector = Detector(base.labels, info.thresholds, base.frame_seconds)
    quiet = np.zeros((max(SIZES), len(base.labels)), dtype=np.float32)
    detector_costs = [cpu_us(lambda n=n: detector.update(quiet[:n]), args.repeats) for n in SIZES]
    wake = wake_cost_us(0.08, args.wake_seconds)

    steps_per_s = 1.0 / info.step_seconds
    frames_per_s = cfg.sample_rate / cfg.hop_length
    stages = {  # name: (fixed us per call, us per unit, units per second of audio)
        "model (per step)": (*fit(SIZES, model_costs), steps_per_s),
        "front end (per frame)": (*fit(SIZES, frontend_costs), frames_per_s),
        "detector (per step)": (*fit(SIZES, detector_costs), steps_per_s),
    }
    print(
        f"{info.model_version} ({info.precision}, a step every {1000 * info.step_seconds:g} ms); "
        "one thread, warm caches"
    )
    print(f"{'stage':<22} {'us per call':>11} {'us per unit':>11} {'ms/s at unlimited groups':>25}")
    for name, (fixed, per_unit, rate) in stages.items():
        print(f"{name:<22} {fixed:>11.1f} {per_unit:>11.2f} {per_unit * rate / 1000:>25.3f}")
    print(f"a thread's wake-up (80 ms sleeps): {wake:.1f} us of CPU")
    print(f"peak RSS: {imported_mb:.1f} MB with the runtime imported (numpy, onnxruntime), {model_ran_mb:.1f} MB once")
    print("          the model ran: the least a daemon's resident memory can be with these libraries")
    print(f"{'group':>8} {'calls/s':>8} {'floor ms/s':>11}  (every stage once per group, + 1 wake-up per group)")
    for group_s in GROUPS_S:
        calls = 1.0 / group_s
        floor = sum(fixed * calls + per_unit * rate for fixed, per_unit, rate in stages.values()) + wake * calls
        print(f"{1000 * group_s:>6g} ms {calls:>8.2f} {floor / 1000:>11.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
