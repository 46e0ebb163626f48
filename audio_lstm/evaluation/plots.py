"""DET curve plots (PNG) of a threshold sweep; needs matplotlib."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from audio_lstm.evaluation.event_matching import ClassOutcome


def plot_det(
    label: str,
    curve: Sequence[ClassOutcome],
    path: Path,
    marks: dict[str, ClassOutcome],
    target_fa_per_hour: float,
) -> None:
    """DET curve of one label as a PNG: false-reject rate vs false accepts per hour over the sweep.

    `marks` names points to highlight (e.g. ``{"chosen": ..., "model": ...}``). Needs matplotlib.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [o for o in curve if o.frr is not None]
    fig, axis = plt.subplots(figsize=(5.5, 4.2))
    axis.plot(
        [o.fa_per_hour for o in points], [o.frr for o in points], "-", color="tab:blue", lw=1.5, label="threshold sweep"
    )
    for (name, outcome), style in zip(marks.items(), ("o", "s", "^")):
        if outcome.frr is not None and outcome.threshold is not None:
            axis.plot(
                outcome.fa_per_hour,
                outcome.frr,
                style,
                ms=7,
                label=f"{name} {outcome.threshold:.2f}: FRR {outcome.frr:.2f}, {outcome.fa_per_hour:.2f} FA/h",
            )
    axis.axvline(target_fa_per_hour, color="grey", ls=":", label=f"target {target_fa_per_hour:g} FA/h")
    hours = curve[0].hours if curve else 1.0
    axis.set_xscale("symlog", linthresh=max(1.0 / hours, 1e-3))
    axis.set_xlim(left=0)
    axis.set_ylim(-0.02, 1.02)
    axis.set_xlabel("false accepts per hour")
    axis.set_ylabel("false-reject rate")
    events = curve[0].events if curve else 0
    axis.set_title(f"{label}: {events} events, {hours:.2f} h")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
