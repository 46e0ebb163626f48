"""Warn when an int8 file with signed weights runs on an x86 CPU whose int8 kernels saturate.

onnxruntime multiplies uint8 activations by int8 weights (U8S8) on x86 with VPMADDUBSW, whose int16
pair sums saturate unless the CPU has AVX-512 VNNI or AVX-VNNI. Export stores weights unsigned
(U8U8, exact on every CPU) and says so in the metadata (`WEIGHTS_KEY`); files exported before
that lose clip accuracy on such a CPU (measured on an AVX2-only EPYC: docs/model-card.md).
"""

from __future__ import annotations

import platform
import warnings
from pathlib import Path

from audio_lstm.device.model_file import UNSIGNED, WEIGHTS_KEY

VNNI_FLAGS = ("avx512_vnni", "avx_vnni")
CONVERT_HINT = (
    'python -c "from audio_lstm.export.onnx_export import store_weights_unsigned as s; '
    "s('{path}')\" (needs the train extra; lossless)"
)


def u8s8_saturates(machine: str | None = None, cpuinfo: str | None = None) -> bool:
    """True on an x86-64 CPU without VNNI (read from /proc/cpuinfo); False elsewhere or when unknown."""
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64"):
        return False
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), None)
    return flags is not None and not any(flag in flags for flag in VNNI_FLAGS)


def warn_if_signed_int8(path: Path, precision: str, extra: dict[str, str], saturates: bool | None = None) -> bool:
    """Warn (RuntimeWarning) when `path` is int8 with signed weights on a saturating CPU; returns whether it did."""
    if precision != "int8" or extra.get(WEIGHTS_KEY) == UNSIGNED:
        return False
    if not (u8s8_saturates() if saturates is None else saturates):
        return False
    warnings.warn(
        f"{path}: int8 weights stored signed; on this x86 CPU without VNNI onnxruntime's int8 products "
        f"saturate and accuracy drops. Convert the file once: {CONVERT_HINT.format(path=path)}",
        RuntimeWarning,
        stacklevel=3,
    )
    return True
