"""Knowledge distillation: a frozen ensemble of trained checkpoints scores the training streams, and
the student learns their averaged per-step probabilities beside the hard targets.

The seeds of one recipe land points apart and their probability average beats each of them
(docs/training.md, "Distillation"), so the ensemble's soft targets carry what one seed alone does
not learn from this little data; the student keeps one model's size and cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from audio_lstm.device.features import MfccConfig
from audio_lstm.export.onnx_import import load_trained_model
from audio_lstm.train.model import KeywordLSTM, ModelConfig

State = tuple[torch.Tensor, torch.Tensor]


class TeacherEnsemble:
    """Frozen teacher checkpoints, each carrying its own LSTM state across batches like the student."""

    def __init__(
        self, paths: Sequence[Path | str], student: ModelConfig, mfcc_cfg: MfccConfig, device: str = "cpu"
    ) -> None:
        if not paths:
            raise ValueError("a teacher ensemble needs at least one checkpoint")
        self.models: list[KeywordLSTM] = []
        for path in paths:
            model, teacher_mfcc, _ = load_trained_model(path)
            if teacher_mfcc != mfcc_cfg:
                raise ValueError(
                    f"teacher {path}: its front end {teacher_mfcc.to_dict()} differs from the "
                    f"student's {mfcc_cfg.to_dict()}"
                )
            if model.cfg.labels != student.labels:
                raise ValueError(
                    f"teacher {path}: labels {list(model.cfg.labels)} differ from the student's {list(student.labels)}"
                )
            if model.cfg.frame_stack != student.frame_stack:
                raise ValueError(
                    f"teacher {path}: {model.cfg.frame_stack} frames per step, the student "
                    f"{student.frame_stack}; their steps would not line up"
                )
            self.models.append(model.to(device).eval().requires_grad_(False))
        self.states: list[State | None] = [None] * len(self.models)

    def probabilities(self, features: torch.Tensor, carry_state: bool) -> torch.Tensor:
        """Mean teacher probabilities (batch, steps, classes) for MFCC features (batch, frames, n_mfcc).

        With `carry_state` each teacher starts from its final state of the previous call (as the
        student does when it carries its own); otherwise from zeros.
        """
        probabilities = []
        with torch.no_grad():
            for index, model in enumerate(self.models):
                state = self.states[index]
                if not carry_state or state is None or state[0].shape[1] != len(features):
                    state = model.zero_state(len(features), features.device)
                logits, self.states[index] = model(features, state)
                probabilities.append(torch.softmax(logits.float(), dim=-1))
        return torch.stack(probabilities).mean(0)


def distillation_loss(logits: torch.Tensor, teacher_probs: torch.Tensor) -> torch.Tensor:
    """Mean over steps of KL(teacher || student): cross-entropy against the soft targets minus
    the teachers' own entropy, so a student equal to the ensemble scores 0."""
    log_student = torch.log_softmax(logits.float(), dim=-1)
    log_teacher = torch.log(teacher_probs.clamp(min=1e-8))
    return (teacher_probs * (log_teacher - log_student)).sum(-1).mean()
