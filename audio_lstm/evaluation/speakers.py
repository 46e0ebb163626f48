"""Keyword false rejects per speaker, so that a few prolific voices do not decide the figure.

Speech Commands validation speakers are far from equal: in the shared data five of eighteen hold
two thirds of the keyword clips. The usual mean keyword FRR weighs every *word*, so it mostly
measures those five people. Here each speaker's keyword words are pooled into one FRR, and the
**speaker-balanced FRR** is the mean of those, every speaker counting once: what a stranger can
expect, whoever they are. Speakers are named by `audio_lstm.data.readers.speaker_of` on the clip file
(`<speaker>_nohash_<n>`; a clip named otherwise counts as a speaker of its own).

Torch-free.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audio_lstm.data.readers import speaker_of
from audio_lstm.evaluation.event_matching import ClassOutcome, TrueEvent


@dataclass(frozen=True)
class SpeakerOutcome:
    """One speaker's keyword words in the streams and how many of them one set of thresholds missed."""

    speaker: str
    clips: int  # distinct clip files of this speaker's keywords
    words: int  # keyword events of this speaker (each clip is placed several times)
    missed: int  # of those, false rejects

    @property
    def frr(self) -> float:
        return self.missed / self.words


def speaker_outcomes(
    truth: Iterable[TrueEvent], outcomes: Mapping[str, ClassOutcome], keywords: Iterable[str]
) -> list[SpeakerOutcome]:
    """Per speaker of the `keywords`' true events: clips, words and false rejects at `outcomes`.

    `outcomes` must come from scoring the same `truth` (their `missed` name its events' sources).
    Most words first, then by speaker id.
    """
    wanted = [label for label in keywords if label in outcomes]
    events = [event for event in truth if event.label in wanted]
    words = Counter(speaker_of(Path(event.source).stem) for event in events)
    clips = Counter(speaker_of(Path(source).stem) for source in {event.source for event in events})
    missed = Counter(speaker_of(Path(source).stem) for label in wanted for source in outcomes[label].missed)
    stray = set(missed) - set(words)
    if stray:
        raise ValueError(f"false rejects of speakers with no true event: {', '.join(sorted(stray))}")
    return sorted(
        (SpeakerOutcome(name, clips[name], count, missed[name]) for name, count in words.items()),
        key=lambda row: (-row.words, row.speaker),
    )


def clip_speaker_outcomes(
    paths: Sequence[Path], truths: Sequence[str], predictions: Sequence[str], keywords: Iterable[str]
) -> list[SpeakerOutcome]:
    """Per speaker of the keyword clips: clips, and those not called their own label (clip mode).

    Here every clip is one word, so `words` equals `clips` and `missed` counts the wrong calls.
    """
    wanted = set(keywords)
    if not len(paths) == len(truths) == len(predictions):
        raise ValueError(
            f"need one truth and one prediction per clip: {len(paths)} paths, {len(truths)} truths, "
            f"{len(predictions)} predictions"
        )
    clips: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for path, truth, predicted in zip(paths, truths, predictions):
        if truth in wanted:
            speaker = speaker_of(Path(path).stem)
            clips[speaker] += 1
            wrong[speaker] += predicted != truth
    return sorted(
        (SpeakerOutcome(name, count, count, wrong[name]) for name, count in clips.items()),
        key=lambda row: (-row.words, row.speaker),
    )


def speaker_balanced_frr(rows: Sequence[SpeakerOutcome]) -> float | None:
    """Mean of the speakers' FRRs, each speaker counting once; None without speakers."""
    return sum(row.frr for row in rows) / len(rows) if rows else None


def speakers_dict(rows: Sequence[SpeakerOutcome]) -> dict[str, Any]:
    """JSON-ready: the balanced FRR and one entry per speaker."""
    balanced = speaker_balanced_frr(rows)
    return {
        "speaker_balanced_frr": None if balanced is None else round(balanced, 6),
        "speakers": {
            row.speaker: {"clips": row.clips, "words": row.words, "missed": row.missed, "frr": round(row.frr, 6)}
            for row in rows
        },
    }


def format_speaker_table(
    columns: Mapping[str, Sequence[SpeakerOutcome]], max_rows: int = 25, title: str = "FRR at the thresholds chosen"
) -> str:
    """Speakers as rows (the `max_rows` with most words), one FRR column per named set of
    thresholds, and each column's balanced FRR over every speaker.

    Every column must hold the same speakers with the same words (the same streams, other thresholds).
    """
    names = list(columns)
    first = columns[names[0]]
    by_name = [{row.speaker: row for row in columns[name]} for name in names]
    lines = [
        f"keyword false rejects per speaker ({len(first)} speakers; {title} " + " / ".join(names) + ")",
        f"{'speaker':<12} {'clips':>5} {'words':>5} " + " ".join(f"{'FRR':>6}" for _ in names),
    ]
    for row in first[:max_rows]:
        lines.append(
            f"{row.speaker:<12} {row.clips:>5} {row.words:>5} "
            + " ".join(f"{found[row.speaker].frr:6.3f}" for found in by_name)
        )
    if len(first) > max_rows:
        lines.append(f"... {len(first) - max_rows} more speakers with {sum(r.words for r in first[max_rows:])} words")
    balanced = [speaker_balanced_frr(columns[name]) for name in names]
    lines.append(
        "speaker-balanced keyword FRR (each speaker counts once): "
        + ", ".join(f"{value:.3f} {name}" for name, value in zip(names, balanced) if value is not None)
    )
    return "\n".join(lines)
