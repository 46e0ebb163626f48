"""`bench/floors.py` and `bench/listen_cpu.py`: the measuring commands print their tables."""

from __future__ import annotations

import json
import re

import floors
import listen_cpu


def test_floors_fits_each_stage_and_prints_the_floor_per_group(tiny_model, capsys) -> None:  # noqa: ANN001
    code = floors.main(["--model", str(tiny_model.int8), "--repeats", "5", "--wake-seconds", "0.3"])
    out = capsys.readouterr().out
    assert code == 0
    for stage in ("model (per step)", "front end (per frame)", "detector (per step)"):
        row = next(line for line in out.splitlines() if line.startswith(stage))
        fixed, per_unit, at_unlimited = (float(value) for value in row[len(stage) :].split())
        assert fixed > -50 and per_unit > -5 and at_unlimited == round(at_unlimited, 3)
    floors_by_group = [float(m.group(2)) for m in re.finditer(r"^\s*(\d+) ms\s+[\d.]+\s+([\d.]+)$", out, re.M)]
    assert len(floors_by_group) == len(floors.GROUPS_S)
    assert floors_by_group[0] > floors_by_group[-1] > 0  # fewer, larger calls cost less


def test_listen_cpu_measures_the_daemon_on_a_paced_alsa_device(tmp_path, capsys) -> None:  # noqa: ANN001
    report = tmp_path / "listen.json"
    code = listen_cpu.main(["--seconds", "3", "--json", str(report)])
    out = capsys.readouterr().out
    assert code == 0
    if out.startswith("skipped:"):
        return  # no PortAudio/ALSA here: the command says so and measures nothing
    (variant,) = json.loads(report.read_text())["variants"]
    assert variant["chunk_ms"] == 80 and variant["total"]["cpu_ms_per_s"] > 0
    main = next(stats for name, stats in variant["threads"].items() if name.startswith("main/"))
    # The main thread sleeps until a signal, a stream's end or its next check (at most 1 s away):
    # it used to wake every 0.1 s.
    assert main["wakes_per_s"] < 3.0, variant
    assert re.search(r"^\s+80\s+[\d.]+\s+[\d.]+\s+[\d.]+", out, re.M)
