"""`ProgressLine`, the device side's own progress indicator (the base install has no tqdm)."""

from __future__ import annotations

import io

from audio_lstm.device import progress
from audio_lstm.device.progress import ProgressLine


def test_draws_one_line_and_erases_it(monkeypatch) -> None:  # noqa: ANN001
    clock = iter(range(0, 100, 1))  # one second per call: every update redraws
    monkeypatch.setattr(progress.time, "monotonic", lambda: float(next(clock)))
    out = io.StringIO()
    with ProgressLine("long.flac", 40.0, out) as line:
        line.update(10.0)
        assert out.getvalue() == "\rlong.flac:  25% 10/40 s"
        line.clear()  # before a record is printed
        assert out.getvalue().endswith("\r" + " " * len("long.flac:  25% 10/40 s") + "\r")
        line.update(50.0)  # more than the header said: capped at 100 %
        assert out.getvalue().endswith("\rlong.flac: 100% 60/40 s")
    assert out.getvalue().endswith(" \r") and "\n" not in out.getvalue()  # erased at the end


def test_redraws_at_most_every_interval_and_disabled_writes_nothing(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(progress.time, "monotonic", lambda: 5.0)  # the clock stands still
    out = io.StringIO()
    with ProgressLine("a", 10.0, out) as line:
        for _ in range(5):
            line.update(1.0)
    assert out.getvalue().count("\ra:") == 1 and line.done == 5.0
    silent = io.StringIO()
    with ProgressLine("b", 10.0, silent, enabled=False) as line:
        line.update(3.0)
    assert silent.getvalue() == "" and line.text() == "b:  30% 3/10 s"
