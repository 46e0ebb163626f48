"""Keyword false rejects per speaker: counts from the real matching, the balanced mean, the table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audio_lstm.device.detector import Detector
from audio_lstm.device.labels import LABELS, SILENCE
from audio_lstm.evaluation.event_matching import ReportClock, TrueEvent, measure
from audio_lstm.evaluation.speakers import (
    SpeakerOutcome,
    clip_speaker_outcomes,
    format_speaker_table,
    speaker_balanced_frr,
    speaker_outcomes,
    speakers_dict,
)

CLOCK = ReportClock(16000, 160, 512, smoothing_frames=1, frames_per_call=0, chunk_samples=1280, stream_seconds=20.0)


def scores_with(pulses: list[tuple[str, float]], frames: int = 2000) -> np.ndarray:
    """Silence everywhere but a 0.9 pulse of `label` over 0.3 s from each start time (10 ms frames)."""
    scores = np.zeros((frames, len(LABELS)), dtype=np.float32)
    scores[:, LABELS.index(SILENCE)] = 1.0
    for label, start_s in pulses:
        first = int(start_s * 100)
        scores[first : first + 30] = 0.1 / (len(LABELS) - 1)
        scores[first : first + 30, LABELS.index(label)] = 0.9
    return scores


def test_misses_are_counted_per_speaker_across_keywords_and_balanced_per_speaker() -> None:
    # speaker aaaa: "yes" clip 0 twice (both heard), "no" clip 1 once (missed); speaker bbbb: one
    # "yes" (missed); glass is not a keyword and stays out; a clip not named <speaker>_nohash_<n>
    # counts as its own speaker
    truth = [
        TrueEvent("yes", 1.0, 1.3, "d/yes/aaaa_nohash_0.wav"),
        TrueEvent("no", 3.0, 3.3, "d/no/aaaa_nohash_1.wav"),
        TrueEvent("yes", 5.0, 5.3, "d/yes/bbbb_nohash_0.wav"),
        TrueEvent("yes", 7.0, 7.3, "d/yes/aaaa_nohash_0.wav"),
        TrueEvent("glass_break", 9.0, 9.5, "d/glass/window.wav"),
        TrueEvent("no", 11.0, 11.3, "d/no/loose.wav"),
    ]
    scores = scores_with([("yes", 1.0), ("yes", 7.0), ("glass_break", 9.0), ("no", 11.0)])
    outcomes = measure(
        lambda t: Detector(LABELS, t, 0.01),
        scores,
        truth,
        {"yes": 0.5, "no": 0.5, "glass_break": 0.5},
        0.01,
        0.5,
        CLOCK,
    )
    assert outcomes["yes"].missed == ("d/yes/bbbb_nohash_0.wav",) and outcomes["glass_break"].missed == ()
    rows = speaker_outcomes(truth, outcomes, ["yes", "no", "up"])
    assert rows == [
        SpeakerOutcome("aaaa", clips=2, words=3, missed=1),
        SpeakerOutcome("bbbb", 1, 1, 1),
        SpeakerOutcome("loose", 1, 1, 0),
    ]
    assert [row.frr for row in rows] == pytest.approx([1 / 3, 1.0, 0.0])
    assert speaker_balanced_frr(rows) == pytest.approx((1 / 3 + 1 + 0) / 3)  # against 2 of 5 words pooled
    assert speaker_balanced_frr([]) is None
    stored = speakers_dict(rows)
    assert stored["speaker_balanced_frr"] == pytest.approx(0.444444)
    assert stored["speakers"]["aaaa"] == {"clips": 2, "words": 3, "missed": 1, "frr": pytest.approx(0.333333)}
    # outcomes that do not belong to this truth are refused, not miscounted
    with pytest.raises(ValueError, match="false rejects of speakers with no true event: bbbb"):
        speaker_outcomes(truth[:2], outcomes, ["yes"])


def test_table_has_a_column_per_threshold_set_and_truncates_rows() -> None:
    strict = [SpeakerOutcome(f"s{i}", 1, 10 - i, min(i, 10 - i)) for i in range(4)]
    lenient = [SpeakerOutcome(f"s{i}", 1, 10 - i, 0) for i in range(4)]
    text = format_speaker_table({"strict": strict, "lenient": lenient}, max_rows=2)
    lines = text.splitlines()
    assert lines[0].startswith("keyword false rejects per speaker (4 speakers") and "strict / lenient" in lines[0]
    assert lines[2].split() == ["s0", "1", "10", "0.000", "0.000"]
    assert lines[3].split() == ["s1", "1", "9", "0.111", "0.000"]
    assert lines[4] == "... 2 more speakers with 15 words"
    balanced = (0 + 1 / 9 + 2 / 8 + 3 / 7) / 4
    assert lines[5] == f"speaker-balanced keyword FRR (each speaker counts once): {balanced:.3f} strict, 0.000 lenient"


def test_clip_mode_counts_wrong_calls_of_keyword_clips_per_speaker() -> None:
    paths = [
        Path(p)
        for p in (
            "yes/aaaa_nohash_0.wav",
            "no/aaaa_nohash_1.wav",
            "yes/bbbb_nohash_0.wav",
            "_unknown_/bbbb_nohash_2.wav",
            "cat_cccc_nohash_0.wav",
        )
    ]
    truths = ["yes", "no", "yes", "_unknown_", "_unknown_"]
    predictions = ["yes", "up", "yes", "yes", "_unknown_"]  # the unknown clip called "yes" is not a keyword miss
    rows = clip_speaker_outcomes(paths, truths, predictions, ["yes", "no"])
    assert rows == [SpeakerOutcome("aaaa", 2, 2, 1), SpeakerOutcome("bbbb", 1, 1, 0)]
    with pytest.raises(ValueError, match="one truth and one prediction per clip: 5 paths, 5 truths, 4 predictions"):
        clip_speaker_outcomes(paths, truths, predictions[:4], ["yes"])
