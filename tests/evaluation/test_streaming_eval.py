"""Streaming evaluation: stream layout, hit/false-accept/delay metrics, threshold choice, the CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import soundfile

from audio_lstm.augment.signal import NoiseBank, db_to_gain, rms
from audio_lstm.commands.evaluate import glass_figures, main
from audio_lstm.data.negatives_cache import MANIFEST_COLUMNS
from audio_lstm.data.readers import split_for_group
from audio_lstm.device.detector import Detector
from audio_lstm.device.labels import LABELS, SILENCE
from audio_lstm.device.options import make_detector
from audio_lstm.device.runtime import StreamingClassifier
from audio_lstm.evaluation.clip_eval import ClipReport
from audio_lstm.evaluation.event_matching import (
    ClassOutcome,
    ReportClock,
    TrueEvent,
    at_crossing,
    choose_threshold,
    measure,
    negative_hours,
    replay,
    sweep,
)
from audio_lstm.evaluation.report import format_false_accept_causes
from audio_lstm.evaluation.scenes import EventClip, StreamingEvalConfig, iter_stream, plan_streams, render_scene
from audio_lstm.evaluation.streaming import StreamingResult, score_stream

RATE = 16000
# One hop 160, frames of 512 samples, int8 groups of 8 frames, 80 ms capture chunks.
CLOCK = ReportClock(RATE, 160, 512, smoothing_frames=5, frames_per_call=8, chunk_samples=1280, stream_seconds=60.0)


def tone_clip(label: str, first: int, last: int, freq: float = 440.0) -> EventClip:
    """A 1 s clip: a tone on a DC offset on [first, last) samples (multiples of 160), zeros elsewhere."""
    audio = np.zeros(RATE, dtype=np.float32)
    audio[first:last] = 0.3 + 0.2 * np.sin(2 * np.pi * freq * np.arange(last - first) / RATE)  # never 0
    return EventClip(label, Path(f"{label}.wav"), audio, (first, last))


CLIPS = [tone_clip("yes", 4800, 9600), tone_clip("no", 1600, 12800, 700.0), tone_clip("_unknown_", 8000, 11200, 300.0)]


# -- stream construction ---------------------------------------------------------------------------


def test_plan_is_deterministic_and_spaced_by_the_gaps() -> None:
    cfg = StreamingEvalConfig(hours=0.05, scene_seconds=20.0, seed=3)
    plan = plan_streams(CLIPS, cfg, RATE)
    assert plan == plan_streams(CLIPS, cfg, RATE)
    assert plan.events != plan_streams(CLIPS, replace(cfg, seed=4), RATE).events
    assert plan.seconds == 180.0 and len(plan.scenes) == 9
    # shuffled rounds: every clip is placed equally often, give or take one round
    counts = [sum(e.label == clip.label for e in plan.events) for clip in CLIPS]
    assert max(counts) - min(counts) <= 1 and sum(counts) == len(plan.events) >= 9 * 2
    for scene in plan.scenes:
        offsets = [p.offset for p in scene.clips]
        gaps = np.diff([0, *offsets]) - np.array([0] + [RATE] * (len(offsets) - 1))
        assert np.all(gaps >= 2 * RATE) and np.all(gaps <= 6 * RATE)
        assert all(o + RATE <= scene.length for o in offsets)
        assert all(5.0 <= p.snr_db <= 20.0 for p in scene.clips) and -50.0 <= scene.level_dbfs <= -30.0


def test_words_sound_exactly_where_the_plan_says() -> None:
    cfg = StreamingEvalConfig(hours=0.02, scene_seconds=24.0, seed=1)
    plan = plan_streams(CLIPS, cfg, RATE)
    silent = NoiseBank.from_arrays([np.zeros(RATE, dtype=np.float32)])
    audio = np.concatenate(list(iter_stream(plan, CLIPS, silent)))
    assert len(audio) == plan.samples
    # on a silent background, sound is exactly the union of the recorded word spans
    expected = np.zeros(len(audio), dtype=bool)
    for event in plan.events:
        expected[round(event.start_s * RATE) : round(event.end_s * RATE)] = True
    assert len(plan.events) >= 4
    np.testing.assert_array_equal(audio != 0, expected)


def test_scene_levels_and_snr() -> None:
    rng = np.random.default_rng(0)
    noise = NoiseBank.from_arrays(
        [
            rng.standard_normal(3 * RATE).astype(np.float32) * 0.1,
            rng.standard_normal(5 * RATE).astype(np.float32) * 0.01,
        ]
    )
    plan = plan_streams(CLIPS, StreamingEvalConfig(hours=0.01, scene_seconds=36.0, seed=2), RATE)
    scene = plan.scenes[0]
    mixed = render_scene(plan, 0, CLIPS, noise)
    quiet = replace(plan, scenes=(replace(scene, clips=()),))  # the same background without clips
    background = render_scene(quiet, 0, CLIPS, noise)
    assert rms(background) == pytest.approx(db_to_gain(scene.level_dbfs), rel=1e-4)
    assert len(scene.clips) >= 3
    for placed in scene.clips:
        first, last = CLIPS[placed.clip].word
        span = slice(placed.offset + first, placed.offset + last)
        snr = rms((mixed - background)[span]) / rms(background[span])
        assert 20 * np.log10(snr) == pytest.approx(placed.snr_db, abs=1e-3)


# -- metrics on hand-made scores --------------------------------------------------------------------


def pulses(segments: list[tuple[str, int, int, float]], frames: int) -> np.ndarray:
    """Frame scores: silence everywhere except (label, first frame, end frame, value) pulses."""
    scores = np.zeros((frames, len(LABELS)), dtype=np.float32)
    scores[:, LABELS.index(SILENCE)] = 1.0
    for label, start, end, value in segments:
        scores[start:end] = (1.0 - value) / (len(LABELS) - 1)
        scores[start:end, LABELS.index(label)] = value
    return scores


def detector_for(thresholds: dict[str, float], report: str = "peak") -> Detector:
    return Detector(LABELS, thresholds, 0.01, report=report)


def test_hits_false_accepts_false_rejects_and_delays_are_exact() -> None:
    scores = pulses(
        [("yes", 100, 150, 0.9), ("stop", 300, 340, 0.9), ("yes", 500, 540, 0.9), ("go", 700, 730, 0.9)], 1000
    )
    truth = [
        TrueEvent("yes", 0.8, 1.2),
        TrueEvent("go", 3.0, 3.3, "data/go/a_nohash_0.flac"),
        TrueEvent("no", 4.0, 4.3, "data/no/b_nohash_1.flac"),
        TrueEvent("go", 6.5, 6.9),
    ]
    outcomes = measure(
        detector_for, scores, truth, {"yes": 0.6, "go": 0.6, "stop": 0.6, "no": 0.6, "up": None}, 0.5, 1.0, CLOCK
    )
    yes, go, stop, no, up = (outcomes[k] for k in ("yes", "go", "stop", "no", "up"))
    # yes: smoothed crosses 0.6 at frame 103 and falls below 0.48 at 152 -> event 1.01-1.50 s, a hit;
    # returned once frame 152's group (frames 152-159) is scored: sample 159*160+512 = 25952, in the
    # 80 ms chunk ending at 26880 = 1.68 s -> delay 1.68 - 1.2. The pulse at 5.0 s hits nothing.
    assert (yes.events, yes.hits, yes.false_accepts, yes.frr, yes.fa_per_hour) == (1, 1, 1, 0.0, 2.0)
    assert yes.delays_s == pytest.approx((0.48,))
    # stop fires during the first "go": a false accept of stop, and that go is rejected. The go pulse
    # (event 7.01-7.30 s) starts after the second go's word (6.5-6.9 s) but within its 1 s tolerance.
    assert (stop.events, stop.false_accepts) == (0, 1) and stop.frr is None
    # what was playing: the stray yes (5.01 s) is within the 1 s tolerance after "no" (4.0-4.3 s)
    assert yes.false_accept_causes == (("no", 1),) and stop.false_accept_causes == (("go", 1),)
    assert yes.to_dict()["false_accepts_during"] == {"no": 1}
    # ... and which clip: the source of the event it overlapped
    assert yes.false_accept_sources == (("data/no/b_nohash_1.flac", 1),)
    assert stop.to_dict()["false_accepts_from"] == {"data/go/a_nohash_0.flac": 1}
    assert (go.events, go.hits, go.false_rejects, go.false_accepts, go.frr) == (2, 1, 1, 0, 0.5)
    # go's end frame 732 -> its group ends at frame 735 -> sample 735*160+512 = 118112 -> in the chunk
    # ending at 119040 = 7.44 s
    assert go.delays_s == pytest.approx((7.44 - 6.9,)) and go.delay_percentile(50) == pytest.approx(0.54)
    assert (no.events, no.hits, no.frr, no.false_accepts) == (1, 0, 1.0, 0)
    assert (up.threshold, up.events, up.false_accepts) == (None, 0, 0)
    # with a tolerance too short for the late go pulse, it is a false accept and both go's are rejected
    strict = measure(detector_for, scores, truth, {"go": 0.6}, 0.5, 0.05, CLOCK)["go"]
    assert (strict.hits, strict.false_rejects, strict.false_accepts) == (0, 2, 1)
    assert strict.false_accept_causes == (("background", 1),) and strict.false_accept_sources == (("background", 1),)


def test_crossing_mode_counts_the_same_and_is_returned_at_the_crossing() -> None:
    scores = pulses([("yes", 100, 150, 0.9), ("yes", 500, 540, 0.9), ("go", 700, 730, 0.9)], 1000)
    truth = [TrueEvent("yes", 0.8, 1.2), TrueEvent("go", 6.5, 6.9)]
    thresholds = {"yes": 0.6, "go": 0.6}
    peak = measure(detector_for, scores, truth, thresholds, 0.5, 1.0, CLOCK)
    both = measure(detector_for, scores, truth, thresholds, 0.5, 1.0, CLOCK, crossing=True)
    for label in thresholds:
        assert replace(both[label], crossing_delays_s=()) == peak[label]
    # yes crosses on frame 103: its group (frames 96-103) is scored at sample 103*160+512 = 16992, in
    # the chunk ending at 17920 = 1.12 s, 0.08 s before the word's (synthetic) end; peak: 1.68 s
    assert both["yes"].crossing_delays_s == pytest.approx((1.12 - 1.2,))
    assert both["yes"].delays("crossing") == both["yes"].crossing_delays_s and both["yes"].delays() == (0.48,)
    # go crosses on frame 703: group 696-703, sample 112992, chunk ending at 113920 = 7.12 s
    assert both["go"].crossing_delays_s == pytest.approx((7.12 - 6.9,))
    assert both["go"].to_dict()["crossing_delay_median_s"] == pytest.approx(0.22)
    assert peak["go"].to_dict()["crossing_delay_median_s"] is None
    events = replay(detector_for(thresholds), scores)
    with pytest.raises(ValueError, match="disagree"):
        at_crossing(events, replay(detector_for(thresholds, "crossing"), scores)[1:])
    with pytest.raises(ValueError, match="peak-mode"):
        measure(lambda t: detector_for(t, "crossing"), scores, truth, thresholds, 0.5, 1.0, CLOCK)


@pytest.mark.parametrize("report", ["peak", "crossing"])
@pytest.mark.parametrize("fixture", ["tiny_model", "stacked_model"])
def test_emitted_time_is_when_listen_returns_the_event(
    fixture: str, report: str, request: pytest.FixtureRequest
) -> None:
    """Stored scores replayed through the Detector give the events that 80 ms live chunks give, and
    the clock predicts the sample position at which each is returned (10 ms and 30 ms steps, both
    report modes)."""
    classifier = StreamingClassifier(request.getfixturevalue(fixture).int8)
    noise = NoiseBank.from_arrays([np.random.default_rng(5).standard_normal(2 * RATE).astype(np.float32) * 0.05])
    plan = plan_streams(CLIPS, StreamingEvalConfig(hours=0.01, scene_seconds=12.0), RATE)
    audio = np.concatenate(list(iter_stream(plan, CLIPS, noise)))
    thresholds = {label: 0.12 for label in classifier.labels if label not in ("_unknown_", "_silence_")}
    detector = make_detector(classifier, thresholds, report=report)
    classifier.reset()
    live: list[tuple[object, float]] = []
    for end in range(1280, len(audio) + 1, 1280):
        live += [(event, end / RATE) for event in detector.update(classifier.process(audio[end - 1280 : end]))]
    assert len(audio) % 1280 == 0 and len(live) >= 3
    stored = score_stream(classifier, iter_stream(plan, CLIPS, noise), 1280)
    events = replay(make_detector(classifier, thresholds, report=report), stored)
    assert [event for event, _ in live] == events[: len(live)]
    info = classifier.info
    clock = ReportClock(
        RATE, info.step_hop, info.step_span, classifier.smoothing_frames, classifier.frames_per_call, 1280, plan.seconds
    )
    assert [clock.emitted_s(event) for event, _ in live] == pytest.approx([when for _, when in live])


def outcome(threshold: float, false_accepts: int) -> ClassOutcome:
    return ClassOutcome("yes", threshold, events=10, hits=5, false_accepts=false_accepts, hours=2.0)


def test_threshold_choice_is_the_lowest_meeting_the_target() -> None:
    curve = [outcome(0.2, 9), outcome(0.4, 1), outcome(0.6, 2), outcome(0.8, 0)]  # FA/h 4.5, 0.5, 1, 0
    assert choose_threshold(curve, 0.5).threshold == 0.4
    assert choose_threshold(curve, 0.49).threshold == 0.8
    assert choose_threshold(curve[:3], 0.1) is None
    # a real sweep over a 0.72 pulse that is no word: it fires at every threshold up to 0.72
    scores = pulses([("left", 100, 160, 0.72)], 400)
    curves = sweep(detector_for, scores, [], ["left"], [0.5, 0.6, 0.7, 0.75, 0.8], 1.0, 1.0, CLOCK)
    assert [o.false_accepts for o in curves["left"]] == [1, 1, 1, 0, 0]
    assert choose_threshold(curves["left"], 0.5).threshold == 0.75


def test_negative_false_accepts_leave_out_substitutions_and_count_per_quiet_hour() -> None:
    causes = (("off", 3), ("_unknown_", 2), ("background", 1), ("glass_break", 1))
    up = ClassOutcome("up", 0.6, 5, 4, 7, 2.0, false_accept_causes=causes)
    assert (up.negative_false_accepts, up.substitutions, up.fa_per_hour) == (3, 4, 3.5)
    # event words (+1 s tolerance) cover 0.5-2.0 and 1.5-3.0 (merged: 2.5 s) and 10-11.2 s of 3600 s;
    # the unknown word is no event: its time counts as negative
    truth = [
        TrueEvent("yes", 0.5, 1.0),
        TrueEvent("off", 1.5, 2.0),
        TrueEvent("glass_break", 10.0, 10.2),
        TrueEvent("_unknown_", 20.0, 20.5),
    ]
    assert negative_hours(truth, ["yes", "off", "glass_break"], 1.0, 3600.0) == pytest.approx((3600 - 3.7) / 3600)
    assert negative_hours(truth, ["yes"], 1.0, 1.2) == pytest.approx(0.5 / 3600)  # clipped at the stream's end
    # the strict choice counts the substitutions too, the negative one only background and unknown
    curve = [
        ClassOutcome("up", 0.5, 5, 5, 4, 1.0, false_accept_causes=(("off", 3), ("background", 1))),
        ClassOutcome("up", 0.7, 5, 4, 3, 1.0, false_accept_causes=(("off", 3),)),
        ClassOutcome("up", 0.9, 5, 2, 0, 1.0),
    ]
    assert choose_threshold(curve, 0.5).threshold == 0.9
    assert choose_threshold(curve, 0.5, negative_hours=0.9).threshold == 0.7
    assert choose_threshold(curve, 1.2, negative_hours=0.9).threshold == 0.5
    assert choose_threshold(curve, 0.5, negative_hours=0.0) is None  # no quiet time: nothing is measured


def test_false_accept_causes_are_listed_per_label() -> None:
    sources = (
        ("d/_unknown_/bed_x.flac", 2),
        ("d/off/91b03183_nohash_0.flac", 1),
        ("background", 1),
        ("d/off/c_nohash_2.flac", 1),
    )
    up = ClassOutcome(
        "up",
        0.6,
        5,
        4,
        5,
        1.0,
        false_accept_causes=(("_unknown_", 2), ("off", 2), ("background", 1)),
        false_accept_sources=sources,
    )
    quiet = ClassOutcome("go", 0.6, 5, 5, 0, 1.0)
    assert format_false_accept_causes({"up": up, "go": quiet}).splitlines() == [
        "false accepts at the model's thresholds, by what was playing:",
        "  up 5: _unknown_ 2, off 2, background 1",
        "    most from: _unknown_/bed_x 2, off/91b03183_nohash_0 1, background 1",
    ]
    assert format_false_accept_causes({"go": quiet}) == ""


def test_glass_figures_from_the_confusion_matrix() -> None:
    labels = ("yes", SILENCE, "glass_break")
    confusion = np.array([[8, 1, 1], [0, 15, 5], [1, 0, 3]])
    figures = glass_figures(ClipReport(labels, confusion, []))
    assert figures == {"glass_clips": 4, "recall": 0.75, "other_clips": 30, "false_alarms": 6, "false_alarm_rate": 0.2}
    assert glass_figures(ClipReport(("yes", "no"), np.eye(2, dtype=int), [])) is None


# -- the command -------------------------------------------------------------------------------------


def speakers(split: str, count: int) -> list[str]:
    found = [f"spk{i:03d}" for i in range(1000) if split_for_group(f"spk{i:03d}", 10, 10) == split]
    return found[:count]


@pytest.fixture
def tiny_data(tmp_path: Path, write_wav: Callable[..., Path]) -> Path:
    """Folder per label: yes/no/glass_break/bird (unknown) tone clips and _silence_ noise, for 3
    validation and 2 train speakers, plus a background noise file."""
    root = tmp_path / "data"
    rng = np.random.default_rng(7)
    t = np.arange(RATE) / RATE
    for speaker in speakers("validation", 3) + speakers("train", 2):
        for label, freq in (("yes", 500.0), ("no", 1500.0), ("glass_break", 4000.0), ("bird", 900.0)):
            word = np.where((t > 0.3) & (t < 0.6), 0.4 * np.sin(2 * np.pi * freq * t), 0.0)
            write_wav(root / label / f"{speaker}_nohash_0.wav", word + 0.003 * rng.standard_normal(RATE))
        write_wav(root / SILENCE / f"{speaker}_nohash_0.wav", 0.01 * rng.standard_normal(RATE))
    write_wav(root / "_background_noise_" / "hum.wav", 0.02 * rng.standard_normal(4 * RATE))
    return root


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, list[str]]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, [line for line in captured.err.splitlines() if line]


def metadata(path: Path) -> dict[str, str]:
    return {entry.key: entry.value for entry in onnx.load(str(path)).metadata_props}


def test_streaming_command_reports_and_writes_thresholds_only_when_asked(
    tiny_model, tiny_data, tmp_path, capsys, monkeypatch
) -> None:  # noqa: ANN001
    model = tmp_path / "model.int8.onnx"
    shutil.copyfile(tiny_model.int8, model)
    before = model.read_bytes()
    out = tmp_path / "report"
    code, text, err = run(capsys, model, tiny_data, "--streaming", "--hours", "0.02", "--seed", "5", "--out", out)
    assert code == 0 and err == [] and model.read_bytes() == before
    assert "thresholds not written" in text and "chosen thresholds:" in text
    report = json.loads((out / "streaming.json").read_text())
    assert (report["seed"], report["hours"], report["split"], report["thresholds_written"]) == (
        5,
        0.025,
        "validation",
        False,
    )
    assert set(report["event_counts"]) == {"yes", "no", "glass_break", "_unknown_"}
    assert sum(report["event_counts"].values()) >= 10
    assert report["background"]["files"] == 4  # three validation _silence_ clips and the noise file
    assert set(report["thresholds"]) == {"yes", "no", "glass_break"}
    for label, threshold in report["thresholds"].items():
        chosen = report["classes"][label]["chosen"]
        assert chosen["threshold"] == threshold and chosen["events"] == report["event_counts"][label]
        assert chosen["fa_per_hour"] <= 0.5 or not report["classes"][label]["target_met"]
        for outcome in (chosen, report["classes"][label]["current"]):
            during = outcome["false_accepts_during"]
            assert sum(during.values()) == outcome["false_accepts"]
            assert set(during) <= {*report["event_counts"], "background"}
        assert (out / f"det_{label}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        quiet = report["classes"][label]["chosen_on_negatives"]
        assert quiet["threshold"] <= threshold  # fewer false accepts count, so never a higher threshold
        assert quiet["frr"] <= chosen["frr"]
    assert 0 < report["negative_hours"] < report["hours"]
    assert "counting only false accepts during background and unknown speech" in text
    assert not (out / "det_up.png").exists()  # no "up" events: nothing to plot
    # per speaker: the three validation speakers' keyword words and misses add up to the classes'
    per_speaker = report["keyword_frr_per_speaker"]
    assert set(per_speaker) == {"model thresholds", "every false accept", "negatives only"}
    for name, key in (
        ("model thresholds", "current"),
        ("every false accept", "chosen"),
        ("negatives only", "chosen_on_negatives"),
    ):
        rows = per_speaker[name]["speakers"]
        assert set(rows) == set(speakers("validation", 3))
        assert (
            sum(row["words"] for row in rows.values()) == report["event_counts"]["yes"] + report["event_counts"]["no"]
        )
        assert sum(row["missed"] for row in rows.values()) == sum(
            report["classes"][label][key]["false_rejects"] for label in ("yes", "no")
        )
        assert per_speaker[name]["speaker_balanced_frr"] == pytest.approx(
            np.mean([row["frr"] for row in rows.values()]), abs=1e-5
        )
    assert "keyword false rejects per speaker (3 speakers" in text
    assert len(report["sweep"]["thresholds"]) == len(report["sweep"]["yes"]["frr"]) == 98

    code, text, err = run(
        capsys, model, tiny_data, "--streaming", "--hours", "0.02", "--seed", "5", "--write-thresholds"
    )
    assert code == 0 and f"thresholds written to {model}" in text
    assert StreamingClassifier(model).info.thresholds == {
        **StreamingClassifier(tiny_model.int8).info.thresholds,
        **report["thresholds"],
    }
    old, new = metadata(tiny_model.int8), metadata(model)
    assert {k: v for k, v in new.items() if k != "thresholds"} == {k: v for k, v in old.items() if k != "thresholds"}
    assert list(new) == list(old)
    # only the named labels' thresholds: the others keep what the file held
    before = StreamingClassifier(model).info.thresholds
    code, text, _ = run(
        capsys, model, tiny_data, "--streaming", "--hours", "0.02", "--seed", "6", "--write-thresholds", "yes"
    )
    after = StreamingClassifier(model).info.thresholds
    assert code == 0 and f"thresholds written to {model}: yes=" in text
    assert {k: v for k, v in after.items() if k != "yes"} == {k: v for k, v in before.items() if k != "yes"}
    code, _, err = run(capsys, model, tiny_data, "--streaming", "--write-thresholds", "yes,maybe")
    assert code == 2 and "--write-thresholds names unknown labels ['maybe']" in err[-1]
    # --choose-on negatives writes the negatives-only choice; "keywords" leaves glass as it was
    code, text, _ = run(
        capsys, model, tiny_data, "--streaming", "--hours", "0.02", "--seed", "6", "--out", tmp_path / "neg"
    )
    quiet = json.loads((tmp_path / "neg" / "streaming.json").read_text())
    for label, value in quiet["thresholds_on_negatives"].items():
        assert value == quiet["classes"][label]["chosen_on_negatives"]["threshold"]
    model_rate = quiet["classes"]["yes"]["current"]["negative_fa_per_hour"]
    causes = quiet["classes"]["yes"]["current"]["false_accepts_during"]
    assert model_rate == pytest.approx(
        sum(n for c, n in causes.items() if c in ("_unknown_", "_silence_", "background")) / quiet["negative_hours"]
    )
    picked = {"yes": 0.33, "no": 0.44, "glass_break": 0.55}  # unlike the strict choice: the wiring shows
    monkeypatch.setattr(StreamingResult, "negative_thresholds", property(lambda self: picked))
    code, text, _ = run(
        capsys,
        model,
        tiny_data,
        "--streaming",
        "--hours",
        "0.02",
        "--seed",
        "6",
        "--write-thresholds",
        "keywords",
        "--choose-on",
        "negatives",
    )
    written = StreamingClassifier(model).info.thresholds
    assert code == 0 and "yes=0.33, no=0.44 (chosen counting only negative false accepts)" in text
    assert (written["yes"], written["no"], written["glass_break"]) == (0.33, 0.44, after["glass_break"])


def test_clip_mode_prints_and_stores_the_glass_figures(tiny_model, tiny_data, tmp_path, capsys) -> None:  # noqa: ANN001
    code, text, _ = run(capsys, tiny_model.int8, tiny_data, "--out", tmp_path / "clips")
    report = json.loads((tmp_path / "clips" / "report.json").read_text())
    confusion = np.array(report["confusion"])
    glass = report["labels"].index("glass_break")
    assert code == 0 and report["glass"]["glass_clips"] == 3 and report["glass"]["other_clips"] == 12
    assert report["glass"]["false_alarms"] == confusion[:, glass].sum() - confusion[glass, glass]
    assert report["glass"]["recall"] == confusion[glass, glass] / 3
    recalled = confusion[glass, glass]
    assert (
        f"glass_break: recall {recalled / 3:.3f} ({recalled}/3 glass clips), false-alarm rate "
        f"{report['glass']['false_alarm_rate']:.3f} ({report['glass']['false_alarms']}/12 other clips)"
    ) in text
    # keyword clips per speaker: each validation speaker has one "yes" and one "no" clip
    per_speaker = report["keyword_frr_per_speaker"]["speakers"]
    assert set(per_speaker) == set(speakers("validation", 3))
    assert all(row["clips"] == row["words"] == 2 for row in per_speaker.values())
    keywords = [report["labels"].index(label) for label in ("yes", "no")]
    wrong = sum(confusion[i].sum() - confusion[i, i] for i in keywords)
    assert sum(row["missed"] for row in per_speaker.values()) == wrong


def test_bad_input_exits_2_with_one_line(tiny_model, tiny_data, tmp_path, capsys) -> None:  # noqa: ANN001
    code, _, err = run(capsys, tmp_path / "absent.onnx", tiny_data, "--streaming")
    assert code == 2 and err == [f"audio-lstm evaluate: model not found: {tmp_path / 'absent.onnx'}"]
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"not used")
    code, _, err = run(capsys, checkpoint, tiny_data, "--streaming")
    assert code == 2 and err == [
        f"audio-lstm evaluate: {checkpoint}: --streaming needs an exported ONNX model (.onnx), not .pt"
    ]
    code, _, err = run(capsys, tiny_model.int8, tiny_data, "--streaming", "--split", "test")
    assert code == 2 and err == [
        "audio-lstm evaluate: no labelled clips (other than _silence_) in split 'test' to place in the streams"
    ]
    code, _, err = run(capsys, tiny_model.int8, tiny_data, "--write-thresholds")
    assert code == 2 and err == ["audio-lstm evaluate: --write-thresholds needs --streaming"]
    for hours in ("0", "-1"):  # both are told what is wanted: a positive number
        code, _, err = run(capsys, tiny_model.int8, tiny_data, "--streaming", "--hours", hours)
        assert code == 2 and err[-1].endswith(f"argument --hours: expected a positive number, got '{hours}'")


def test_choosing_on_real_negatives_prints_and_stores_the_held_out_check(
    tiny_model, tiny_data, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # noqa: ANN001
    rng = np.random.default_rng(2)
    cache = tmp_path / "cache"
    (cache / "audio").mkdir(parents=True)
    lines = ["\t".join(MANIFEST_COLUMNS)]
    for index, group in enumerate(("p/a", "p/b", "p/c", "p/d")):
        soundfile.write(str(cache / "audio" / f"{index}.flac"), 0.2 * rng.standard_normal(16000 * 20), 16000)
        row = {"path": f"audio/{index}.flac", "package": "p", "kind": "music", "group": group}
        row |= {"split": "validation", "duration_s": "20.000"}
        lines.append("\t".join(row.get(column, "") for column in MANIFEST_COLUMNS))
    (cache / "manifest.tsv").write_text("\n".join(lines) + "\n")
    model = tmp_path / "model.int8.onnx"
    model.write_bytes(Path(tiny_model.int8).read_bytes())
    argv = [str(model), str(tiny_data), "--streaming", "--hours", "0.02", "--seed", "6", "--negatives", str(cache)]
    argv += ["--choose-on", "real-negatives", "--write-thresholds", "keywords", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "held-out check (thresholds for 0.5/h chosen on one half of the real negatives by group" in text
    held_out = json.loads((tmp_path / "out" / "negatives.json").read_text())["held_out"]
    assert held_out["hours"] == pytest.approx(80 / 3600, abs=1e-4)
    assert held_out["keyword_fa_per_hour"] >= 0 and 0 <= held_out["mean_keyword_frr"] <= 1
    assert held_out["running_speech_fa_per_hour"] is None  # music only
