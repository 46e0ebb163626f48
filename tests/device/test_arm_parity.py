"""Opt-in: int8/fp32 scores on emulated aarch64 match x86-64 (scripts/arm_parity.sh).

Slow (first run: debootstrap + pip install under qemu, tens of minutes; reruns reuse the arm64
root). Run with:  pytest -m slow tests/test_arm_parity.py   (as root, with network).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "arm_parity.py"
# runs/ is not in git: when a trained fp32 export is around, compare it too (newest first).
FP32_CANDIDATES = sorted((REPO / "runs").glob("*/model.fp32.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
FP32 = FP32_CANDIDATES[0] if FP32_CANDIDATES else None


def _load_script():
    spec = importlib.util.spec_from_file_location("arm_parity", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _skip_reason() -> str | None:
    if sys.platform != "linux":
        return "needs Linux (debootstrap, binfmt_misc)"
    if os.geteuid() != 0:
        return "needs root (debootstrap, binfmt_misc, chroot)"
    for tool in ("debootstrap", "qemu-aarch64-static", "update-binfmts"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install debootstrap qemu-user-static binfmt-support)"
    module = _load_script()
    try:
        if not (module.DEFAULT_ROOT / ".debootstrap-done").exists():
            module.check_mirror(module.DEFAULT_MIRROR)
        module.ensure_binfmt()
    except module.Unavailable as error:
        return str(error)
    return None


def test_arm64_scores_match_x86(tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    report_path = tmp_path / "report.json"
    cmd = [sys.executable, str(SCRIPT), "--report", str(report_path)]
    if FP32 is not None:
        cmd += ["--fp32", str(FP32)]
    result = subprocess.run(["nice", "-n", "19", *cmd], capture_output=True, text=True, timeout=3 * 3600)
    output = result.stdout + result.stderr
    if result.returncode == 2:
        pytest.skip(f"arm parity could not run: {output.strip().splitlines()[-1] if output.strip() else '?'}")
    assert result.returncode == 0, output
    summary = json.loads(report_path.read_text())
    assert summary["ok"] and summary["cpus"], output
    for cpu, report in summary["cpus"].items():  # one report per emulated CPU model (Pi 4, Pi 5)
        assert report["arm64"]["machine"] == "aarch64", cpu
        assert report["clip_labels"]["agree"], (cpu, report["clip_labels"])
        for name, model in report["models"].items():
            assert model["max_abs_diff"] <= model["tolerance"], (cpu, name, model)
