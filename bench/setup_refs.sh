#!/usr/bin/env bash
# Creates .bench-venv/ (git-ignored) with the reference models for `python bench/bench.py`:
# openWakeWord 0.5.1 (ONNX models inside its wheel) and the TFLite Micro micro_speech runtimes.
# These packages never go into the project's own environment. Needs Python <= 3.11 on Linux:
# openwakeword 0.5.1 depends on tflite-runtime, whose last wheels (2.14.0) stop at cp311.
#   bash bench/setup_refs.sh            # then: .venv/bin/python bench/bench.py
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BENCH_VENV:-$ROOT/.bench-venv}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$ROOT/bench/requirements-refs.txt"
# Sanity check: every reference imports, and openWakeWord's ONNX models are in its wheel.
"$VENV/bin/python" - <<'PY'
import importlib.util, pathlib
import openwakeword, ai_edge_litert.interpreter  # noqa: F401
from tflite_micro import runtime  # noqa: F401
models = pathlib.Path(openwakeword.__file__).parent / "resources" / "models"
missing = [n for n in ("melspectrogram.onnx", "embedding_model.onnx", "hey_jarvis_v0.1.onnx") if not (models / n).is_file()]
if missing:
    raise SystemExit(f"openwakeword ships no {missing} in {models}: need openwakeword==0.5.1")
print(f"bench refs ready in {pathlib.Path(__import__('sys').prefix)}")
PY
