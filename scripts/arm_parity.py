#!/usr/bin/env python3
"""x86-64 vs aarch64 parity of the device runtime, with the arm64 side run under qemu-user emulation.

    sudo scripts/arm_parity.sh [--root DIR] [--fp32 MODEL.fp32.onnx] [--cpu QEMU_CPU ...]
                               [--int8-tol X] [--fp32-tol X] [--report FILE.json] [--no-pin] [--rebuild]

Phases (each timed):
  1. setup      binfmt_misc mounted + qemu-aarch64 enabled (qemu-user-static, binfmt-support)
  2. rootfs     `debootstrap --arch=arm64 --variant=minbase bookworm` into --root
                (default /tmp/audio-lstm-arm64; kept and reused, so reruns skip this)
  3. install    host builds a wheel of this repository (`pip wheel --no-deps`); inside the arm64
                root a venv gets `pip install <wheel>`, i.e. the base package plus its deps from
                PyPI (numpy, onnxruntime, soundfile, soxr, sounddevice: aarch64 wheels),
                pinned to the host venv's versions so only the CPU differs (--no-pin: latest)
  4. x86        the probe (below) and `audio-lstm classify --clip --format jsonl` on the host venv
  5. arm64      the same two, emulated, inside the arm64 root (chroot via binfmt), once per
                --cpu (QEMU_CPU; default cortex-a72 = Raspberry Pi 4 and cortex-a76 = Pi 5)
  6. compare    max |score(x86) - score(arm64)| per model, clip-label agreement, tolerance check

The probe feeds examples/stream_demo.flac and every examples/clips/*.flac to
`StreamingClassifier` in 80 ms int16 chunks (then `flush()`), for the bundled int8 model and, if
given, an fp32 model, and saves the per-frame scores (and the MFCC features) to .npy files.

Exit status: 0 = within tolerance and all clip labels agree, 1 = parity failure (or the runtime
crashed while scoring), 2 = could not run (not root, no debootstrap/qemu, no binfmt_misc, no
network to the mirror or PyPI...). The full command log goes to $TMPDIR/audio-lstm-arm-parity.log.

Runs on the host with only the standard library; `probe` is the subcommand run on both sides.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = Path(os.environ.get("AUDIO_LSTM_ARM_ROOT", "/tmp/audio-lstm-arm64"))
DEFAULT_MIRROR = os.environ.get("AUDIO_LSTM_ARM_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
PACKAGES = "python3,python3-venv,python3-pip,libsndfile1,libportaudio2,ca-certificates"
GUEST_VENV = "/opt/audio-lstm-venv"
GUEST_WORK = "/opt/audio-lstm-parity"
CHUNK_SAMPLES = 1280  # 80 ms at 16 kHz
# Tolerances on max |score difference| (scores are softmax probabilities in [0, 1]); docs/arm.md "Proven
# on ARM" has the measurements. Measured (onnxruntime 1.32, numpy 2.4, qemu 7.2, three trained
# models): int8 3.2e-3 .. 5.3e-3, fp32 <= 2e-6; MFCC features differ by ~1e-4 (numpy FFT/float order).
# int8 is dynamically quantized: each call quantizes its activations with a scale computed from the
# input, and x86 (AVX2/VNNI u8s8) and ARM (NEON) MLAS kernels round/requantize differently, so one
# activation can land one quantization step apart; the LSTM state then carries that through the
# rest of a stream. Identical MFCC input on both sides still gives 2.8e-3, so it is the kernels, not
# the front end. 2e-2 is ~4x the worst measurement and far below any decision threshold; fp32 1e-4
# is 50x its measurement. Clip labels must agree exactly.
INT8_TOL = 2e-2
FP32_TOL = 1e-4

EXIT_OK, EXIT_MISMATCH, EXIT_UNAVAILABLE = 0, 1, 2


class Unavailable(RuntimeError):
    """The emulated run cannot happen here (missing tool, no root, no binfmt, no network)."""


# -- probe (runs on x86 and on arm64) --------------------------------------------------------------


def probe(out: Path, examples: Path, models: list[str]) -> None:
    import platform

    import numpy as np
    import onnxruntime
    import soundfile

    import audio_lstm
    from audio_lstm import StreamingClassifier, StreamingMfcc

    out.mkdir(parents=True, exist_ok=True)
    files = [examples / "stream_demo.flac", *sorted((examples / "clips").glob("*.flac"))]
    info: dict[str, object] = {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
        "audio_lstm": audio_lstm.__version__,
        "files": [],
        "models": {},
    }
    audio = {}
    for path in files:
        data, rate = soundfile.read(str(path), dtype="int16")
        if data.ndim != 1 or rate != 16000:
            raise SystemExit(f"{path}: expected mono 16 kHz, got {data.shape} at {rate} Hz")
        audio[path.stem] = data
        info["files"].append(path.stem)
    for spec in models:
        name, _, model_path = spec.partition("=")
        classifier = StreamingClassifier(model_path or None)
        started = time.perf_counter()
        for stem, data in audio.items():
            classifier.reset()
            parts = [classifier.process(data[i : i + CHUNK_SAMPLES]) for i in range(0, len(data), CHUNK_SAMPLES)]
            parts.append(classifier.flush())
            np.save(out / f"{name}__{stem}.npy", np.concatenate(parts))
        info["models"][name] = {
            "path": str(classifier.path),
            "precision": classifier.info.precision,
            "labels": list(classifier.labels),
            "seconds": round(time.perf_counter() - started, 3),
        }
        if name == "int8":  # front end only once: it does not depend on the model
            for stem, data in audio.items():
                mfcc = StreamingMfcc(classifier.info.frontend)
                np.save(out / f"mfcc__{stem}.npy", mfcc.process(data))
    (out / "info.json").write_text(json.dumps(info, indent=2))


# -- host side ------------------------------------------------------------------------------------


def run(cmd: list[str], log: Path | None = None, **kw) -> subprocess.CompletedProcess:  # noqa: ANN003
    """Run a command; on failure show its tail and raise."""
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if log is not None:
        with log.open("a") as handle:
            handle.write(f"$ {' '.join(cmd)}\n{result.stdout}{result.stderr}\n")
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise RuntimeError(f"command failed ({result.returncode}): {' '.join(cmd)}\n" + "\n".join(tail))
    return result


def check_prerequisites(root: Path, mirror: str) -> None:
    if os.geteuid() != 0:
        raise Unavailable("needs root (debootstrap, binfmt_misc, chroot)")
    missing = [
        tool
        for tool in ("debootstrap", "qemu-aarch64-static", "update-binfmts", "chroot")
        if shutil.which(tool) is None
    ]
    if missing:
        raise Unavailable(
            f"missing {', '.join(missing)}: apt-get install -y debootstrap qemu-user-static binfmt-support"
        )
    if not (root / ".debootstrap-done").exists():
        check_mirror(mirror)


def check_mirror(mirror: str) -> None:
    import urllib.request

    url = f"{mirror.rstrip('/')}/dists/{SUITE}/Release"
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            response.read(64)
    except Exception as error:  # noqa: BLE001 - any failure means "no mirror"
        raise Unavailable(f"cannot reach the Debian mirror ({url}: {error})") from error


def ensure_binfmt() -> str:
    """Mount binfmt_misc and enable qemu-aarch64; returns a short description of what was done."""
    base = Path("/proc/sys/fs/binfmt_misc")
    if not (base / "status").exists():
        subprocess.run(["mount", "binfmt_misc", "-t", "binfmt_misc", str(base)], capture_output=True)
    if not (base / "status").exists():
        raise Unavailable(
            "binfmt_misc is not mounted and cannot be mounted (unprivileged container?): "
            "run on a host or a --privileged container"
        )
    entry = base / "qemu-aarch64"
    if not entry.exists() or "enabled" not in entry.read_text():
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True)
    if not entry.exists() or "enabled" not in entry.read_text():
        raise Unavailable("cannot register qemu-aarch64 with binfmt_misc (update-binfmts --enable qemu-aarch64 failed)")
    lines = entry.read_text().splitlines()
    return f"{lines[1] if len(lines) > 1 else ''}; {lines[-1] if lines else ''}".strip()


def debootstrap(root: Path, mirror: str, log: Path) -> bool:
    """Build the arm64 root unless a finished one is there; True when it was built now."""
    marker = root / ".debootstrap-done"
    if marker.exists():
        return False
    if root.exists():
        unmount_guest(root)
        shutil.rmtree(root)  # a half-finished debootstrap: start over
    run(["debootstrap", "--arch=arm64", "--variant=minbase", f"--include={PACKAGES}", SUITE, str(root), mirror], log)
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
    return True


def mount_guest(root: Path) -> None:
    # No /sys on purpose: with the host's (x86) /sys visible, onnxruntime's cpuinfo crashes the
    # emulated process (SIGSEGV); without it, it warns "cpuinfo_initialize failed" and onnxruntime
    # picks its ARM kernels from the HWCAPs that qemu reports for the emulated CPU model.
    for target, args in (("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"])):
        path = root / target
        if not os.path.ismount(path):
            run(["mount", *args, str(path)])
    resolv = root / "etc/resolv.conf"
    if Path("/etc/resolv.conf").exists():
        resolv.unlink(missing_ok=True)
        shutil.copyfile("/etc/resolv.conf", resolv)
    copy_host_ca(root)


GUEST_CA = "/etc/ssl/certs/audio-lstm-host-ca.crt"
# Forwarded into the guest so pip works behind the same proxy / package index as the host.
FORWARD_ENV = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_DEFAULT_TIMEOUT",
)


def host_ca_bundle() -> Path | None:
    """The CA bundle the host's pip trusts (a TLS-intercepting proxy's CA lives there, if any)."""
    for var in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    default = Path("/etc/ssl/certs/ca-certificates.crt")
    return default if default.is_file() else None


def copy_host_ca(root: Path) -> bool:
    bundle = host_ca_bundle()
    if bundle is None:
        return False
    shutil.copyfile(bundle, root / GUEST_CA.lstrip("/"))
    return True


def unmount_guest(root: Path) -> None:
    for target in ("dev", "sys", "proc"):
        path = root / target
        if os.path.ismount(path):
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def guest(
    root: Path, args: list[str], log: Path | None = None, cwd: str = "/", cpu: str | None = None
) -> subprocess.CompletedProcess:
    script = f"cd {cwd} && exec " + " ".join(_quote(a) for a in args)
    env = {
        "PATH": f"{GUEST_VENV}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.update({k: v for k, v in os.environ.items() if k in FORWARD_ENV})
    if cpu:
        env["QEMU_CPU"] = cpu  # read by qemu-aarch64 (started by binfmt_misc) from the guest's environment
    if (root / GUEST_CA.lstrip("/")).is_file():
        env.update({"PIP_CERT": GUEST_CA, "SSL_CERT_FILE": GUEST_CA, "REQUESTS_CA_BUNDLE": GUEST_CA})
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"  # looked up in the host's PATH, not env's
    return run([chroot, str(root), "/bin/sh", "-c", script], log, env=env)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


RUNTIME_DEPS = ("numpy", "onnxruntime", "soundfile", "soxr", "sounddevice")


def host_versions() -> dict[str, str]:
    """The host venv's versions of the runtime deps: the guest gets the same, so only the CPU differs."""
    from importlib import metadata

    pins = {}
    for name in RUNTIME_DEPS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            pins[name] = metadata.version(name)
    return pins


