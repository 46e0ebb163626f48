"""Packaging: licence in wheel and sdist, clean builds, `--version`, help defaults, the Makefile's installs."""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
import tomllib

from audio_lstm.cli import COMMANDS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SKIP = {".git", ".venv", "build", "dist", "runs", "cache", ".pytest_cache", "__pycache__"}
PARSERS = {name: module for name, (module, _) in COMMANDS.items()}


def source_copy(tmp_path: Path) -> Path:
    """The working tree without environments and build outputs (builds write into their source tree)."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {name for name in names if name in SKIP or name.endswith(".egg-info")}

    return Path(shutil.copytree(ROOT, tmp_path / "src", ignore=ignore))


def test_license_file_and_metadata() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 The audio-lstm authors" in text
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["license"] == "MIT" and config["project"]["license-files"] == ["LICENSE"]
    assert "setuptools>=77,<81" in config["build-system"]["requires"]


def test_wheel_carries_license_and_builds_quietly(tmp_path) -> None:  # noqa: ANN001
    """The wheel pip builds (isolated, with the pinned setuptools) has LICENSE and an SPDX licence field."""
    src = source_copy(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", ".", "-w", str(tmp_path / "dist")],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    assert "Deprecat" not in output and "deprecat" not in output, [
        line for line in output.splitlines() if "eprecat" in line
    ]
    (wheel,) = (tmp_path / "dist").glob("audio_lstm-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        fields = archive.read(metadata).decode()
        (license_name,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert "Copyright (c) 2026 The audio-lstm authors" in archive.read(license_name).decode()
    assert "License-Expression: MIT" in fields and "License-File: LICENSE" in fields
    assert "audio_lstm/models/default.int8.onnx" in names


def test_sdist_has_license_and_no_half_test_suite(tmp_path) -> None:  # noqa: ANN001
    """The sdist leaves the tests out on purpose (they need the git checkout: examples, conftest, data)."""
    build_meta = pytest.importorskip("setuptools.build_meta")
    assert build_meta  # built in a subprocess, in the copied tree
    src = source_copy(tmp_path)
    code = f"from setuptools import build_meta; print(build_meta.build_sdist({str(tmp_path / 'sdist')!r}))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sdist,) = (tmp_path / "sdist").glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    assert "LICENSE" in names and "pyproject.toml" in names and "device/classify.py" in names
    assert not [name for name in names if name.startswith("tests")]


def test_version_option() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "audio_lstm.cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout == f"audio-lstm {version('audio-lstm')}\n" and proc.stderr == ""
    usage = subprocess.run(
        [sys.executable, "-m", "audio_lstm.cli", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "--version" in usage


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_option_states_its_default(command: str) -> None:
    parser: argparse.ArgumentParser = importlib.import_module(PARSERS[command]).build_parser()
    missing = []
    for action in parser._actions:  # noqa: SLF001 - argparse offers no public listing
        takes_value = action.nargs != 0 and not action.required
        if action.option_strings and takes_value and not isinstance(action, argparse._HelpAction):  # noqa: SIM102, SLF001
            if "default" not in (action.help or "").lower():
                missing.append(action.option_strings[-1])
    assert missing == [], f"{command}: options whose help gives no default: {missing}"


def make_dry_run(target: str, tmp_path: Path) -> str:
    venv = tmp_path / "venv"
    proc = subprocess.run(
        ["make", "-n", "-B", target, f"VENV={venv}", "PYTHON=python3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_installs_only_the_base_package(tmp_path) -> None:  # noqa: ANN001
    demo = make_dry_run("demo", tmp_path)
    assert "pip install -q -e ." in demo and "torch" not in demo and "[train" not in demo
    assert "classify --clip --format table examples/clips" in demo
    test = make_dry_run("test", tmp_path)
    torch_at, extras_at = test.find("torch==2.13.0"), test.find('-e ".[train,test]"')
    assert 0 <= torch_at < extras_at and "pytest" in test
