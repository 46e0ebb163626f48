"""A streaming ONNX file (fp32 or int8) back into a torch `KeywordLSTM`, for `--init` and `--teacher`.

The bundled model ships as int8 ONNX only, without its training checkpoint. Reading its weights
back lets an engineer fine-tune it on their own recordings (`train DATA --init model.int8.onnx`) or
teach a new model with it (`--teacher`). An fp32 file comes back exactly; an int8 file comes back
dequantized, ``(q - zero_point) * scale`` per output channel, so the torch model equals the int8
file up to the activation rounding onnxruntime adds per call (see `tests/test_onnx_import.py`).

Graph layout read here is the one `audio_lstm.export.onnx_export` writes: Sub/Div normalisation,
one ONNX ``LSTM`` (fp32) or ``com.microsoft.DynamicQuantizeLSTM`` (int8) per layer, and the
classifier as ``MatMul`` (fp32) or ``MatMulInteger`` (int8) plus the ``classifier.bias`` Add.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from audio_lstm.device.features import MfccConfig
from audio_lstm.device.model_file import ModelFileError, parse_metadata
from audio_lstm.train.model import KeywordLSTM, ModelConfig, load_checkpoint

ONNX_TO_TORCH_GATES = (0, 2, 3, 1)  # ONNX stacks gates i, o, f, c; torch i, f, g (= c), o


def _reorder_gates(weights: np.ndarray, hidden: int) -> np.ndarray:
    """Rows of 4 gate blocks (4 * hidden, ...) from ONNX order to torch order."""
    blocks = [weights[g * hidden : (g + 1) * hidden] for g in range(4)]
    return np.concatenate([blocks[g] for g in ONNX_TO_TORCH_GATES])


def _dequantize(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    return (q.astype(np.float32) - zero_point.astype(np.float32)) * scale.astype(np.float32)


def _lstm_layers(graph: onnx.GraphProto, values: dict[str, np.ndarray]) -> list[tuple[np.ndarray, ...]]:
    """Per layer (W, R, B) in ONNX layout: W (4h, in), R (4h, h), B (8h,), dequantized if int8."""
    layers = []
    for node in graph.node:
        if node.op_type == "LSTM":
            w, r, b = (values[node.input[i]][0] for i in (1, 2, 3))
        elif node.op_type == "DynamicQuantizeLSTM":
            # quantized W and R are stored transposed: (directions, in, 4h), one scale per column
            w = _dequantize(values[node.input[1]][0], values[node.input[8]][0], values[node.input[9]][0]).T
            r = _dequantize(values[node.input[2]][0], values[node.input[10]][0], values[node.input[11]][0]).T
            b = values[node.input[3]][0]
        else:
            continue
        layers.append((w, r, b))
    return layers


def _classifier_weight(graph: onnx.GraphProto, values: dict[str, np.ndarray]) -> np.ndarray:
    """The classifier's (hidden, classes) matrix, dequantized if int8."""
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in values:
            return values[node.input[1]]
        if node.op_type == "MatMulInteger" and node.input[1] in values:
            scale = next(
                values[n.input[1]]
                for n in graph.node
                if n.op_type == "Mul" and n.input[1] in values and n.output[0].startswith("/classifier/")
            )
            return _dequantize(values[node.input[1]], scale, values[node.input[3]])
    raise KeyError("no classifier MatMul")


def load_model_file(path: Path | str) -> tuple[KeywordLSTM, MfccConfig, dict[str, Any]]:
    """Rebuild a `KeywordLSTM` (eval mode) from an audio-lstm streaming ONNX file; ValueError names
    the file when it is not one. The extra dict carries the file's model_version and precision."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        graph = onnx.load(str(path))
    except Exception as error:  # protobuf raises DecodeError and friends for foreign files
        raise ValueError(f"{path} is not an ONNX file: {str(error).splitlines()[0]}") from error
    try:
        info = parse_metadata({p.key: p.value for p in graph.metadata_props}, path)
    except ModelFileError as error:
        raise ValueError(str(error)) from error
    values = {init.name: numpy_helper.to_array(init) for init in graph.graph.initializer}
    layers_count, _, hidden = info.state_shape
    cfg = ModelConfig(
        n_features=info.frontend.n_mfcc,
        hidden_size=hidden,
        num_layers=layers_count,
        frame_stack=info.frame_stack,
        labels=info.labels,
    )
    model = KeywordLSTM(cfg)
    try:
        layers = _lstm_layers(graph.graph, values)
        if len(layers) != layers_count:
            raise ValueError(f"{len(layers)} LSTM layers in the graph, the metadata says {layers_count}")
        state: dict[str, torch.Tensor] = {
            "feature_mean": torch.from_numpy(values["feature_mean"][: cfg.n_features].copy()),
            "feature_std": torch.from_numpy(values["feature_std"][: cfg.n_features].copy()),
            "classifier.weight": torch.from_numpy(np.ascontiguousarray(_classifier_weight(graph.graph, values).T)),
            "classifier.bias": torch.from_numpy(values["classifier.bias"].copy()),
        }
        for k, (w, r, b) in enumerate(layers):
            state[f"lstm.weight_ih_l{k}"] = torch.from_numpy(_reorder_gates(w, hidden).astype(np.float32))
            state[f"lstm.weight_hh_l{k}"] = torch.from_numpy(_reorder_gates(r, hidden).astype(np.float32))
            state[f"lstm.bias_ih_l{k}"] = torch.from_numpy(_reorder_gates(b[: 4 * hidden], hidden).astype(np.float32))
            state[f"lstm.bias_hh_l{k}"] = torch.from_numpy(_reorder_gates(b[4 * hidden :], hidden).astype(np.float32))
        model.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError, StopIteration) as error:
        raise ValueError(f"{path}: not a graph audio-lstm export wrote ({error})") from error
    model.eval()
    return (
        model,
        info.frontend,
        {"imported_from": str(path), "model_version": info.model_version, "precision": info.precision},
    )


def load_trained_model(path: Path | str) -> tuple[KeywordLSTM, MfccConfig, dict[str, Any]]:
    """A checkpoint (``.pt``) or an exported streaming ONNX file (``.onnx``) as a torch model, for
    `--init` and `--teacher`."""
    path = Path(path)
    return load_model_file(path) if path.suffix == ".onnx" else load_checkpoint(path)