def install(root: Path, log: Path, pin: bool = True) -> str:
    """Wheel of this checkout -> venv in the arm64 root (reinstalled only when the wheel changes)."""
    with tempfile.TemporaryDirectory() as tmp:
        # Build from a copy of the sources so the checkout gets no build/ or egg-info changes.
        source = Path(tmp) / "src"
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(REPO / name, source / name)
        for name in ("audio_lstm", "export", "device"):
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp, str(source)],
            log,
        )
        wheel = next(Path(tmp).glob("audio_lstm-*.whl"))
        pins = host_versions() if pin else {}
        # Hash the sources, not the wheel (its metadata carries build times): reinstall on changes only.
        digest = hashlib.sha256(json.dumps(pins).encode())
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes())
        digest = digest.hexdigest()
        stamp = root / GUEST_VENV.lstrip("/") / ".audio-lstm-wheel"
        if stamp.exists() and stamp.read_text() == digest:
            return f"{wheel.name} already installed"
        dest = root / "opt/wheels"
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        shutil.copy(wheel, dest / wheel.name)
    if not (root / GUEST_VENV.lstrip("/") / "bin/python").exists():
        guest(root, ["python3", "-m", "venv", GUEST_VENV], log)
    (root / "opt/wheels/constraints.txt").write_text("".join(f"{k}=={v}\n" for k, v in pins.items()))
    guest(
        root,
        [
            f"{GUEST_VENV}/bin/pip",
            "install",
            "-q",
            "--force-reinstall",
            "-c",
            "/opt/wheels/constraints.txt",
            f"/opt/wheels/{wheel.name}",
        ],
        log,
    )
    stamp.write_text(digest)
    pinned = ", ".join(f"{k} {v}" for k, v in pins.items())
    return f"{wheel.name} installed" + (f", deps pinned to the host's: {pinned}" if pins else ", latest deps")


