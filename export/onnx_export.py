"""Export a trained checkpoint to streaming fp32 and int8 ONNX files that describe themselves."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from torch import nn

from audio_lstm.device.features import MfccConfig
from audio_lstm.device.labels import EVENT_LABELS
from audio_lstm.device.model_file import (
    INPUT_C,
    INPUT_FEATURES,
    INPUT_H,
    OUTPUT_C,
    OUTPUT_H,
    OUTPUT_SCORES,
    UNSIGNED,
    WEIGHTS_KEY,
    build_metadata,
)
from audio_lstm.train.model import KeywordLSTM

DEFAULT_THRESHOLD = 0.6  # per-class detection threshold written when training chose none
OPSET = 17


class StreamingGraph(nn.Module):
    """The exported computation: features + state in, softmax scores + new state out.

    A lean copy of the model for a batch of one: the batch axis is reshaped away instead of
    transposed. The feature normalisation stays an explicit step: folded into the first layer's
    weights it would leave int8 quantization one scale for raw MFCCs whose ranges differ tenfold
    (the first coefficient spans hundreds), and int8/fp32 label agreement fell (docs/model-file.md).
    A model that stacks k frames per step takes rows of k frames side by side (its mean and std
    are tiled k times), so the graph never needs to know k.
    """

    def __init__(self, model: KeywordLSTM) -> None:
        super().__init__()
        trained = model.lstm
        self.lstm = nn.LSTM(trained.input_size, trained.hidden_size, num_layers=trained.num_layers)
        self.lstm.load_state_dict(trained.state_dict())
        stack = model.cfg.frame_stack
        self.register_buffer("feature_mean", model.feature_mean.repeat(stack))
        self.register_buffer("feature_std", model.feature_std.repeat(stack))
        self.classifier = copy.deepcopy(model.classifier)
        self.eval()

    def forward(self, features: torch.Tensor, h: torch.Tensor, c: torch.Tensor):  # noqa: ANN201
        width, hidden = self.lstm.input_size, self.lstm.hidden_size  # python ints: constant reshapes
        normalised = (features.reshape(-1, 1, width) - self.feature_mean) / self.feature_std
        outputs, (h_out, c_out) = self.lstm(normalised, (h, c))  # (frames, 1, hidden)
        return torch.softmax(self.classifier(outputs.reshape(1, -1, hidden)), dim=-1), h_out, c_out


def export_fp32(model: KeywordLSTM, path: Path) -> None:
    """Write the float32 streaming graph (any number of frames per call)."""
    model = model.eval()
    cfg = model.cfg
    h, c = model.zero_state(1)
    example = torch.zeros(1, 4, cfg.step_width)
    with warnings.catch_warnings():
        # The legacy TorchScript exporter is chosen on purpose: it keeps the LSTM's frame axis dynamic.
        warnings.simplefilter("ignore")
        _export(model, example, h, c, path)


def _export(model: KeywordLSTM, example: torch.Tensor, h: torch.Tensor, c: torch.Tensor, path: Path) -> None:
    torch.onnx.export(
        StreamingGraph(model),
        (example, h, c),
        str(path),
        input_names=[INPUT_FEATURES, INPUT_H, INPUT_C],
        output_names=[OUTPUT_SCORES, OUTPUT_H, OUTPUT_C],
        dynamic_axes={INPUT_FEATURES: {1: "frames"}, OUTPUT_SCORES: {1: "frames"}},
        opset_version=OPSET,
        dynamo=False,
    )


def quantize_int8(fp32_path: Path, int8_path: Path, reduce_range: bool = False, per_channel: bool = True) -> None:
    """Dynamic int8 quantization of the LSTM and linear weights (activations quantized per call).

    `per_channel` gives each gate unit (output channel) its own weight scale: better int8/fp32
    clip-label agreement for a few microseconds more per call (docs/training.md, "Why the defaults").
    The weights are quantized symmetrically to int8 and then stored as uint8 (see
    `store_weights_unsigned`), so x86 CPUs without VNNI do not saturate. `reduce_range` (7-bit
    weights) is kept for comparison; with unsigned storage it is not needed anywhere.
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # onnxruntime logs a generic "consider pre-processing" hint here
    try:
        quantize_dynamic(
            str(fp32_path),
            str(int8_path),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["LSTM", "MatMul", "Gemm"],
            reduce_range=reduce_range,
            per_channel=per_channel,
        )
    finally:
        root.setLevel(level)
    store_weights_unsigned(int8_path)


