"""Shared fixtures: a tiny exported streaming model and a tiny trained run (each built once per
session), and a WAV writer."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import soundfile


class TinyModel(NamedTuple):
    """Paths of the tiny model's two exports (unpacks as ``fp32, int8``)."""

    fp32: Path
    int8: Path


class TrainedRun(NamedTuple):
    """A tiny model trained on the tone corpus: the corpus folder and the run folder."""

    data: Path  # helpers.write_corpus, 24 speakers
    run: Path  # best.pt, metrics.json, curves.png, confusion.png; tests write nothing here

    @property
    def checkpoint(self) -> Path:
        """The run's best.pt."""
        return self.run / "best.pt"


def test_signal(seconds: float = 1.0, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Deterministic mono float32 test audio: a gliding tone, bursts of noise and a quiet gap."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * (300 + 400 * t) * t)
    envelope = (np.sin(2 * np.pi * 1.5 * t) > 0).astype(np.float64)
    noise = 0.1 * rng.standard_normal(n) * (1 - envelope)
    return (tone * envelope + noise).astype(np.float32)


test_signal.__test__ = False  # a helper, not a test


def export_tiny_model(out_dir: Path, frame_stack: int = 1) -> TinyModel:
    """A random-weight KeywordLSTM (hidden 16, 1 layer) exported as fp32 and int8 ONNX.

    Feature normalisation is set from real MFCC statistics so the scores move with the audio
    (the weights are random: the model recognizes nothing).
    """
    torch = pytest.importorskip("torch")
    from audio_lstm.device.features import MfccConfig, mfcc
    from audio_lstm.export.onnx_export import export_checkpoint
    from audio_lstm.train.model import KeywordLSTM, ModelConfig

    torch.manual_seed(1234)
    model = KeywordLSTM(ModelConfig(hidden_size=16, num_layers=1, frame_stack=frame_stack)).eval()
    features = mfcc(test_signal(3.0, seed=1), MfccConfig())
    with torch.no_grad():
        model.feature_mean.copy_(torch.from_numpy(features.mean(axis=0)))
        model.feature_std.copy_(torch.from_numpy(features.std(axis=0) + 1e-3))
        for name, parameter in model.named_parameters():  # bigger weights: livelier random outputs
            parameter.mul_(3.0)
    fp32, int8 = export_checkpoint(model, MfccConfig(), out_dir, "tiny", model_version="test")
    torch.save(model.state_dict(), out_dir / "tiny.state.pt")  # for tests that compare with torch
    return TinyModel(fp32, int8)


@pytest.fixture(autouse=True, scope="session")
def no_user_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read the user's negatives cache: AUDIO_LSTM_CACHE points at an empty folder."""
    os.environ["AUDIO_LSTM_CACHE"] = str(tmp_path_factory.mktemp("audio-lstm-cache"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """The tiny model with one MFCC frame per step (see `export_tiny_model`)."""
    return export_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def stacked_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """The tiny model stepping on 3 stacked frames (30 ms per step)."""
    return export_tiny_model(tmp_path_factory.mktemp("stacked_model"), frame_stack=3)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    """One tiny model trained once per session (`helpers.TINY_TRAINING`, EMA 0.9) for the tests that
    need a trained checkpoint; tests of a training option train their own."""
    pytest.importorskip("torch")
    from helpers import TINY_TRAINING, write_corpus

    from audio_lstm.commands.train import main as train_main

    root = tmp_path_factory.mktemp("trained_run")
    trained = TrainedRun(root / "data", root / "run")
    write_corpus(trained.data)
    code = train_main([str(trained.data), "--out", str(trained.run), *TINY_TRAINING, "--ema-decay", "0.9"])
    assert code == 0, "training the shared tiny model failed"
    return trained


@pytest.fixture
def write_wav() -> Callable[..., Path]:
    """``write_wav(path, audio=None, sample_rate=16000, subtype="PCM_16", channels=1, seconds=1.0)``.

    Writes `audio` (or `test_signal`) to `path` (format from the suffix) and returns the path.
    With ``channels > 1`` the mono signal is duplicated (scaled per channel).
    """

    def write(
        path: Path,
        audio: np.ndarray | None = None,
        sample_rate: int = 16000,
        subtype: str | None = "PCM_16",
        channels: int = 1,
        seconds: float = 1.0,
    ) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if audio is None:
            audio = test_signal(seconds, sample_rate)
        audio = np.asarray(audio, dtype=np.float32)
        if channels > 1 and audio.ndim == 1:
            audio = np.stack([audio * (1.0 - 0.2 * k) for k in range(channels)], axis=1)
        soundfile.write(str(path), audio, sample_rate, subtype=subtype)
        return path

    return write
