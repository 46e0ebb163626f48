"""Exported ONNX files read back into torch: fp32 exactly, int8 dequantized (for --init / --teacher)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")

from helpers import quantized_weights  # noqa: E402

from audio_lstm.device.features import MfccConfig  # noqa: E402
from audio_lstm.export.onnx_export import export_checkpoint  # noqa: E402
from audio_lstm.export.onnx_import import load_trained_model  # noqa: E402
from audio_lstm.export.parity import OnnxScorer  # noqa: E402
from audio_lstm.train.model import KeywordLSTM, ModelConfig  # noqa: E402


def trained_like(seed: int = 0) -> KeywordLSTM:
    torch.manual_seed(seed)
    model = KeywordLSTM(ModelConfig(hidden_size=24, num_layers=2, frame_stack=2))
    model.feature_mean.uniform_(-5, 5)
    model.feature_std.uniform_(5, 20)
    return model.eval()


def test_fp32_file_comes_back_exactly(tmp_path: Path) -> None:
    model = trained_like()
    fp32, _ = export_checkpoint(model, MfccConfig(), tmp_path, model_version="v7")
    back, mfcc_cfg, extra = load_trained_model(fp32)
    assert back.cfg == model.cfg and mfcc_cfg == MfccConfig()
    assert extra == {"imported_from": str(fp32), "model_version": "v7", "precision": "fp32"}
    for name, value in model.state_dict().items():
        assert torch.equal(back.state_dict()[name], value), name  # gate order and layout undone exactly


def test_int8_file_comes_back_dequantized_and_exports_to_the_same_integers(tmp_path: Path) -> None:
    model = trained_like(1)
    _, int8 = export_checkpoint(model, MfccConfig(), tmp_path / "a")
    back, _, extra = load_trained_model(int8)
    assert extra["precision"] == "int8"
    original = model.state_dict()
    for name, value in back.state_dict().items():
        if "weight" in name:  # within half a quantization step of each output row's scale
            step = original[name].abs().amax(dim=1, keepdim=True) / 127
            assert torch.all((value - original[name]).abs() <= step / 2 + 1e-6), name
        else:
            assert torch.equal(value, original[name]), name
    # the torch model scores like the int8 file (up to onnxruntime's per-call activation rounding)
    features = (np.random.default_rng(0).normal(size=(60, 40)) * 8).astype(np.float32)
    with torch.no_grad():
        logits, _ = back(torch.from_numpy(features.reshape(1, 120, 20)))
    np.testing.assert_allclose(torch.softmax(logits, -1)[0].numpy(), OnnxScorer(int8).run(features), atol=0.05)
    # quantizing the dequantized weights again gives the very same integers
    _, again = export_checkpoint(back, MfccConfig(), tmp_path / "b")
    first, second = quantized_weights(int8), quantized_weights(again)
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_array_equal(first[key][0], second[key][0])


def test_foreign_files_are_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="junk.onnx"):
        load_trained_model(tmp_path / "junk.onnx")
    _, int8 = export_checkpoint(trained_like(), MfccConfig(), tmp_path)
    graph = onnx.load(str(int8))
    del graph.metadata_props[:]
    onnx.save(graph, str(tmp_path / "bare.onnx"))
    with pytest.raises(ValueError, match="bare.onnx"):
        load_trained_model(tmp_path / "bare.onnx")
    with pytest.raises(FileNotFoundError, match="gone.onnx"):
        load_trained_model(tmp_path / "gone.onnx")