# Quantized weight inputs per operator: (weights, their zero points) by input index.
_QUANTIZED_WEIGHT_INPUTS = {"DynamicQuantizeLSTM": ((1, 9), (2, 11)), "MatMulInteger": ((1, 3),)}


def store_weights_unsigned(path: Path) -> int:
    """Rewrite the file's int8 weights and zero points as uint8 (q + 128); return how many tensors.

    Lossless: ``(q + 128) - (z + 128) == q - z``, so every dequantized weight and every integer
    product is unchanged. Why: with signed weights onnxruntime multiplies unsigned activations by
    signed weights (U8S8), which on x86 CPUs without AVX-512 VNNI uses VPMADDUBSW, whose int16
    pair sums saturate; on such a CPU (AMD EPYC with AVX2) the bundled file lost clip accuracy
    (docs/model-card.md). U8U8 has no saturating step on any CPU. Files already unsigned are
    left as they are (returns 0). The metadata gains ``int8_weights: uint8``, which the runtime checks.
    """
    graph = onnx.load(str(path))
    names = {
        graph_node.input[i]
        for graph_node in graph.graph.node
        for pair in _QUANTIZED_WEIGHT_INPUTS.get(graph_node.op_type, ())
        for i in pair
        if i < len(graph_node.input) and graph_node.input[i]
    }
    changed = 0
    for tensor in graph.graph.initializer:
        if tensor.name in names and tensor.data_type == onnx.TensorProto.INT8:
            shifted = (numpy_helper.to_array(tensor).astype(np.int16) + 128).astype(np.uint8)
            tensor.CopyFrom(numpy_helper.from_array(shifted, tensor.name))
            changed += 1
    mark = bool(names) and not any(p.key == WEIGHTS_KEY for p in graph.metadata_props)
    if mark:
        entry = graph.metadata_props.add()
        entry.key, entry.value = WEIGHTS_KEY, UNSIGNED
    if changed or mark:
        onnx.save(graph, str(path))
    return changed


def write_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Replace the file's metadata_props with `metadata`."""
    graph = onnx.load(str(path))
    del graph.metadata_props[:]
    for key, value in metadata.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(path))


def export_checkpoint(
    model: KeywordLSTM,
    mfcc_cfg: MfccConfig,
    out_dir: Path,
    name: str = "model",
    thresholds: dict[str, float] | None = None,
    model_version: str | None = None,
    reduce_range: bool = False,
    per_channel: bool = True,
    extra_metadata: dict[str, object] | None = None,
) -> tuple[Path, Path]:
    """Write `<name>.fp32.onnx` and `<name>.int8.onnx` into `out_dir`; return both paths."""
    if mfcc_cfg.n_mfcc != model.cfg.n_features:
        raise ValueError(f"front end gives {mfcc_cfg.n_mfcc} coefficients, model expects {model.cfg.n_features}")
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32_path, int8_path = out_dir / f"{name}.fp32.onnx", out_dir / f"{name}.int8.onnx"
    thresholds = dict(thresholds or {label: DEFAULT_THRESHOLD for label in EVENT_LABELS if label in model.cfg.labels})
    version = model_version or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    state_shape = (model.cfg.num_layers, 1, model.cfg.hidden_size)
    export_fp32(model, fp32_path)
    quantize_int8(fp32_path, int8_path, reduce_range=reduce_range, per_channel=per_channel)
    for path, precision in ((fp32_path, "fp32"), (int8_path, "int8")):
        weights = {WEIGHTS_KEY: UNSIGNED} if precision == "int8" else {}  # see store_weights_unsigned
        metadata = build_metadata(
            model.cfg.labels,
            mfcc_cfg,
            state_shape,
            thresholds,
            version,
            precision,
            {**(extra_metadata or {}), **weights},
            frame_stack=model.cfg.frame_stack,
        )
        write_metadata(path, metadata)
    return fp32_path, int8_path
