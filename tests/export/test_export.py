"""Checkpoints rebuild exactly; export writes self-describing streaming fp32/int8 ONNX files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")

from helpers import quantized_weights  # noqa: E402

from audio_lstm.commands.export import main as export_main  # noqa: E402
from audio_lstm.device.features import MfccConfig  # noqa: E402
from audio_lstm.device.model_file import ModelFileError, parse_metadata  # noqa: E402
from audio_lstm.export.onnx_export import export_checkpoint, export_fp32, store_weights_unsigned  # noqa: E402
from audio_lstm.export.parity import OnnxScorer, check_parity  # noqa: E402
from audio_lstm.train.model import KeywordLSTM, ModelConfig, load_checkpoint, save_checkpoint  # noqa: E402


def small_model(seed: int = 0) -> KeywordLSTM:
    torch.manual_seed(seed)
    model = KeywordLSTM(ModelConfig(hidden_size=24, num_layers=2, frame_stack=1))  # stacking: test_frame_stack
    model.feature_mean.uniform_(-5, 5)
    model.feature_std.uniform_(5, 20)
    return model.eval()


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model = small_model()
    save_checkpoint(tmp_path / "m.pt", model, MfccConfig(), {"note": "x"})
    loaded, mfcc_cfg, extra = load_checkpoint(tmp_path / "m.pt")
    assert loaded.cfg == model.cfg and mfcc_cfg == MfccConfig() and extra == {"note": "x"}
    features = torch.randn(2, 30, 20) * 10
    assert torch.equal(model(features)[0], loaded(features)[0])


def test_bad_checkpoint_is_named(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")


def test_export_writes_streaming_files_with_metadata(tmp_path: Path) -> None:
    model = small_model()
    fp32, int8 = export_checkpoint(model, MfccConfig(), tmp_path, "m", model_version="1.2.3")
    assert int8.stat().st_size < fp32.stat().st_size
    for path, precision in ((fp32, "fp32"), (int8, "int8")):
        graph = onnx.load(str(path))
        info = parse_metadata({p.key: p.value for p in graph.metadata_props}, path)
        assert info.labels == model.cfg.labels and info.precision == precision
        assert info.state_shape == (2, 1, 24) and info.model_version == "1.2.3"
        assert info.frontend == MfccConfig() and info.sample_rate == 16000
        assert [i.name for i in graph.graph.input] == ["features", "h", "c"]
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert "DynamicQuantizeLSTM" in ops


@pytest.mark.parametrize("per_channel", [True, False])
def test_int8_weight_scales_per_channel_or_per_tensor(tmp_path: Path, per_channel: bool) -> None:
    model = small_model()
    _, int8 = export_checkpoint(model, MfccConfig(), tmp_path, per_channel=per_channel)
    graph = onnx.load(str(int8)).graph
    sizes = {init.name: int(np.prod(init.dims)) for init in graph.initializer}
    lstms = [node for node in graph.node if node.op_type == "DynamicQuantizeLSTM"]
    assert len(lstms) == model.cfg.num_layers
    for node in lstms:
        w_scale = node.input[8]  # W_scale: one per gate unit (4 * hidden) or one for the tensor
        assert sizes[w_scale] == (4 * model.cfg.hidden_size if per_channel else 1)
    # the lean graph: normalisation kept explicit, no transposes around the LSTM layers
    ops = [node.op_type for node in graph.node]
    assert "Transpose" not in ops and {"Sub", "Div"} <= set(ops)


def test_int8_weights_are_stored_unsigned_losslessly(tmp_path: Path) -> None:
    """Export stores weights as uint8 (no U8S8 saturation on x86 without VNNI); the shift is exact."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = small_model(3)
    _, int8 = export_checkpoint(model, MfccConfig(), tmp_path)
    unsigned = quantized_weights(int8)
    assert len(unsigned) == 2 * model.cfg.num_layers + 1  # W and R per layer, the classifier
    assert {dtype for _, dtype in unsigned.values()} == {"uint8"}
    export_fp32(model, tmp_path / "plain.onnx")  # the same quantization, signed weights kept
    signed_path = tmp_path / "signed.onnx"
    quantize_dynamic(
        str(tmp_path / "plain.onnx"),
        str(signed_path),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["LSTM", "MatMul", "Gemm"],
        per_channel=True,
    )
    signed = quantized_weights(signed_path)
    assert {dtype for _, dtype in signed.values()} == {"int8"}
    for key, (q, _) in signed.items():
        np.testing.assert_array_equal(unsigned[key][0], q)  # the same integers after the zero point
    before = signed_path.read_bytes()
    assert not any(p.key == "int8_weights" for p in onnx.load(str(signed_path)).metadata_props)
    assert store_weights_unsigned(signed_path) == 2 * len(signed)  # weights and zero points
    assert {p.key: p.value for p in onnx.load(str(signed_path)).metadata_props}["int8_weights"] == "uint8"
    assert store_weights_unsigned(signed_path) == 0  # already unsigned: untouched
    assert signed_path.read_bytes() != before
    for key, (q, dtype) in quantized_weights(signed_path).items():
        assert dtype == "uint8"
        np.testing.assert_array_equal(q, signed[key][0])


