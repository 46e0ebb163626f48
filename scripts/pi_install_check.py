#!/usr/bin/env python3
"""The Raspberry Pi install path (docs/raspberry-pi.md), tried in an emulated arm64 Debian.

    sudo scripts/pi_install_check.sh [--root DIR] [--cpu QEMU_CPU] [--report FILE.json] [--rebuild]

Reuses scripts/arm_parity.py's arm64 root (debootstrap bookworm + qemu-user via binfmt_misc; kept
in /tmp/audio-lstm-arm64, built when missing) and does what a Pi owner does, in a fresh venv:

  1. wheel      host: `pip wheel --no-deps` of a copy of this checkout
  2. base       guest: `python3 -m venv /opt/audio-lstm/venv` and `pip install <wheel>` (deps: the
                latest aarch64 wheels from PyPI); `pip list`, venv size; torch, tqdm must be absent
  3. run        guest: `audio-lstm --version`, `classify examples/stream_demo.flac`,
                `serve --help`, `listen --list-devices` (no sound card in the chroot: it only
                shows that PortAudio loads)
  4. extras     guest: `pip install '<wheel>[wyoming,mqtt]'`; what it adds, venv size, `pip check`
  5. units      host: `systemd-analyze verify` of deploy/*.service, ExecStart pointed at the venv
                in the arm64 root (systemd cannot run in a chroot: checked, not started)

Exit: 0 all steps passed, 1 a step failed (install or a command), 2 cannot run here (not root,
no debootstrap/qemu/binfmt_misc, no network). Command log: $TMPDIR/audio-lstm-pi-install.log.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import arm_parity as arm  # scripts/arm_parity.py: rootfs, binfmt, chroot helpers
from arm_parity import Unavailable, guest, run

REPO = Path(__file__).resolve().parent.parent
VENV = "/opt/audio-lstm/venv"  # where docs/raspberry-pi.md and deploy/*.service put it
WORK = "/opt/audio-lstm-check"
BASE_DEPS = {"numpy", "onnxruntime", "sounddevice", "soundfile", "soxr"}
MUST_BE_ABSENT = ("torch", "tqdm", "librosa", "wyoming", "paho-mqtt")  # in the base install
EXIT_OK, EXIT_FAILED, EXIT_UNAVAILABLE = 0, 1, 2


def build_wheel(out: Path, log: Path) -> Path:
    """A wheel of this checkout, built from a copy (the checkout gets no build/ or egg-info)."""
    source = out / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy(REPO / name, source / name)
    for name in ("audio_lstm", "export", "device"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)], log)
    return next(out.glob("audio_lstm-*.whl"))


def pip_list(root: Path, log: Path) -> dict[str, str]:
    """{name: version} of the guest venv (pip itself and setuptools included)."""
    listing = guest(root, [f"{VENV}/bin/pip", "list", "--format", "json"], log).stdout
    return {row["name"].lower(): row["version"] for row in json.loads(listing)}


def venv_mib(root: Path) -> float:
    """Disk use of the guest venv, MiB (measured from the host: same bytes, no emulation)."""
    total = sum(p.lstat().st_size for p in (root / VENV.lstrip("/")).rglob("*") if p.is_file() and not p.is_symlink())
    return round(total / 2**20, 1)


def largest(root: Path, count: int = 8) -> dict[str, float]:
    """The `count` biggest entries of the guest venv's site-packages, MiB."""
    site = next((root / VENV.lstrip("/")).glob("lib/python3*/site-packages"))
    sizes = {
        entry.name: sum(
            p.lstat().st_size
            for p in ([entry] if entry.is_file() else entry.rglob("*"))
            if p.is_file() and not p.is_symlink()
        )
        for entry in site.iterdir()
    }
    return {name: round(size / 2**20, 1) for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:count]}


