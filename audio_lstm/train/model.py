"""The compact streaming LSTM classifier and its checkpoint format."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from audio_lstm.device.features import MfccConfig
from audio_lstm.device.labels import LABELS


@dataclass(frozen=True)
class ModelConfig:
    """Architecture. Saved with every checkpoint so export rebuilds the model exactly."""

    n_features: int = 20  # MFCC coefficients per frame (must equal MfccConfig.n_mfcc)
    hidden_size: int = 96  # LSTM units per layer; the main size knob (params grow ~quadratically)
    num_layers: int = 2  # stacked LSTM layers
    dropout: float = 0.2  # between LSTM layers and before the classifier, training only
    # MFCC frames concatenated into one LSTM step: 1 = a step every 10 ms hop; 2 = every 20 ms (half
    # the LSTM work, the same figures); 3 = every 30 ms (short keywords missed more often in streams);
    # measured in docs/training.md, "Stacked frames"
    frame_stack: int = 2
    labels: tuple[str, ...] = LABELS  # output classes, in score order

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def step_width(self) -> int:
        """LSTM input size: the features of `frame_stack` frames side by side."""
        return self.n_features * self.frame_stack

    def __post_init__(self) -> None:
        if self.frame_stack < 1:
            raise ValueError(f"frame_stack must be >= 1, got {self.frame_stack}")


class KeywordLSTM(nn.Module):
    """Normalised MFCC frames -> LSTM -> per-step class logits, with explicit (h, c) state.

    One step covers `cfg.frame_stack` consecutive frames (their features concatenated); frames
    left over after the last whole step are dropped. Feature normalisation (per-coefficient mean
    and std from the training set) is part of the model, so the exported graph takes raw MFCC frames.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("feature_mean", torch.zeros(cfg.n_features))
        self.register_buffer("feature_std", torch.ones(cfg.n_features))
        self.lstm = nn.LSTM(
            cfg.step_width,
            cfg.hidden_size,
            num_layers=cfg.num_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(cfg.hidden_size, cfg.num_classes)

    def zero_state(self, batch_size: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """The reset state: zeros of shape (num_layers, batch, hidden_size) for h and c."""
        shape = (self.cfg.num_layers, batch_size, self.cfg.hidden_size)
        return torch.zeros(shape, device=device), torch.zeros(shape, device=device)

    def forward(
        self, features: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """features (batch, frames, n_features) -> logits (batch, frames // frame_stack, classes), new state."""
        if state is None:
            state = self.zero_state(features.shape[0], features.device)
        normalised = (features - self.feature_mean) / self.feature_std
        if self.cfg.frame_stack > 1:
            steps = features.shape[1] // self.cfg.frame_stack
            whole = normalised[:, : steps * self.cfg.frame_stack]
            normalised = whole.reshape(len(features), steps, self.cfg.step_width)
        hidden, new_state = self.lstm(normalised, state)
        return self.classifier(self.dropout(hidden)), new_state


def count_parameters(model: nn.Module) -> int:
    """Trainable parameter count."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def save_checkpoint(path: Path, model: KeywordLSTM, mfcc_cfg: MfccConfig, extra: dict[str, Any] | None = None) -> None:
    """Weights plus the frozen configs that rebuild them, and any extra JSON-able info."""
    torch.save(
        {
            "model_config": asdict(model.cfg),
            "mfcc_config": mfcc_cfg.to_dict(),
            "state_dict": model.state_dict(),
            "extra": json.loads(json.dumps(extra or {})),
        },
        path,
    )


def load_checkpoint(path: Path | str) -> tuple[KeywordLSTM, MfccConfig, dict[str, Any]]:
    """Rebuild the model exactly from a checkpoint written by `save_checkpoint` (eval mode); for
    exported ONNX files too, use `audio_lstm.export.onnx_import.load_trained_model`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises pickle, zip and runtime errors for foreign files
        raise ValueError(f"{path} is not an audio-lstm checkpoint: {str(error).splitlines()[0]}") from error
    try:
        values = dict(blob["model_config"])
        values["labels"] = tuple(values["labels"])
        values.setdefault("frame_stack", 1)  # checkpoints written before frame stacking: one frame per step
        model = KeywordLSTM(ModelConfig(**values))
        model.load_state_dict(blob["state_dict"])
        mfcc_cfg = MfccConfig.from_dict(blob["mfcc_config"])
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        raise ValueError(f"{path} is not an audio-lstm checkpoint: {error}") from error
    model.eval()
    return model, mfcc_cfg, dict(blob.get("extra", {}))
