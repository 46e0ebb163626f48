"""Detector: smoothing, thresholds, hysteresis, refractory period, flush, chunking invariance."""

from __future__ import annotations

import numpy as np
import pytest

from audio_lstm.device.decisions import smooth
from audio_lstm.device.detector import RELEASE_RATIO, Detector, Event
from audio_lstm.device.labels import EVENT_LABELS, GLASS, LABELS, SILENCE, UNKNOWN

FRAME = 0.01


def scores_with(segments: list[tuple[str, int, int, float]], frames: int, labels=LABELS) -> np.ndarray:  # noqa: ANN001
    """Frame scores: `_silence_` everywhere except (label, start, end, value) segments."""
    scores = np.zeros((frames, len(labels)), dtype=np.float32)
    scores[:, labels.index(SILENCE)] = 1.0
    for label, start, end, value in segments:
        scores[start:end] = (1.0 - value) / (len(labels) - 1)
        scores[start:end, labels.index(label)] = value
    return scores


def detector(**kwargs) -> Detector:  # noqa: ANN003
    thresholds = kwargs.pop("thresholds", {label: 0.6 for label in LABELS if label not in (UNKNOWN, SILENCE)})
    return Detector(LABELS, thresholds, FRAME, **kwargs)


def run(det: Detector, scores: np.ndarray, chunk: int = 8) -> list[Event]:
    events = []
    for start in range(0, len(scores), chunk):
        events += det.update(scores[start : start + chunk])
    return events + det.flush()


def crossings(smoothed: np.ndarray, on: float) -> list[int]:
    """Frames where an event opens without a refractory period: s >= on, once s fell below the release level."""
    frames, is_open = [], False
    for frame, value in enumerate(smoothed):
        if is_open and value < on * RELEASE_RATIO:
            is_open = False
        elif not is_open and value >= on:
            frames.append(frame)
            is_open = True
    return frames


def test_one_crossing_gives_one_event() -> None:
    scores = scores_with([("stop", 100, 150, 0.9)], 300)
    events = run(detector(smoothing_frames=5), scores)
    assert len(events) == 1
    event = events[0]
    assert event.label == "stop" and event.score == pytest.approx(0.9)
    # Smoothed (5-frame mean) crosses 0.6 at frame 103 and falls below 0.48 at frame 152; delay 2 frames.
    assert event.start_s == pytest.approx(1.01) and event.end_s == pytest.approx(1.50)
    assert event.to_dict() == {"label": "stop", "start_s": 1.01, "end_s": 1.5, "score": 0.9}


def test_event_is_reported_when_it_ends() -> None:
    det = detector()
    scores = scores_with([("go", 10, 40, 0.8)], 100)
    assert det.update(scores[:38]) == [] and det.open_labels == ("go",)
    events = det.update(scores[38:])
    assert [e.label for e in events] == ["go"] and det.open_labels == ()


def test_smoothing_matches_decisions_smooth_and_chunking_does_not_matter() -> None:
    rng = np.random.default_rng(0)
    runs = rng.dirichlet(np.ones(len(LABELS)) * 0.1, size=200)  # spiky distributions held for 1..20 frames
    raw = np.repeat(runs, rng.integers(1, 21, size=len(runs)), axis=0).astype(np.float32)
    reference = run(detector(refractory_s=0.2), raw, chunk=len(raw))
    assert reference  # spiky random scores produce several events
    for chunk in (1, 3, 7, 64):
        assert run(detector(refractory_s=0.2), raw, chunk=chunk) == reference
    # Crossing mode returns each event on its crossing frame with the smoothed score there: chunked
    # detection must find exactly the crossings of decisions.smooth over the whole stream.
    det = detector(refractory_s=0.0, report="crossing")
    assert det.smoothing_frames == 5  # 50 ms of 10 ms frames, derived from the frame length
    smoothed, delay = smooth(raw.astype(np.float64), det.smoothing_frames), (det.smoothing_frames - 1) / 2
    expected = sorted(
        (max(0.0, (frame - delay) * FRAME), label, smoothed[frame, LABELS.index(label)])
        for label, on in det.thresholds.items()
        if label in EVENT_LABELS
        for frame in crossings(smoothed[:, LABELS.index(label)], on)
    )
    events = run(det, raw, chunk=7)
    assert len(events) == len(expected) > 3
    for event, (start_s, label, score) in zip(sorted(events, key=lambda e: (e.start_s, e.label)), expected):
        assert (event.label, event.start_s) == (label, pytest.approx(start_s))
        assert event.score == pytest.approx(score, abs=1e-6)


def test_refractory_suppresses_a_second_event_within_the_period() -> None:
    # "stop" ends around frame 150; it is back at frame 200 (0.5 s later) and at frame 400 (2.5 s later).
    scores = scores_with([("stop", 100, 150, 0.9), ("stop", 200, 230, 0.9), ("stop", 400, 430, 0.95)], 600)
    events = run(detector(refractory_s=1.0), scores)
    assert [(e.label, round(e.start_s, 2)) for e in events] == [("stop", 1.01), ("stop", 4.01)]
    assert events[1].score == pytest.approx(0.95)
    # Without a refractory period all three fire.
    assert len(run(detector(refractory_s=0.0), scores)) == 3


def test_suppressed_crossing_does_not_fire_late_when_refractory_expires() -> None:
    # Second "stop" starts inside the refractory period and stays high past its end: no event.
    scores = scores_with([("stop", 100, 150, 0.9), ("stop", 180, 400, 0.9)], 500)
    events = run(detector(refractory_s=1.0), scores)
    assert len(events) == 1


def test_refractory_is_per_label() -> None:
    scores = scores_with([("stop", 100, 150, 0.9), ("go", 170, 220, 0.9)], 400)
    assert [e.label for e in run(detector(), scores)] == ["stop", "go"]