def stage_inputs(work: Path, models: dict[str, Path | None]) -> list[str]:
    """Copy the probe, examples and extra models into `work`; returns the probe's model specs."""
    shutil.rmtree(work, ignore_errors=True)
    (work / "examples").mkdir(parents=True)
    shutil.copy(REPO / "examples/stream_demo.flac", work / "examples")
    shutil.copytree(REPO / "examples/clips", work / "examples/clips")
    shutil.copy(Path(__file__), work / "arm_parity.py")
    specs = []
    for name, path in models.items():
        if path is None:
            specs.append(f"{name}=")  # the bundled model of the installed package
        else:
            shutil.copy(path, work / f"{name}.onnx")
            specs.append(f"{name}=model:{name}.onnx")
    return specs


def _resolve_specs(specs: list[str], base: str) -> list[str]:
    return [s.replace("=model:", f"={base}/") for s in specs]


def compare(x86: Path, arm: Path, x86_jsonl: str, arm_jsonl: str, tolerances: dict[str, float]) -> dict:
    import numpy as np

    info_x, info_a = (json.loads((d / "info.json").read_text()) for d in (x86, arm))
    report: dict[str, object] = {"x86": info_x, "arm64": info_a, "models": {}}
    ok = True
    for name in info_x["models"]:
        worst, worst_file, frames, argmax_diff = 0.0, "", 0, 0
        for stem in info_x["files"]:
            a = np.load(x86 / f"{name}__{stem}.npy")
            b = np.load(arm / f"{name}__{stem}.npy")
            if a.shape != b.shape:
                raise RuntimeError(f"{name}/{stem}: x86 scored {a.shape}, arm64 {b.shape}")
            diff = float(np.max(np.abs(a.astype(np.float64) - b))) if a.size else 0.0
            frames += len(a)
            argmax_diff += int(np.sum(a.argmax(1) != b.argmax(1)))
            if diff >= worst:
                worst, worst_file = diff, stem
        tol = tolerances[name]
        within = worst <= tol
        ok &= within
        report["models"][name] = {
            "max_abs_diff": worst,
            "worst_file": worst_file,
            "frames": frames,
            "argmax_disagreements": argmax_diff,
            "tolerance": tol,
            "ok": within,
        }
    mfcc = max(
        float(np.max(np.abs(np.load(x86 / f"mfcc__{s}.npy").astype(np.float64) - np.load(arm / f"mfcc__{s}.npy"))))
        for s in info_x["files"]
    )
    report["mfcc_max_abs_diff"] = mfcc
    rows_x = [json.loads(line) for line in x86_jsonl.splitlines() if line.strip()]
    rows_a = [json.loads(line) for line in arm_jsonl.splitlines() if line.strip()]
    labels_agree = [r["label"] for r in rows_x] == [r["label"] for r in rows_a] and len(rows_x) > 0
    report["clip_labels"] = {
        "agree": labels_agree,
        "count": len(rows_x),
        "max_score_diff": max((abs(x["score"] - a["score"]) for x, a in zip(rows_x, rows_a)), default=0.0),
        "x86": rows_x,
        "arm64": rows_a,
    }
    report["ok"] = ok and labels_agree
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("probe", help="(internal) score the examples; runs on both architectures")
    p.add_argument("out", type=Path)
    p.add_argument("--examples", type=Path, required=True)
    p.add_argument("--model", action="append", default=[], help="NAME=PATH (empty PATH: bundled model)")
    parser.add_argument(
        "--root", type=Path, default=DEFAULT_ROOT, help=f"arm64 root (default {DEFAULT_ROOT}; env AUDIO_LSTM_ARM_ROOT)"
    )
    parser.add_argument("--mirror", default=DEFAULT_MIRROR, help="Debian mirror (env AUDIO_LSTM_ARM_MIRROR)")
    parser.add_argument("--fp32", type=Path, help="also compare this fp32 model (e.g. runs/default/model.fp32.onnx)")
    parser.add_argument("--int8-tol", type=float, default=INT8_TOL)
    parser.add_argument("--fp32-tol", type=float, default=FP32_TOL)
    parser.add_argument("--report", type=Path, help="write the JSON report here")
    parser.add_argument(
        "--cpu",
        action="append",
        help="qemu CPU model(s) to emulate (default: cortex-a72 = Pi 4, "
        "cortex-a76 = Pi 5; `qemu-aarch64-static -cpu help` lists more)",
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="latest deps from PyPI in the guest, not the host's versions"
    )
    parser.add_argument("--rebuild", action="store_true", help="delete --root and debootstrap again")
    args = parser.parse_args(argv)
    args.cpu = args.cpu or ["cortex-a72", "cortex-a76"]
    if args.command == "probe":
        probe(args.out, args.examples, args.model)
        return EXIT_OK

    root: Path = args.root.resolve()
    timings: dict[str, float] = {}
    log = Path(tempfile.gettempdir()) / "audio-lstm-arm-parity.log"
    log.write_text("")

    current = [""]  # the phase running now: a failure while scoring is a result, not "cannot run"

    def phase(name: str, func, *a):  # noqa: ANN001, ANN002, ANN202
        current[0] = name
        started = time.perf_counter()
        print(f"[{name}] ...", flush=True)
        result = func(*a)
        timings[name] = round(time.perf_counter() - started, 1)
        note = f"  ({result})" if isinstance(result, str) and "\n" not in result.strip() else ""
        print(f"[{name}] {timings[name]:.1f} s{note}", flush=True)
        return result

    try:
        if args.rebuild and root.exists():
            unmount_guest(root)
            shutil.rmtree(root)
        check_prerequisites(root, args.mirror)
        phase("setup", ensure_binfmt)
        built = phase("rootfs", debootstrap, root, args.mirror, log)
        if not built:
            print(f"         reused {root}")
        mount_guest(root)
        try:
            phase("install", install, root, log, not args.no_pin)
            models: dict[str, Path | None] = {"int8": None}
            if args.fp32 is not None:
                models["fp32"] = args.fp32.resolve()
            with tempfile.TemporaryDirectory() as tmp:
                host_work, host_out = Path(tmp) / "work", Path(tmp) / "x86"
                specs = stage_inputs(host_work, models)
                guest_work = root / GUEST_WORK.lstrip("/")
                stage_inputs(guest_work, models)
                venv_python = Path(sys.executable)

                def run_x86() -> str:
                    cmd = [
                        str(venv_python),
                        str(host_work / "arm_parity.py"),
                        "probe",
                        str(host_out),
                        "--examples",
                        str(host_work / "examples"),
                    ]
                    run(cmd + [f"--model={s}" for s in _resolve_specs(specs, str(host_work))], log)
                    cli = shutil.which("audio-lstm", path=str(venv_python.parent)) or "audio-lstm"
                    return run(
                        [cli, "classify", "--clip", "--format", "jsonl", "examples/clips"], log, cwd=host_work
                    ).stdout

                def run_arm(cpu: str) -> str:
                    out = f"out-{cpu}"
                    shutil.rmtree(guest_work / out, ignore_errors=True)
                    cmd = [
                        f"{GUEST_VENV}/bin/python",
                        "arm_parity.py",
                        "probe",
                        f"{GUEST_WORK}/{out}",
                        "--examples",
                        "examples",
                    ]
                    guest(
                        root,
                        cmd + [f"--model={s}" for s in _resolve_specs(specs, GUEST_WORK)],
                        log,
                        cwd=GUEST_WORK,
                        cpu=cpu,
                    )
                    return guest(
                        root,
                        ["audio-lstm", "classify", "--clip", "--format", "jsonl", "examples/clips"],
                        log,
                        cwd=GUEST_WORK,
                        cpu=cpu,
                    ).stdout

                x86_jsonl = phase("x86", run_x86)
                tolerances = {"int8": args.int8_tol, "fp32": args.fp32_tol}
                reports = {}
                for cpu in args.cpu:
                    arm_jsonl = phase(f"arm64 {cpu}", run_arm, cpu)
                    reports[cpu] = compare(host_out, guest_work / f"out-{cpu}", x86_jsonl, arm_jsonl, tolerances)
        finally:
            unmount_guest(root)
    except Unavailable as error:
        print(f"arm-parity: cannot run: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (RuntimeError, OSError) as error:
        print(f"arm-parity: {current[0]} failed: {error}\n(full log: {log})", file=sys.stderr)
        if current[0].startswith(("x86", "arm64", "compare")):
            return EXIT_MISMATCH  # the runtime itself broke (crash, shape mismatch): a real failure
        return EXIT_UNAVAILABLE  # setup (debootstrap, pip downloads) failed: cannot run here

    ok = all(r["ok"] for r in reports.values())
    summary = {"ok": ok, "cpus": reports, "timings_s": timings}
    if args.report:
        args.report.write_text(json.dumps(summary, indent=2))
    first = next(iter(reports.values()))
    xa, aa = first["x86"], first["arm64"]
    print(f"\nx86:   {xa['machine']} python {xa['python']} numpy {xa['numpy']} onnxruntime {xa['onnxruntime']}")
    print(
        f"arm64: {aa['machine']} python {aa['python']} numpy {aa['numpy']} onnxruntime {aa['onnxruntime']} (qemu-user)"
    )
    for cpu, report in reports.items():
        print(f"-- arm64 as {cpu}: MFCC front end max |diff| {report['mfcc_max_abs_diff']:.3g}")
        for name, m in report["models"].items():
            print(
                f"   {name:5s} scores: max |diff| {m['max_abs_diff']:.3g} over {m['frames']} frames (worst: {m['worst_file']}), "  # noqa: E501
                f"argmax disagreements {m['argmax_disagreements']}, tolerance {m['tolerance']:g} -> {'OK' if m['ok'] else 'FAIL'}"  # noqa: E501
            )
        labels = report["clip_labels"]
        print(
            f"   classify --clip: {labels['count']} clips, labels {'agree' if labels['agree'] else 'DIFFER'}, "
            f"max printed-score diff {labels['max_score_diff']:.4f}"
        )
    print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    print("PASS" if ok else "FAIL")
    return EXIT_OK if ok else EXIT_MISMATCH


if __name__ == "__main__":
    sys.exit(main())
