"""Models that stack 3 MFCC frames per LSTM step: same steps in torch, in the file and on the device."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import test_signal
from helpers import rewrite_metadata, run_chunked

from audio_lstm.device.detector import Detector
from audio_lstm.device.features import MfccConfig, StreamingMfcc, mfcc
from audio_lstm.device.frame_stack import StackedStreamingMfcc, stack_frames
from audio_lstm.device.model_file import ModelFileError, build_metadata, parse_metadata
from audio_lstm.device.runtime import StreamingClassifier

torch = pytest.importorskip("torch")

from audio_lstm.train.loop import step_targets  # noqa: E402
from audio_lstm.train.model import KeywordLSTM, ModelConfig  # noqa: E402


def test_stack_frames_puts_consecutive_frames_side_by_side() -> None:
    frames = np.arange(7 * 2, dtype=np.float32).reshape(7, 2)
    stacked = stack_frames(frames, 3)
    assert stacked.shape == (2, 6)  # the 7th frame waits for a whole step
    np.testing.assert_array_equal(stacked[1], [6, 7, 8, 9, 10, 11])


def test_stacked_front_end_is_chunk_invariant_and_waits_for_whole_steps() -> None:
    audio = test_signal(1.3, seed=4)
    expected = stack_frames(mfcc(audio, MfccConfig()), 3)
    frontend = StackedStreamingMfcc(MfccConfig(), 3)
    rng = np.random.default_rng(0)
    parts, start = [], 0
    while start < len(audio):
        size = int(rng.integers(1, 900))
        parts.append(frontend.process(audio[start : start + size]))
        start += size
    # float32 values of up to ~500: BLAS kernels that group rows differently round differently
    np.testing.assert_allclose(np.concatenate(parts), expected, rtol=1e-6, atol=1e-3)
    frontend.reset()
    assert len(frontend.process(audio[:3000], min_frames=6)) == 0  # 17 frames: only 5 whole steps
    assert frontend.pending_frames == 5
    assert len(frontend.process(audio[3000:3500], min_frames=6)) == 6  # 20 frames: 6 steps, 2 wait
    assert frontend.pending_frames == 0
    with pytest.raises(ValueError, match="stack must be >= 2"):
        StackedStreamingMfcc(MfccConfig(), 1)
    assert isinstance(StreamingMfcc(MfccConfig()), StreamingMfcc)


def test_torch_model_steps_once_per_stack_and_targets_follow_the_last_frame() -> None:
    torch.manual_seed(0)
    model = KeywordLSTM(ModelConfig(hidden_size=8, num_layers=1, frame_stack=3)).eval()
    features = torch.randn(2, 31, 20)
    with torch.no_grad():
        logits, _ = model(features)
        trimmed, _ = model(features[:, :30])
    assert logits.shape == (2, 10, 13) and torch.equal(logits, trimmed)
    assert model.lstm.input_size == 60
    targets = torch.arange(31).repeat(2, 1)
    assert step_targets(targets, 3, 10)[0].tolist() == [2, 5, 8, 11, 14, 17, 20, 23, 26, 29]
    assert torch.equal(step_targets(targets, 1, 31), targets)
    with pytest.raises(ValueError, match="frame_stack must be >= 1"):
        ModelConfig(frame_stack=0)


def test_stacked_file_describes_itself_and_runs_every_30_ms(stacked_model, tiny_model) -> None:
    classifier = StreamingClassifier(stacked_model.int8)
    assert classifier.info.frame_stack == 3 and classifier.frame_seconds == pytest.approx(0.03)
    assert classifier.frames_per_call == 5 and classifier.smoothing_frames == 2  # 150 ms groups, 60 ms smoothing
    plain = StreamingClassifier(tiny_model.int8)
    assert (plain.info.frame_stack, plain.frames_per_call, plain.smoothing_frames) == (1, 16, 5)
    for model in (classifier, plain):  # a detector built from the step alone smooths as the classifier does
        assert Detector(model.labels, {}, model.frame_seconds).smoothing_frames == model.smoothing_frames
    audio = test_signal(2.0, seed=2)
    assert classifier.predict_clip(audio).shape == (len(mfcc(audio, MfccConfig())) // 3, 13)


def test_stacked_fp32_file_matches_torch(stacked_model) -> None:
    model = KeywordLSTM(ModelConfig(hidden_size=16, num_layers=1, frame_stack=3)).eval()
    model.load_state_dict(torch.load(stacked_model.fp32.parent / "tiny.state.pt"))
    audio = test_signal(1.5, seed=3)
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(mfcc(audio, MfccConfig()))[None])
    expected = torch.softmax(logits, -1)[0].numpy()
    np.testing.assert_allclose(StreamingClassifier(stacked_model.fp32).predict_clip(audio), expected, atol=1e-4)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_stacked_scores_do_not_depend_on_chunking(stacked_model, precision: str) -> None:
    classifier = StreamingClassifier(getattr(stacked_model, precision))
    audio = test_signal(2.0, seed=5)
    whole = classifier.predict_clip(audio)
    for sizes in ([1280] * 26, [7, 333, 2000, 41, 160] * 13, [len(audio)]):
        np.testing.assert_allclose(run_chunked(classifier, audio, sizes), whole, atol=1e-6)


def test_export_writes_version_1_unless_frames_are_stacked() -> None:
    args = (("yes", "no"), MfccConfig(), (1, 1, 8), {"yes": 0.5}, "v", "int8")
    plain, stacked = build_metadata(*args), build_metadata(*args, frame_stack=3)
    assert plain["format_version"] == "1" and "frame_stack" not in plain  # older runtimes still read it
    assert stacked["format_version"] == "2" and stacked["frame_stack"] == "3"
    assert parse_metadata(stacked).frame_stack == 3 and "frame_stack" not in parse_metadata(stacked).extra
    with pytest.raises(ModelFileError, match="frame_stack must be >= 1"):
        parse_metadata({**stacked, "frame_stack": "0"}, "m.onnx")
    with pytest.raises(ModelFileError, match="unreadable model metadata.*frame_stack"):
        parse_metadata({k: v for k, v in stacked.items() if k != "frame_stack"}, "m.onnx")


def test_stack_mismatch_between_metadata_and_graph_is_refused(stacked_model, tmp_path: Path) -> None:
    def as_version_1(metadata: dict[str, str]) -> None:
        metadata["format_version"] = "1"
        metadata.pop("frame_stack")

    bad = rewrite_metadata(stacked_model.int8, tmp_path / "unstacked.onnx", as_version_1)
    with pytest.raises(ModelFileError, match=r"unstacked\.onnx.*'features' has shape \[1, 'frames', 60\].*20"):
        StreamingClassifier(bad)


@pytest.mark.parametrize("bad", ["0", "-2", "1.5"])
def test_train_refuses_a_bad_frame_stack(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    from audio_lstm.commands.train import main as train_main

    with pytest.raises(SystemExit):
        train_main(["data", "--frame-stack", bad])
    assert f"--frame-stack: expected a positive integer, got '{bad}'" in capsys.readouterr().err


def test_checkpoint_from_before_frame_stacking_loads_with_one_frame_per_step(tmp_path: Path) -> None:
    from dataclasses import asdict

    from audio_lstm.train.model import load_checkpoint, save_checkpoint

    model = KeywordLSTM(ModelConfig(hidden_size=8, num_layers=1, frame_stack=1))
    save_checkpoint(tmp_path / "old.pt", model, MfccConfig())
    blob = torch.load(tmp_path / "old.pt", weights_only=True)
    blob["model_config"] = {k: v for k, v in asdict(model.cfg).items() if k != "frame_stack"}  # the old format
    torch.save(blob, tmp_path / "old.pt")
    loaded, _, _ = load_checkpoint(tmp_path / "old.pt")
    assert loaded.cfg.frame_stack == 1 and loaded.lstm.input_size == 20
