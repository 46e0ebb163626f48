"""StreamingClassifier: chunking invariance, reset, contract validation, fp32/int8 agreement."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import test_signal
from helpers import rewrite_metadata, run_chunked

from audio_lstm.device.features import MfccConfig
from audio_lstm.device.model_file import ModelFileError
from audio_lstm.device.runtime import StreamingClassifier

onnx = pytest.importorskip("onnx")


def test_attributes(tiny_model) -> None:
    classifier = StreamingClassifier(tiny_model.int8)
    assert classifier.sample_rate == 16000 and classifier.info.precision == "int8"
    assert classifier.frame_seconds == pytest.approx(0.01)
    assert len(classifier.labels) == 13 and classifier.info.state_shape == (1, 1, 16)
    empty = classifier.process(np.zeros(100, dtype=np.int16))
    assert empty.shape == (0, 13) and classifier.frames_processed == 0


def test_chunk_size_invariance(tiny_model) -> None:
    classifier = StreamingClassifier(tiny_model.int8)
    audio = test_signal(0.6, seed=3)
    whole = classifier.predict_clip(audio).copy()
    cfg = MfccConfig()
    assert len(whole) == 1 + (len(audio) - cfg.n_fft) // cfg.hop_length
    assert classifier.frames_processed == 0  # predict_clip resets after

    rng = np.random.default_rng(0)
    random_sizes = list(rng.integers(1, 3000, size=len(audio)))
    for sizes in ([1] * len(audio), [7] * (len(audio) // 7 + 1), [1280] * 8, random_sizes):
        chunked = run_chunked(classifier, audio, sizes)
        assert classifier.frames_processed == len(whole)
        np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-5)


def test_int16_and_float_agree(tiny_model) -> None:
    classifier = StreamingClassifier(tiny_model.int8)
    pcm = (test_signal(0.5, seed=4) * 32767).astype(np.int16)
    from_int = classifier.predict_clip(pcm).copy()
    from_float = classifier.predict_clip(pcm.astype(np.float32) / 32768.0)
    np.testing.assert_allclose(from_int, from_float, rtol=0, atol=1e-6)
    with pytest.raises(TypeError):
        classifier.process(np.zeros(10, dtype=np.int32))


def test_reset_is_deterministic(tiny_model) -> None:
    classifier = StreamingClassifier(tiny_model.int8)
    audio = test_signal(0.5, seed=5)
    first = run_chunked(classifier, audio, [1280] * 7)
    classifier.process(audio[:333])  # leave buffered samples and a non-zero state behind
    second = run_chunked(classifier, audio, [1280] * 7)
    np.testing.assert_array_equal(first, second)


def test_fp32_and_int8_scores_are_close(tiny_model) -> None:
    audio = test_signal(1.0, seed=6)
    fp32 = StreamingClassifier(tiny_model.fp32).predict_clip(audio)
    int8 = StreamingClassifier(tiny_model.int8).predict_clip(audio)
    assert fp32.shape == int8.shape
    assert np.abs(fp32 - int8).max() < 0.05
    np.testing.assert_allclose(fp32.sum(axis=1), 1.0, atol=1e-4)


def test_missing_metadata_is_refused(tiny_model, tmp_path: Path) -> None:
    bad = rewrite_metadata(tiny_model.int8, tmp_path / "nometa.onnx", lambda m: (m.pop("labels"), m.pop("frontend")))
    with pytest.raises(ModelFileError, match=r"nometa\.onnx.*labels, frontend"):
        StreamingClassifier(bad)


def test_a_front_end_with_more_coefficients_than_mel_bands_is_refused(tiny_model, tmp_path: Path) -> None:
    def too_many(metadata: dict[str, str]) -> None:
        metadata["frontend"] = json.dumps({**json.loads(metadata["frontend"]), "n_mfcc": 41})

    bad = rewrite_metadata(tiny_model.int8, tmp_path / "n41.onnx", too_many)
    with pytest.raises(
        ModelFileError, match=r"n41\.onnx: unreadable model metadata: n_mfcc 41 must be between 1 and the 40"
    ):
        StreamingClassifier(bad)
    with pytest.raises(ValueError, match="n_mfcc 0 must be between 1 and the 40 mel bands"):
        MfccConfig(n_mfcc=0)


def test_wrong_format_version_is_refused(tiny_model, tmp_path: Path) -> None:
    bad = rewrite_metadata(tiny_model.int8, tmp_path / "v99.onnx", lambda m: m.update(format_version="99"))
    with pytest.raises(ModelFileError, match=r"v99\.onnx.*version 99"):
        StreamingClassifier(bad)


def test_state_shape_mismatch_is_refused(tiny_model, tmp_path: Path) -> None:
    def wrong_state(metadata: dict[str, str]) -> None:
        metadata["state_shapes"] = json.dumps({"h": [1, 1, 32], "c": [1, 1, 32]})

    bad = rewrite_metadata(tiny_model.int8, tmp_path / "state.onnx", wrong_state)
    with pytest.raises(ModelFileError, match=r"state\.onnx.*input 'h' has shape \[1, 1, 16\].*\[1, 1, 32\]"):
        StreamingClassifier(bad)


def test_label_count_mismatch_is_refused(tiny_model, tmp_path: Path) -> None:
    def fewer_labels(metadata: dict[str, str]) -> None:
        metadata["labels"] = json.dumps(json.loads(metadata["labels"])[:-1])
        metadata["thresholds"] = json.dumps({"yes": 0.5})

    bad = rewrite_metadata(tiny_model.int8, tmp_path / "labels.onnx", fewer_labels)
    with pytest.raises(ModelFileError, match=r"labels\.onnx.*scores"):
        StreamingClassifier(bad)


def test_not_a_model_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"definitely not protobuf")
    with pytest.raises(ModelFileError, match=r"junk\.onnx"):
        StreamingClassifier(junk)
    with pytest.raises(ModelFileError, match=r"missing\.onnx"):
        StreamingClassifier(tmp_path / "missing.onnx")


def test_bundled_model_missing_gives_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from audio_lstm.device import bundled

    monkeypatch.setattr(bundled, "DEFAULT_MODEL_FILE", "no-such-model.int8.onnx")
    with pytest.raises(ModelFileError, match="no bundled model.*make model.*--model"):
        bundled.default_model_path()
    with pytest.raises(ModelFileError, match="no bundled model"):
        StreamingClassifier(None)


def test_int8_frame_groups_buffer_and_flush(tiny_model) -> None:
    classifier = StreamingClassifier(tiny_model.int8)
    assert classifier.frames_per_call == 16
    audio = test_signal(0.3, seed=5)  # 0.3 s -> 27 frames: one group of 16, 11 left pending
    scored = classifier.process(audio)
    assert len(scored) == 16 and classifier.pending_frames == 11 and classifier.frames_processed == 16
    assert classifier._frontend.buffered_samples < classifier.info.frontend.n_fft  # the 11 wait as features
    rest = classifier.flush()
    assert len(rest) == 11 and classifier.pending_frames == 0 and classifier.frames_processed == 27
    # less than a group: the samples wait and the front end does not run until a group is due
    waiting = StreamingClassifier(tiny_model.int8)
    assert len(waiting.process(audio[:1600])) == 0  # 0.1 s -> 7 frames
    assert waiting._frontend.buffered_samples == 1600 and waiting.pending_frames == 7
    first = waiting.process(audio[1600:])
    assert len(first) == 16 and waiting.pending_frames == 11
    np.testing.assert_array_equal(np.concatenate([first, waiting.flush()]), np.concatenate([scored, rest]))
    per_frame = StreamingClassifier(tiny_model.int8, frames_per_call=1).predict_clip(audio)
    grouped = classifier.predict_clip(audio)
    assert per_frame.shape == grouped.shape == (27, 13)
    assert np.abs(per_frame - grouped).max() < 0.05  # only the per-call activation scales differ
    with pytest.raises(ValueError, match="frames_per_call"):
        StreamingClassifier(tiny_model.int8, frames_per_call=-1)
    assert StreamingClassifier(tiny_model.fp32).frames_per_call == 0  # fp32: whole chunks per call


@pytest.mark.parametrize("model_name", ["tiny_model", "stacked_model", "bundled"])
def test_samples_to_next_scores_is_exact(model_name: str, request: pytest.FixtureRequest) -> None:
    """One sample fewer than `samples_to_next_scores` gives no scores; that one sample gives a group."""
    path = None if model_name == "bundled" else request.getfixturevalue(model_name).int8
    classifier = StreamingClassifier(path)
    audio = (np.random.default_rng(3).normal(0, 0.1, 16000 * 4)).astype(np.float32)
    position, groups = 0, 0
    for step in range(12):
        need = classifier.samples_to_next_scores
        assert need >= 1
        if step % 3 == 1:  # also from the middle of a hop, after an odd-sized chunk
            odd = min(need - 1, 77)
            assert len(classifier.process(audio[position : position + odd])) == 0
            position += odd
            assert classifier.samples_to_next_scores == need - odd
            continue
        assert len(classifier.process(audio[position : position + need - 1])) == 0
        scores = classifier.process(audio[position + need - 1 : position + need])
        position += need
        assert len(scores) == classifier.frames_per_call
        groups += 1
    assert groups == 8 and position < len(audio)
    fp32 = StreamingClassifier(request.getfixturevalue("tiny_model").fp32) if model_name == "tiny_model" else None
    if fp32 is not None:
        assert fp32.samples_to_next_scores == 0  # scores with every frame: nothing to wait for
