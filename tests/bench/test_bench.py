"""`python bench/bench.py --quick --no-refs` on the tiny model: the table and the JSON report."""

from __future__ import annotations

import json
import math

from refs import CHUNKS_MS, HEADLINE_MS

import bench


def test_quick_bench_prints_table_and_writes_json(tiny_model, tmp_path, capsys) -> None:  # noqa: ANN001
    report_path = tmp_path / "bench.json"
    code = bench.main(
        [
            "--quick",
            "--no-refs",
            "--model",
            str(tiny_model.int8),
            "--fp32",
            str(tiny_model.fp32),
            "--frames-per-call",
            "4",
            "--json",
            str(report_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0

    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("model "))
    for chunk in CHUNKS_MS:
        assert f"ms/s@{chunk}" in header
    assert f"p99@{HEADLINE_MS} ms" in header and "RSS MB" in header and "stop delay s" in header
    rows = {
        kind: next(line for line in lines if line.startswith(f"ours {kind} ({getattr(tiny_model, kind).name})"))
        for kind in ("int8", "fp32")
    }
    for row in rows.values():
        assert "FAILED" not in row
        cells = row.split(")", 1)[1].split()
        numbers = [float(c) for c in cells[: 1 + len(CHUNKS_MS) + 4]]  # size, costs, wall@80, p50, p99, RSS
        assert all(math.isfinite(n) and n > 0 for n in numbers), row
    assert "reference models skipped (--no-refs)" in out
    assert f"ours int8 ({tiny_model.int8.name}) at {HEADLINE_MS} ms, ms per s of audio: front end" in out
    assert "target peak RSS < 64.0 MB" in out

    report = json.loads(report_path.read_text())
    assert report["chunks_ms"] == list(CHUNKS_MS) and report["audio_seconds"] == 3.0
    assert set(report["word_ends_s"]) == {"stop", "yes"}
    assert 2.0 < report["word_ends_s"]["stop"] < 3.0 and 8.0 < report["word_ends_s"]["yes"] < 9.0
    results = {r["name"]: r for r in report["results"]}
    variant = f"ours int8 ({tiny_model.int8.name}, groups of 4)"  # the int8 model again, fp32 not
    assert set(results) == {f"ours int8 ({tiny_model.int8.name})", f"ours fp32 ({tiny_model.fp32.name})", variant}
    assert any(line.startswith(variant) for line in lines)
    for result in results.values():
        assert (
            result["file_bytes"] == tiny_model.int8.stat().st_size
            or result["file_bytes"] == tiny_model.fp32.stat().st_size
        )
        assert set(result["cost_ms_per_s"]) == set(result["wall_ms_per_s"]) == {str(c) for c in CHUNKS_MS}
        assert all(v > 0 for v in result["cost_ms_per_s"].values())
        latency = result["latency_ms"][str(HEADLINE_MS)]
        assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
        assert 10 < result["peak_rss_mb"] < 1000
        assert set(result["delay_s"]) == {"stop", "yes"}
        assert set(result["breakdown_ms_per_s"]) == {"frontend", "model", "detector", "other", "total"}
    assert f"ours fp32 ({tiny_model.fp32.name})" in report["ratios_vs_ours_int8"]
    assert any(key.startswith("peak RSS") for key in report["targets"])


def test_no_ref_venv_is_reported_not_fatal(tiny_model, tmp_path, capsys) -> None:  # noqa: ANN001
    code = bench.main(
        [
            "--quick",
            "--chunks",
            "80",
            "--model",
            str(tiny_model.int8),
            "--ref-python",
            str(tmp_path / "missing" / "python"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "reference models skipped: no" in out and "bench/setup_refs.sh" in out
    assert f"ours int8 ({tiny_model.int8.name})" in out
