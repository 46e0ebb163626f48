"""`python bench/listen_cpu.py`: the CPU `audio-lstm listen` itself spends while it listens to a microphone.

No microphone needed: `bench/alsa_rig.py` (also the ALSA tests' device) defines, in a private
``~/.asoundrc`` under a temporary HOME, an ALSA capture PCM whose samples come from a file and whose
clock is a pacer process reading a pipe at the device's byte rate, so PortAudio captures in real time through
its ALSA host API, exactly as from a USB microphone. The daemon runs as a subprocess; after a
warm-up, every thread's scheduler run time (``/proc/PID/task/*/schedstat``, nanoseconds, not the
tick-sampled ``utime``) and voluntary context switches (its wake-ups) are read twice, `--seconds`
apart. The pacer is another process and is not counted.

Each ``--chunk-ms`` value is one variant, measured in the same run::

    python bench/listen_cpu.py --seconds 60 --chunk-ms 80 --chunk-ms 160

(`bench/floors.py` gives the least this can cost: the stages' fixed costs per call and a thread's
wake-up.)

Prints one table: CPU ms per second of audio (= tenths of a percent of one core), wake-ups per
second, per thread and in all, and the daemon's peak resident memory. Skips (exit 0, says why)
where PortAudio has no ALSA host API.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from alsa_rig import DEVICE, PACER, PROBE, asoundrc, rig_env

WARMUP_S = 8.0  # imports, model load, stream start


def thread_stats(pid: int) -> dict[str, tuple[float, int]]:
    """Thread name/id ("main/PID" for the main thread) -> (seconds run, voluntary context switches)."""
    stats: dict[str, tuple[float, int]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = "main" if task.name == str(pid) else (task / "comm").read_text().strip()
            run_ns = int((task / "schedstat").read_text().split()[0])
            switches = next(
                int(line.split()[1])
                for line in (task / "status").read_text().splitlines()
                if line.startswith("voluntary_ctxt_switches")
            )
        except (OSError, StopIteration, ValueError):
            continue  # the thread ended meanwhile
        stats[f"{name}/{task.name}"] = (run_ns / 1e9, switches)
    return stats


def resident_mb(pid: int) -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory of `pid`, MB."""
    fields = {"VmHWM:": "peak_rss_mb", "VmRSS:": "rss_mb"}
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(maxsplit=1)[0] if line else ""
        if key in fields:
            values[fields[key]] = int(line.split()[1]) / 1024
    return values


def measure(home: Path, chunk_ms: int, seconds: float) -> dict:
    """Run `listen` on the virtual device; CPU and wake-ups per second of audio over `seconds` after warm-up."""
    command = [sys.executable, "-m", "audio_lstm.cli", "listen", "--device", DEVICE, "--chunk-ms", str(chunk_ms)]
    process = subprocess.Popen(
        command, env=rig_env(home), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        time.sleep(WARMUP_S)
        if process.poll() is not None:
            raise RuntimeError(f"listen exited early: {process.stderr.read().decode(errors='replace')[-2000:]}")
        before, started = thread_stats(process.pid), time.monotonic()
        time.sleep(seconds)
        after, elapsed = thread_stats(process.pid), time.monotonic() - started
        memory = resident_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    threads = {}
    for name, (run_s, switches) in after.items():
        run0, switches0 = before.get(name, (0.0, 0))
        threads[name] = {
            "cpu_ms_per_s": 1000 * (run_s - run0) / elapsed,
            "wakes_per_s": (switches - switches0) / elapsed,
        }
    total = {key: sum(t[key] for t in threads.values()) for key in ("cpu_ms_per_s", "wakes_per_s")}
    return {"chunk_ms": chunk_ms, "seconds": elapsed, "total": total, "threads": threads, **memory}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], prog="bench/listen_cpu.py")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per variant (default 30)")
    parser.add_argument("--chunk-ms", type=int, action="append", help="listen --chunk-ms; repeat (default 80)")
    parser.add_argument("--json", type=Path, help="write every number to this file")
    args = parser.parse_args(argv)
    chunks = args.chunk_ms or [80]
    results: dict = {"variants": []}
    with tempfile.TemporaryDirectory(prefix="listen-cpu-") as folder:
        home = Path(folder)
        pacer, infile = home / "pacer.py", home / "capture.f32"
        pacer.write_text(PACER)
        infile.write_bytes(b"")
        (home / ".asoundrc").write_text(asoundrc(infile, pacer, 64000))
        probe = subprocess.run([sys.executable, "-c", PROBE], env=rig_env(home), capture_output=True, text=True)
        found = json.loads((probe.stdout.strip().splitlines() or ['{"skip": "probe failed"}'])[-1])
        if "skip" in found:
            print(f"skipped: {found['skip']}")
            return 0
        rate = int(found["rate"])
        # Quiet room noise (about -60 dBFS) for the whole run: the daemon's steady state.
        total_s = WARMUP_S + args.seconds + 5
        noise = np.random.default_rng(0).normal(0.0, 1e-3, int(total_s * rate)).astype("<f4")
        noise.tofile(infile)
        (home / ".asoundrc").write_text(asoundrc(infile, pacer, 4 * rate))
        for chunk_ms in chunks:
            results["variants"].append(measure(home, chunk_ms, args.seconds))
    print(f"audio-lstm listen on a paced ALSA capture device at {rate} Hz, {args.seconds:g} s per variant")
    print(
        f"{'chunk ms':>8} {'CPU ms/s':>9} {'% core':>7} {'wakes/s':>8} {'peak RSS MB':>11}   "
        "per thread (CPU ms/s, wakes/s)"
    )
    for variant in results["variants"]:
        total = variant["total"]
        busy = sorted(variant["threads"].items(), key=lambda item: -item[1]["cpu_ms_per_s"])
        detail = ", ".join(
            f"{n} {t['cpu_ms_per_s']:.2f}/{t['wakes_per_s']:.1f}" for n, t in busy if t["wakes_per_s"] > 0.05
        )
        print(
            f"{variant['chunk_ms']:>8} {total['cpu_ms_per_s']:>9.2f} {total['cpu_ms_per_s'] / 10:>7.2f} "
            f"{total['wakes_per_s']:>8.1f} {variant['peak_rss_mb']:>11.1f}   {detail}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
