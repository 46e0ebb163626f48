"""Distillation: the teacher ensemble's averaged, state-carrying probabilities, the KL loss, and
training a student from a teacher through the CLI."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from conftest import TrainedRun  # noqa: E402
from helpers import TINY_TRAINING  # noqa: E402

from audio_lstm.commands.train import main as train_main  # noqa: E402
from audio_lstm.device.features import MfccConfig  # noqa: E402
from audio_lstm.train.distill import TeacherEnsemble, distillation_loss  # noqa: E402
from audio_lstm.train.model import KeywordLSTM, ModelConfig, save_checkpoint  # noqa: E402

SMALL = ModelConfig(hidden_size=8, num_layers=1, frame_stack=2)


def saved_model(path: Path, seed: int, cfg: ModelConfig = SMALL, mfcc: MfccConfig = MfccConfig()) -> KeywordLSTM:
    torch.manual_seed(seed)
    model = KeywordLSTM(cfg).eval()
    save_checkpoint(path, model, mfcc)
    return model


def test_ensemble_averages_its_teachers_and_carries_their_state(tmp_path: Path) -> None:
    models = [saved_model(tmp_path / f"t{seed}.pt", seed) for seed in (1, 2)]
    ensemble = TeacherEnsemble([tmp_path / "t1.pt", tmp_path / "t2.pt"], SMALL, MfccConfig())
    features = torch.randn(3, 40, 20)
    with torch.no_grad():
        expected = [torch.softmax(model(features)[0], -1) for model in models]
    first = ensemble.probabilities(features[:, :24], carry_state=False)
    rest = ensemble.probabilities(features[:, 24:], carry_state=True)
    whole = torch.cat([first, rest], dim=1)
    assert whole.shape == (3, 20, 13)
    assert torch.allclose(whole, (expected[0] + expected[1]) / 2, atol=1e-6)
    assert torch.allclose(whole.sum(-1), torch.ones(3, 20))
    # Without carry each call starts from zeros again, as the student's reset does.
    restarted = ensemble.probabilities(features[:, 24:], carry_state=False)
    with torch.no_grad():
        fresh = sum(torch.softmax(model(features[:, 24:])[0], -1) for model in models) / 2
    assert torch.allclose(restarted, fresh, atol=1e-6) and not torch.allclose(restarted, rest, atol=1e-4)


@pytest.mark.parametrize(
    "change, problem",
    [
        ("frame_stack", "1 frames per step, the student 2"),
        ("labels", "labels ['yes', 'no'] differ"),
        ("mfcc", "its front end"),
    ],
)
def test_a_mismatched_teacher_is_refused_by_name(tmp_path: Path, change: str, problem: str) -> None:
    path = tmp_path / "teacher.pt"
    if change == "mfcc":
        saved_model(path, 0, dataclasses.replace(SMALL, n_features=13), MfccConfig(n_mfcc=13))
    elif change == "labels":
        saved_model(path, 0, dataclasses.replace(SMALL, labels=("yes", "no")))
    else:
        saved_model(path, 0, dataclasses.replace(SMALL, frame_stack=1))
    with pytest.raises(ValueError, match=re.escape(problem)) as error:
        TeacherEnsemble([path], SMALL, MfccConfig())
    assert str(path) in str(error.value)


def test_distillation_loss_is_the_kl_to_the_teachers() -> None:
    teacher = torch.softmax(torch.randn(2, 5, 13), -1)
    assert distillation_loss(torch.log(teacher), teacher).item() == pytest.approx(0.0, abs=1e-6)
    logits = torch.randn(2, 5, 13)
    student = torch.log_softmax(logits, -1)
    expected = (teacher * (torch.log(teacher) - student)).sum(-1).mean()
    assert distillation_loss(logits, teacher).item() == pytest.approx(expected.item(), rel=1e-5)
    assert distillation_loss(logits, teacher).item() > 0


def test_a_student_learns_the_labels_from_its_teacher_alone(
    trained_run: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, teacher = trained_run.data, trained_run.checkpoint
    # Weight 1: no hard targets at all, so whatever the student gets right it learned from the teacher
    # (in 16 steps: validation accuracy 0.69, then 0.75).
    assert (
        train_main(
            [
                str(data),
                "--out",
                str(tmp_path / "student"),
                "--teacher",
                str(teacher),
                "--distill-weight",
                "1",
                "--seed",
                "1",
                *TINY_TRAINING,
                "--epochs",
                "2",
                "--steps-per-epoch",
                "8",
            ]
        )
        == 0
    )
    metrics = json.loads((tmp_path / "student" / "metrics.json").read_text())
    assert metrics["train_config"]["teachers"] == [str(teacher)]
    assert metrics["train_config"]["distill_weight"] == 1.0
    assert metrics["best"]["val_accuracy"] >= 0.5  # chance is 1/13; the teacher itself scored 1.0
    capsys.readouterr()

    assert train_main([str(data), "--out", str(tmp_path / "x"), "--distill-weight", "0.5"]) == 2
    assert "--distill-weight needs --teacher" in capsys.readouterr().err
    stacked = [str(data), "--out", str(tmp_path / "x"), "--teacher", str(teacher), "--frame-stack", "3"]
    assert train_main(stacked) == 2
    assert f"teacher {teacher}: 2 frames per step, the student 3" in capsys.readouterr().err
    assert train_main([str(data), "--out", str(tmp_path / "x"), "--teacher", str(tmp_path / "none.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    for bad in ("0", "1.5", "x"):
        with pytest.raises(SystemExit):
            train_main([str(data), "--teacher", str(teacher), "--distill-weight", bad])