def test_hysteresis_keeps_one_event_through_a_dip() -> None:
    scores = scores_with([("left", 100, 150, 0.9), ("left", 150, 160, 0.55), ("left", 160, 200, 0.9)], 300)
    events = run(detector(refractory_s=0.0), scores)
    assert len(events) == 1 and events[0].end_s > 1.9


def test_unknown_and_silence_never_fire() -> None:
    scores = scores_with([(UNKNOWN, 10, 200, 0.99)], 400)  # silence is 1.0 everywhere else
    thresholds = {label: 0.5 for label in LABELS}
    assert run(detector(thresholds=thresholds), scores) == []
    assert run(detector(thresholds={UNKNOWN: 0.1, SILENCE: 0.1}, event_labels=LABELS[:10]), scores) == []


def test_thresholds_are_respected_per_label() -> None:
    scores = scores_with([("yes", 100, 150, 0.7), (GLASS, 300, 350, 0.7)], 500)
    thresholds = {"yes": 0.8, GLASS: 0.65}
    events = run(detector(thresholds=thresholds), scores)
    assert [e.label for e in events] == [GLASS]
    assert run(detector(thresholds={GLASS: 0.71}), scores) == []
    # A label without a threshold never fires.
    assert run(detector(thresholds={"no": 0.1}), scores) == []


def test_flush_closes_an_open_event_and_reset_starts_over() -> None:
    det = detector()
    scores = scores_with([("down", 50, 100, 0.9)], 100)
    assert det.update(scores) == []
    events = det.flush()
    assert len(events) == 1 and events[0].label == "down"
    assert events[0].end_s == pytest.approx(0.98)  # frame 100 minus the 2-frame delay
    assert det.flush() == []
    det.reset()
    assert det.frames_seen == 0
    again = run(det, scores)
    assert again == events


def test_zero_threshold_opens_at_stream_start() -> None:
    det = detector(thresholds={"on": 0.0})
    assert det.update(scores_with([], 30)) == []
    events = det.flush()
    assert events == [Event("on", 0.0, pytest.approx(0.28), 0.0)]


def test_memory_is_bounded() -> None:
    det = detector()
    scores = scores_with([("up", 10, 20, 0.9)], 50)
    for _ in range(200):
        det.update(scores)
    assert det._window.shape == (4 + 50, len(LABELS))  # held frames + the largest batch
    assert len(det._open_start) <= len(LABELS) and det.frames_seen == 200 * 50


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="nope"):
        Detector(LABELS, {"nope": 0.5}, FRAME)
    with pytest.raises(ValueError, match="shape"):
        detector().update(np.zeros((3, 4)))
    with pytest.raises(ValueError):
        Detector(LABELS, {"yes": 0.5}, 0.0)


# -- report modes ----------------------------------------------------------------------------------


def test_crossing_mode_returns_the_event_on_the_first_frame_above_threshold() -> None:
    scores = scores_with([("stop", 100, 150, 0.9)], 300)
    det = detector(smoothing_frames=5, report="crossing")
    returned = {}
    for frame in range(len(scores)):  # one frame per call: which call returns it
        for event in det.update(scores[frame : frame + 1]):
            returned[frame] = event
    # The 5-frame mean first reaches 0.6 on frame 103 (4 * 0.9 / 5 = 0.72; frame 102: 0.54).
    assert list(returned) == [103]
    event = returned[103]
    assert (event.label, event.start_s, event.end_s) == ("stop", pytest.approx(1.01), pytest.approx(1.01))
    assert event.score == pytest.approx(0.72)
    assert det.flush() == []  # it was returned already; the span closed at frame 152 meanwhile


def test_crossing_mode_raises_one_event_per_span_and_respects_the_refractory_period() -> None:
    # a dip inside one span (hysteresis), then a return 0.5 s after the end (refractory), then 2.5 s later
    scores = scores_with(
        [
            ("left", 100, 150, 0.9),
            ("left", 150, 160, 0.55),
            ("left", 160, 200, 0.9),
            ("left", 250, 280, 0.9),
            ("left", 450, 480, 0.95),
        ],
        600,
    )
    crossing = run(detector(report="crossing"), scores)
    assert [(e.label, round(e.start_s, 2)) for e in crossing] == [("left", 1.01), ("left", 4.51)]
    assert all(e.end_s == e.start_s for e in crossing)
    peak = run(detector(report="peak"), scores)
    assert [(e.label, e.start_s) for e in peak] == [(e.label, e.start_s) for e in crossing]
    assert peak[0].end_s > 1.9 and peak[0].score == pytest.approx(0.9)


def test_crossing_and_peak_modes_make_the_same_decisions_whatever_the_chunking() -> None:
    rng = np.random.default_rng(1)
    runs = rng.dirichlet(np.ones(len(LABELS)) * 0.1, size=200)
    raw = np.repeat(runs, rng.integers(1, 21, size=len(runs)), axis=0).astype(np.float32)
    peak = run(detector(refractory_s=0.2), raw, chunk=len(raw))
    reference = run(detector(refractory_s=0.2, report="crossing"), raw, chunk=len(raw))
    assert len(reference) == len(peak) > 3
    assert sorted((e.label, e.start_s) for e in reference) == sorted((e.label, e.start_s) for e in peak)
    for chunk in (1, 5, 64):
        assert run(detector(refractory_s=0.2, report="crossing"), raw, chunk=chunk) == reference


def test_peak_mode_is_the_default_and_unknown_modes_are_refused() -> None:
    assert detector().report == "peak"
    with pytest.raises(ValueError, match="crossing, peak"):
        detector(report="early")