def verify_units(root: Path, log: Path) -> dict[str, str]:
    """`systemd-analyze verify` of each deploy/*.service on this machine (systemd cannot run in the
    chroot), with ExecStart's /opt/audio-lstm/venv pointed into the arm64 root, where it is installed."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return {"skipped": "systemd-analyze not found on this machine"}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for unit in sorted((REPO / "deploy").glob("*.service")):
            copy = Path(tmp) / unit.name
            copy.write_text(unit.read_text().replace(f"{VENV}/bin/", f"{root}{VENV}/bin/"))
            done = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, cwd=tmp)
            with log.open("a") as handle:
                handle.write(f"$ systemd-analyze verify {unit.name}\n{done.stdout}{done.stderr}\n")
            results[unit.name] = "ok" if done.returncode == 0 else (done.stdout + done.stderr).strip()
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the steps (see the module docstring); print a summary, optionally write a JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=arm.DEFAULT_ROOT, help=f"arm64 root (default {arm.DEFAULT_ROOT})")
    parser.add_argument("--mirror", default=arm.DEFAULT_MIRROR, help="Debian mirror for a new root")
    parser.add_argument("--cpu", default="cortex-a72", help="qemu CPU model (default cortex-a72 = Raspberry Pi 4)")
    parser.add_argument("--report", type=Path, help="write the JSON report here")
    parser.add_argument("--rebuild", action="store_true", help="delete --root and debootstrap again")
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    log = Path(tempfile.gettempdir()) / "audio-lstm-pi-install.log"
    log.write_text("")
    report: dict[str, object] = {"cpu": args.cpu, "timings_s": {}}
    timings: dict[str, float] = report["timings_s"]  # type: ignore[assignment]
    step = [""]

    def timed(name: str) -> None:
        step[0] = name
        timings[name] = time.perf_counter()
        print(f"[{name}] ...", flush=True)

    def done(note: str = "") -> None:
        name = step[0]
        timings[name] = round(time.perf_counter() - timings[name], 1)
        print(f"[{name}] {timings[name]:.1f} s" + (f"  ({note})" if note else ""), flush=True)

    try:
        if args.rebuild and root.exists():
            arm.unmount_guest(root)
            shutil.rmtree(root)
        arm.check_prerequisites(root, args.mirror)
        timed("rootfs")
        arm.ensure_binfmt()
        done("built now" if arm.debootstrap(root, args.mirror, log) else f"reused {root}")
        arm.mount_guest(root)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                timed("wheel")
                wheel = build_wheel(Path(tmp), log)
                wheels = root / "opt/wheels"
                shutil.rmtree(wheels, ignore_errors=True)
                wheels.mkdir(parents=True)
                shutil.copy(wheel, wheels / wheel.name)
                done(wheel.name)
            guest_wheel = f"/opt/wheels/{wheel.name}"
            work = root / WORK.lstrip("/")
            shutil.rmtree(work, ignore_errors=True)
            (work / "examples").mkdir(parents=True)
            shutil.copy(REPO / "examples/stream_demo.flac", work / "examples")

            timed("base install")
            shutil.rmtree(root / VENV.lstrip("/"), ignore_errors=True)  # a fresh venv, as on a new Pi
            guest(root, ["python3", "-m", "venv", VENV], log)
            empty = venv_mib(root)
            guest(root, [f"{VENV}/bin/pip", "install", "-q", guest_wheel], log, cpu=args.cpu)
            base = pip_list(root, log)
            report["base"] = {
                "packages": base,
                "venv_mib": venv_mib(root),
                "empty_venv_mib": empty,
                "largest_mib": largest(root),
            }
            done(f"{len(base)} packages, venv {report['base']['venv_mib']} MiB (empty venv {empty} MiB)")
            present = [name for name in MUST_BE_ABSENT if name in base]
            missing = sorted(BASE_DEPS - set(base))
            if present or missing:
                raise RuntimeError(f"base install: unexpected {present}, missing {missing}")

            timed("run")
            cli = f"{VENV}/bin/audio-lstm"
            outputs = {}
            for name, command in (
                ("version", [cli, "--version"]),
                ("classify", [cli, "classify", "--format", "jsonl", "examples/stream_demo.flac"]),
                ("serve --help", [cli, "serve", "--help"]),
            ):
                outputs[name] = guest(root, command, log, cwd=WORK, cpu=args.cpu).stdout.strip()
            devices = subprocess.run(
                [shutil.which("chroot") or "/usr/sbin/chroot", str(root), cli, "listen", "--list-devices"],
                capture_output=True,
                text=True,
                env={"QEMU_CPU": args.cpu},
            )
            outputs["listen --list-devices"] = f"exit {devices.returncode}: {(devices.stdout + devices.stderr).strip()}"
            report["run"] = outputs
            labels = [json.loads(line).get("label") for line in outputs["classify"].splitlines()]
            if not {"stop", "yes", "go"} <= set(labels) or "Traceback" in outputs["listen --list-devices"]:
                raise RuntimeError(f"unexpected results: classify labels {labels}; {outputs['listen --list-devices']}")
            done(f"{outputs['version']}; classify found {', '.join(str(x) for x in labels if x)}")

            timed("extras")
            guest(root, [f"{VENV}/bin/pip", "install", "-q", f"{guest_wheel}[wyoming,mqtt]"], log, cpu=args.cpu)
            full = pip_list(root, log)
            guest(root, [f"{VENV}/bin/pip", "check"], log, cpu=args.cpu)
            outputs["serve imports"] = guest(
                root,
                [f"{VENV}/bin/python", "-c", "import audio_lstm.device.wyoming_handler, paho.mqtt.client; print('ok')"],
                log,
                cpu=args.cpu,
            ).stdout.strip()
            added = {name: version for name, version in full.items() if name not in base}
            report["extras"] = {"added": added, "venv_mib": venv_mib(root)}
            done(f"added {', '.join(added)}; venv {report['extras']['venv_mib']} MiB")

            timed("units")
            report["units"] = verify_units(root, log)
            done("; ".join(f"{name}: {result.splitlines()[0]}" for name, result in report["units"].items()))
        finally:
            arm.unmount_guest(root)
    except Unavailable as error:
        print(f"pi-install-check: cannot run: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (RuntimeError, OSError, ValueError) as error:
        print(f"pi-install-check: {step[0]} failed: {error}\n(full log: {log})", file=sys.stderr)
        return EXIT_UNAVAILABLE if step[0] in ("rootfs", "wheel") else EXIT_FAILED
    units_ok = all(result in ("ok",) for name, result in report["units"].items() if name != "skipped")
    report["ok"] = units_ok
    if args.report:
        args.report.write_text(json.dumps(report, indent=2))
    base = report["base"]
    print("\nbase install: " + ", ".join(f"{k} {v}" for k, v in sorted(base["packages"].items())))
    print(
        f"venv: {base['venv_mib']} MiB (empty venv {base['empty_venv_mib']} MiB); with [wyoming,mqtt] "
        f"{report['extras']['venv_mib']} MiB"
    )
    print("largest: " + ", ".join(f"{name} {mib} MiB" for name, mib in base["largest_mib"].items()))
    print("PASS" if units_ok else "FAIL: a unit file did not verify (see above)")
    return EXIT_OK if units_ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
