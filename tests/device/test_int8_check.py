"""The runtime warns about int8 files whose signed weights saturate on x86 CPUs without VNNI."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from helpers import rewrite_metadata

from audio_lstm.device import int8_check
from audio_lstm.device.int8_check import WEIGHTS_KEY, u8s8_saturates, warn_if_signed_int8
from audio_lstm.device.runtime import StreamingClassifier

EPYC_AVX2 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n"
XEON_VNNI = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n"


def test_saturating_cpus_are_x86_without_vnni() -> None:
    assert u8s8_saturates("x86_64", EPYC_AVX2)
    assert not u8s8_saturates("x86_64", XEON_VNNI)
    assert not u8s8_saturates("x86_64", EPYC_AVX2.replace("fma", "fma avx_vnni"))  # Alder Lake's AVX-VNNI
    assert not u8s8_saturates("aarch64", EPYC_AVX2)  # ARM kernels do not saturate
    assert not u8s8_saturates("x86_64", "processor\t: 0\n")  # no flags line: unknown, no warning


def test_only_signed_int8_files_on_saturating_cpus_are_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "old.int8.onnx"
    with pytest.warns(RuntimeWarning, match=r"old\.int8\.onnx: int8 weights stored signed.*store_weights_unsigned"):
        assert warn_if_signed_int8(path, "int8", {}, saturates=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not warn_if_signed_int8(path, "int8", {WEIGHTS_KEY: "uint8"}, saturates=True)
        assert not warn_if_signed_int8(path, "fp32", {}, saturates=True)
        assert not warn_if_signed_int8(path, "int8", {}, saturates=False)


def test_runtime_checks_the_file_it_loads(tiny_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(int8_check, "u8s8_saturates", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert StreamingClassifier(tiny_model.int8).info.extra[WEIGHTS_KEY] == "uint8"  # export marks it
        StreamingClassifier()  # the bundled file too
    old = rewrite_metadata(tiny_model.int8, tmp_path / "unmarked.int8.onnx", lambda m: m.pop(WEIGHTS_KEY))
    with pytest.warns(RuntimeWarning, match="unmarked.int8.onnx"):
        StreamingClassifier(old)
