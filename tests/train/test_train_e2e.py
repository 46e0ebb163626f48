"""End to end on a tiny generated corpus: train -> checkpoint/metrics/plots -> export -> evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from conftest import TrainedRun
from helpers import TONES, write_corpus

from audio_lstm.commands.evaluate import main as evaluate_main  # noqa: E402
from audio_lstm.commands.export import main as export_main  # noqa: E402
from audio_lstm.commands.train import main as train_main  # noqa: E402


def test_train_export_evaluate(trained_run: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, run = trained_run
    for name in ("best.pt", "metrics.json", "curves.png", "confusion.png"):
        assert (run / name).stat().st_size > 0, name
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["history"]) == 6
    assert metrics["train_config"]["stream"]["label_weights"] == [["glass_break", 2.5]]
    assert metrics["train_config"]["ema_decay"] == 0.9  # the averaged weights are what scored >= 0.75 below
    assert metrics["history"][-1]["train_loss"] < metrics["history"][0]["train_loss"]
    assert metrics["best"]["val_accuracy"] >= 0.75  # tones are easy; chance is 1/13

    # a second run into the same folder must not silently replace the model
    before = trained_run.checkpoint.read_bytes()
    assert train_main([str(data), "--out", str(run), "--epochs", "1"]) == 2
    assert trained_run.checkpoint.read_bytes() == before

    exported = tmp_path / "exported"
    assert export_main([str(trained_run.checkpoint), "--out", str(exported)]) == 0
    out = capsys.readouterr().out
    assert "torch vs fp32 ONNX" in out and "FAILED" not in out

    capsys.readouterr()
    assert evaluate_main([str(exported / "model.int8.onnx"), str(data), "--out", str(tmp_path / "eval")]) == 0
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["accuracy"] >= 0.7
    assert set(report["per_class"]) >= set(TONES)
    assert (tmp_path / "eval" / "confusion.png").exists()
    assert evaluate_main([str(trained_run.checkpoint), str(data)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_label_weight_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    write_corpus(data, speakers=2)
    assert train_main([str(data), "--out", str(tmp_path / "run"), "--label-weight", "stopp=2"]) == 2
    assert "--label-weight names stopp, not a model label" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    for bad in ("stop", "stop=0", "stop=-1", "stop=x", "=2", "stop=inf"):
        with pytest.raises(SystemExit):
            train_main([str(data), "--label-weight", bad])
        assert "expected LABEL=WEIGHT" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["1", "1.5", "-0.1", "x", "nan"])
def test_ema_decay_errors(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        train_main(["data", "--ema-decay", bad])
    assert "expected a decay D with 0 <= D < 1" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0.31", "-0.1", "x", "nan"])
def test_vtlp_errors(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        train_main(["data", "--vtlp", bad])
    assert "expected a half-width W with 0 <= W <= 0.3" in capsys.readouterr().err


def test_ema_changes_the_saved_weights_not_the_training(tmp_path: Path) -> None:
    import torch

    data = tmp_path / "data"
    write_corpus(data, speakers=12)
    common = [
        "--epochs",
        "2",
        "--steps-per-epoch",
        "4",
        "--batch-size",
        "8",
        "--hidden",
        "16",
        "--layers",
        "1",
        "--workers",
        "0",
        "--no-progress",
    ]
    for name, decay in (("raw", "0"), ("ema", "0.5")):
        assert train_main([str(data), "--out", str(tmp_path / name), "--ema-decay", decay, *common]) == 0
    raw, ema = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("raw", "ema"))
    assert [row["train_loss"] for row in raw["history"]] == [row["train_loss"] for row in ema["history"]]
    weights = [torch.load(tmp_path / name / "best.pt", weights_only=True)["state_dict"] for name in ("raw", "ema")]
    assert weights[0]["feature_mean"].equal(weights[1]["feature_mean"])
    assert not weights[0]["classifier.weight"].equal(weights[1]["classifier.weight"])


def test_stacked_model_with_unknown_onset_trains_exports_and_runs(tmp_path: Path) -> None:
    from audio_lstm.device.runtime import StreamingClassifier
    from audio_lstm.train.model import load_checkpoint

    data = tmp_path / "data"
    write_corpus(data, speakers=12)
    args = [
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--frame-stack",
        "3",
        "--unknown-onset",
        "not_keyword",
        "--vtlp",
        "0.1",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "8",
        "--hidden",
        "16",
        "--layers",
        "1",
        "--workers",
        "0",
        "--no-progress",
    ]
    assert train_main(args) == 0
    model, _, extra = load_checkpoint(tmp_path / "run" / "best.pt")
    assert model.cfg.frame_stack == 3 and extra["train_config"]["stream"]["unknown_onset"] == "not_keyword"
    assert extra["train_config"]["spec_augment"]["warp_range"] == pytest.approx([0.9, 1.1])
    assert export_main([str(tmp_path / "run" / "best.pt"), "--skip-parity"]) == 0
    classifier = StreamingClassifier(tmp_path / "run" / "model.int8.onnx")
    assert classifier.info.frame_stack == 3
    assert classifier.predict_clip(np.zeros(16000, dtype=np.float32)).shape == (32, 13)  # 97 frames -> 32 steps


def test_stream_loss_is_cross_entropy_with_a_not_keyword_target() -> None:
    import torch

    from audio_lstm.train.losses import stream_loss
    from audio_lstm.train.targets import IGNORE_INDEX, NOT_KEYWORD_INDEX

    torch.manual_seed(0)
    logits = torch.randn(3, 7, 13)
    targets = torch.randint(0, 13, (3, 7))
    targets[0, :2] = IGNORE_INDEX
    not_keyword = torch.tensor([10, 11])
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 13), targets.reshape(-1), ignore_index=-100)
    assert torch.allclose(stream_loss(logits, targets, not_keyword), expected)
    # A not-keyword step is right when unknown OR silence holds the mass; a keyword's mass is wrong.
    step = torch.full((1, 1, 13), -20.0)
    silent, unknown, keyword = step.clone(), step.clone(), step.clone()
    silent[..., 11], unknown[..., 10], keyword[..., 3] = 20.0, 20.0, 20.0
    soft = torch.tensor([[NOT_KEYWORD_INDEX]])
    assert stream_loss(silent, soft, not_keyword) < 1e-6 and stream_loss(unknown, soft, not_keyword) < 1e-6
    assert stream_loss(keyword, soft, not_keyword) == pytest.approx(40.0 - np.log(2), abs=1e-3)  # two at -40
    assert stream_loss(silent, torch.tensor([[10]]), not_keyword) == pytest.approx(40.0, abs=1e-3)  # hard target
    half = torch.zeros(1, 1, 13)  # uniform: -log(2 / 13)
    assert stream_loss(half, soft, not_keyword).item() == pytest.approx(-np.log(2 / 13), rel=1e-5)


def test_n_mfcc_travels_from_training_to_the_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from audio_lstm.device.runtime import StreamingClassifier

    data = tmp_path / "data"
    write_corpus(data, speakers=12)
    args = [
        str(data),
        "--out",
        str(tmp_path / "run"),
        "--n-mfcc",
        "13",
        "--frame-stack",
        "1",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "8",
        "--hidden",
        "16",
        "--layers",
        "1",
        "--workers",
        "0",
        "--no-progress",
    ]
    assert train_main(args) == 0
    assert export_main([str(tmp_path / "run" / "best.pt"), "--skip-parity"]) == 0
    classifier = StreamingClassifier(tmp_path / "run" / "model.int8.onnx")
    assert classifier.info.frontend.n_mfcc == 13 and classifier.info.step_width == 13
    assert classifier.predict_clip(np.zeros(16000, dtype=np.float32)).shape == (97, 13)
    assert train_main([*args[:-1], "--n-mfcc", "41", "--force", "--no-progress"]) == 2
    assert "--n-mfcc 41 exceeds the front end's 40 mel bands" in capsys.readouterr().err


def test_init_fine_tunes_from_a_checkpoint_and_refuses_another_model(
    trained_run: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    data, base = trained_run.data, trained_run.checkpoint
    # the shared run's model; one step, as nothing here needs training to get anywhere
    common = [
        "--epochs",
        "1",
        "--steps-per-epoch",
        "1",
        "--batch-size",
        "4",
        "--hidden",
        "32",
        "--layers",
        "1",
        "--workers",
        "0",
        "--no-progress",
    ]

    def fine_tune(name: str, init: Path, *extra: str) -> int:
        """Another seed and a learning rate too small to move anything: what is saved is where it started."""
        out = ["--out", str(tmp_path / name), "--init", str(init), "--seed", "3", "--lr", "1e-12"]
        return train_main([str(data), *out, *extra, *common])

    assert fine_tune("tuned", base, "--max-pool-weight", "1") == 0
    assert train_main([str(data), "--out", str(tmp_path / "fresh"), "--seed", "3", *common]) == 0
    start, after, fresh = (
        torch.load(path, weights_only=True)["state_dict"]
        for path in (base, tmp_path / "tuned" / "best.pt", tmp_path / "fresh" / "best.pt")
    )
    for name in ("feature_mean", "feature_std", "classifier.weight"):
        assert torch.allclose(after[name], start[name], atol=1e-6), name
    assert not torch.allclose(fresh["feature_mean"], start["feature_mean"])  # measured anew without --init
    config = json.loads((tmp_path / "tuned" / "metrics.json").read_text())["train_config"]
    assert (config["init_from"], config["max_pool_weight"]) == (str(base), 1.0)

    capsys.readouterr()
    assert train_main([str(data), "--out", str(tmp_path / "wide"), "--init", str(base), "--hidden", "24"]) == 2
    assert f"fine-tuning checkpoint {base}: its model" in (err := capsys.readouterr().err) and "differs" in err
    assert not (tmp_path / "wide").exists()
    assert train_main([str(data), "--out", str(tmp_path / "none"), "--init", str(tmp_path / "missing.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err

    # an exported file serves as well: the int8 weights, dequantized, are where fine-tuning starts
    from audio_lstm.export.onnx_export import export_checkpoint
    from audio_lstm.train.model import load_checkpoint

    _, exported = export_checkpoint(*load_checkpoint(base)[:2], tmp_path / "exported")
    assert fine_tune("from-onnx", exported) == 0
    from audio_lstm.export.onnx_import import load_trained_model

    imported = load_trained_model(exported)[0].state_dict()
    after = torch.load(tmp_path / "from-onnx" / "best.pt", weights_only=True)["state_dict"]
    assert torch.allclose(after["classifier.weight"], imported["classifier.weight"], atol=1e-6)
    assert not torch.equal(imported["classifier.weight"], start["classifier.weight"])  # int8 rounding shows
    # 'bundled' is the shipped model: 96 units, 2 layers, so a 32-unit run refuses it by its path
    assert train_main([str(data), "--out", str(tmp_path / "b"), "--init", "bundled", *common]) == 2
    assert "default.int8.onnx: its model" in capsys.readouterr().err and not (tmp_path / "b").exists()
