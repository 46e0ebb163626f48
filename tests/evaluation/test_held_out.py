"""The held-out check of thresholds chosen on the real negatives: halves by group, the arithmetic
(the command that prints it: test_streaming_eval.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from audio_lstm.data.negatives_cache import NegativeRecording
from audio_lstm.evaluation.event_matching import ClassOutcome
from audio_lstm.evaluation.held_out import held_out_figures, split_in_halves
from audio_lstm.evaluation.negatives import KindResult, NegativeResult


def recording(name: str, group: str) -> NegativeRecording:
    return NegativeRecording(Path(name), "p", "music", "", "", group, "validation", 60.0, "", "", "")


def test_halves_never_share_a_group_and_hold_every_recording() -> None:
    recordings = [recording(f"{group}-{i}.flac", group) for group in "abcdefghij" for i in range(3)]
    first, second = split_in_halves(recordings)
    assert sorted(first + second, key=lambda r: str(r.path)) == sorted(recordings, key=lambda r: str(r.path))
    assert not {r.group for r in first} & {r.group for r in second} and first and second
    assert split_in_halves(recordings) == (first, second)  # stable


def test_thresholds_chosen_on_one_half_are_counted_on_the_other() -> None:
    grid = [0.1, 0.5]
    # half 0: 1 h of music where "yes" fires 10 times at 0.1 and never at 0.5; glass 3 and 1 times
    # half 1: 2 h of running speech where "yes" fires once at 0.1
    music = KindResult("music", 1.0, 1, Counter(), {"yes": [10, 0], "glass_break": [3, 1]})
    speech = KindResult("speech, other languages", 2.0, 1, Counter(), {"yes": [1, 0], "glass_break": [0, 0]})
    halves = (NegativeResult(grid, [music]), NegativeResult(grid, [speech]))
    curves = {"yes": [ClassOutcome("yes", 0.1, 10, 9, 0, 1.0), ClassOutcome("yes", 0.5, 10, 6, 0, 1.0)]}
    figures = held_out_figures(halves, curves, target_per_hour=5.0)  # "yes" may raise 0.5/h, glass 5/h
    # chosen on music: yes 0.5 (10/h at 0.1 is too many), glass 0.1 -> on speech: 0 and 0 events
    # chosen on speech: yes 0.1 (0.5/h), glass 0.1 -> on music: 10 and 3 events
    assert figures.hours == pytest.approx(3.0)
    assert figures.keyword_fa_per_hour == pytest.approx(10 / 3)
    assert figures.running_speech_fa_per_hour == pytest.approx(0.0)  # counted only on the speech half
    assert figures.glass_fa_per_hour == pytest.approx(1.0)
    assert figures.mean_keyword_frr == pytest.approx((0.4 + 0.1) / 2)