def test_parity_torch_fp32_and_chunked(tmp_path: Path) -> None:
    model = small_model(1)
    fp32, int8 = export_checkpoint(model, MfccConfig(), tmp_path)
    rng = np.random.default_rng(0)
    clips = (0.1 * rng.standard_normal((6, 16000))).astype(np.float32)
    report = check_parity(model, MfccConfig(), fp32, int8, clips)
    assert report.torch_max_diff < 1e-4
    assert report.streaming_max_diff < 1e-5
    assert report.clips == 6 and "torch vs fp32" in report.format()
    # the int8 file really is streaming: state carries across calls
    features = (10 * rng.standard_normal((40, 20))).astype(np.float32)
    scorer = OnnxScorer(int8)
    # (activations are quantized per call, so one-frame calls differ slightly from one 40-frame call;
    # a state that did not carry over would differ by orders of magnitude more)
    np.testing.assert_allclose(scorer.run(features, [1] * 40), scorer.run(features), atol=1e-3)


def test_metadata_validation_names_the_problem() -> None:
    good = {p.key: p.value for p in onnx.load_from_string(b"").metadata_props}  # empty
    with pytest.raises(ModelFileError, match="not an audio-lstm streaming model"):
        parse_metadata(good, "x.onnx")


def test_export_command_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_checkpoint(tmp_path / "best.pt", small_model(), MfccConfig())
    assert export_main([str(tmp_path / "best.pt"), "--skip-parity"]) == 0
    before = (tmp_path / "model.int8.onnx").read_bytes()
    assert export_main([str(tmp_path / "best.pt"), "--skip-parity"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "model.int8.onnx").read_bytes() == before
    assert export_main([str(tmp_path / "nothing.pt")]) == 2


def test_bundle_installs_only_a_file_that_passed_parity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import write_corpus

    from audio_lstm.commands import export as command
    from audio_lstm.export import parity

    bundled = tmp_path / "bundled.int8.onnx"
    bundled.write_bytes(b"the model users have now")
    monkeypatch.setattr(command, "bundled_path", lambda: bundled)
    save_checkpoint(tmp_path / "best.pt", small_model(), MfccConfig())
    write_corpus(tmp_path / "data", speakers=6)
    real_check = parity.check_parity

    def check_with_agreement(agreement: float):  # noqa: ANN202
        def check(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            return dataclasses.replace(real_check(*args, **kwargs), int8_agreement=agreement)

        return check

    monkeypatch.setattr(parity, "check_parity", check_with_agreement(0.5))
    args = [str(tmp_path / "best.pt"), "--data", str(tmp_path / "data"), "--bundle"]
    assert export_main(args) == 1
    assert "parity failed" in capsys.readouterr().err
    assert bundled.read_bytes() == b"the model users have now"

    monkeypatch.setattr(parity, "check_parity", check_with_agreement(1.0))  # the real torch/fp32/chunk checks
    assert export_main([*args, "--force"]) == 0
    assert "installed" in capsys.readouterr().out
    assert bundled.read_bytes() == (tmp_path / "model.int8.onnx").read_bytes()
