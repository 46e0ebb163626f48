"""`audio-lstm evaluate --streaming`: FRR, false accepts per hour and delays on seeded streams, false
accepts per hour on the real negatives, glass by recording and through measured rooms; the chosen
thresholds written into the model file when asked (see docs/streaming-evaluation.md)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from audio_lstm.commands.evaluate import BOTH_REPORTS, PROG, expand_label_names
from audio_lstm.data.negatives_cache import default_negatives_dir, read_negatives
from audio_lstm.data.readers import Clip, Corpus
from audio_lstm.data.shared_more import measured_rirs
from audio_lstm.device.detector import REPORT_MODES
from audio_lstm.device.labels import GLASS, NON_EVENT_LABELS, SILENCE
from audio_lstm.device.model_file import THRESHOLDS_KEY
from audio_lstm.device.runtime import StreamingClassifier
from audio_lstm.evaluation.glass import format_glass_tables, recall_by_recording, recall_through_rooms
from audio_lstm.evaluation.held_out import format_held_out, held_out_check
from audio_lstm.evaluation.held_out import to_dict as held_out_dict
from audio_lstm.evaluation.negatives import (
    RATES_PER_HOUR,
    NegativeResult,
    choose_on_negatives,
    evaluate_negatives,
    format_frr_table,
    format_negatives_table,
    frr_at_rates,
    mean_frr,
)
from audio_lstm.evaluation.plots import plot_det
from audio_lstm.evaluation.report import format_false_accept_causes, format_negative_table, format_streaming_table
from audio_lstm.evaluation.scenes import StreamingEvalConfig, background_paths
from audio_lstm.evaluation.speakers import format_speaker_table
from audio_lstm.evaluation.streaming import StreamingResult, evaluate_streaming


def write_thresholds(model: Path, thresholds: dict[str, float]) -> None:
    """Store `thresholds` in the model file's `thresholds` metadata (merged; every other key kept).

    The file is rewritten through a temporary sibling and an atomic rename.
    """
    import onnx

    from audio_lstm.export.onnx_export import write_metadata

    metadata = {entry.key: entry.value for entry in onnx.load(str(model)).metadata_props}
    merged = {
        **json.loads(metadata.get(THRESHOLDS_KEY, "{}")),
        **{k: round(float(v), 4) for k, v in thresholds.items()},
    }
    metadata[THRESHOLDS_KEY] = json.dumps(merged)
    temporary = model.with_name(f".{model.name}.thresholds-tmp")
    try:
        shutil.copyfile(model, temporary)
        write_metadata(temporary, metadata)
        os.replace(temporary, model)
    finally:
        temporary.unlink(missing_ok=True)


def run_real_negatives(
    args: argparse.Namespace, classifier: StreamingClassifier, result: StreamingResult
) -> NegativeResult | None:
    """False accepts on the validation split of the negatives cache, and keyword FRR on the streams at
    fixed rates of them; None when there is no cache (or --no-negatives)."""
    if args.no_negatives:
        return None
    recordings = [r for r in read_negatives(args.negatives or default_negatives_dir()) if r.split == "validation"]
    if not recordings:
        return None
    found = evaluate_negatives(classifier, recordings, result.cfg.thresholds())
    labels = [label for label in classifier.labels if label not in NON_EVENT_LABELS]
    print(format_negatives_table(found, labels))
    frr = frr_at_rates(found, result.curves)
    print(format_frr_table(frr))
    held_out = None
    if args.choose_on == "real-negatives":
        target = result.cfg.target_fa_per_hour
        held_out = held_out_check(classifier, recordings, result.curves, result.cfg.thresholds(), target)
        if held_out is not None:
            print(format_held_out(held_out, target))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        report = {
            **found.to_dict(),
            "keyword_frr_at_rate": {k: {str(r): v for r, v in row.items()} for k, row in frr.items()},
            "mean_keyword_frr_at_rate": {str(r): mean_frr(frr, r) for r in RATES_PER_HOUR},
            "held_out": None if held_out is None else held_out_dict(held_out),
        }
        (args.out / "negatives.json").write_text(json.dumps(report, indent=2))
    return found


def run_glass(
    args: argparse.Namespace,
    classifier: StreamingClassifier,
    corpus: Corpus,  # noqa: ARG001
    clips: list[Clip],
    result: StreamingResult,
) -> dict[str, Any]:
    """Glass recall per validation recording, and through the validation split's measured rooms."""
    by_recording = recall_by_recording(result, clips)
    rooms = None
    validation_rooms = [path for root in args.data for path in measured_rirs(Path(root), "validation")]
    glass_clips = [clip.path for clip in clips if clip.label == GLASS]
    if validation_rooms and glass_clips:
        ambience = [clip.path for clip in clips if clip.label == SILENCE][:50]
        rooms = recall_through_rooms(classifier, glass_clips, validation_rooms, ambience, args.seed)
    print(format_glass_tables(by_recording, rooms))
    return {"by_recording": by_recording, "through_rooms": rooms}


def run_streaming(args: argparse.Namespace, classifier: StreamingClassifier, corpus: Corpus) -> int:
    """The --streaming mode once the model and data are open; returns the exit code."""
    split = args.split
    clips = [
        clip for clip in (corpus.clips if split == "all" else corpus.subset(split)) if clip.label in classifier.labels
    ]
    if not any(clip.label != SILENCE for clip in clips):
        print(
            f"{PROG}: no labelled clips (other than {SILENCE}) in split {split!r} to place in the streams",
            file=sys.stderr,
        )
        return 2
    cfg = StreamingEvalConfig(hours=args.hours, seed=args.seed, target_fa_per_hour=args.target_fa_per_hour)
    try:
        reports = REPORT_MODES if args.report == BOTH_REPORTS else (args.report,)
        result = evaluate_streaming(classifier, clips, background_paths(corpus, split), cfg, reports)
    except ValueError as error:  # unreadable audio, no background
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    counts = result.event_counts()
    print(
        f"{args.model} ({classifier.info.model_version}) on {result.hours:.2f} h of {split} streams, seed {cfg.seed}: "
        f"{len(result.plan.events)} events ({', '.join(f'{k} {v}' for k, v in counts.items())}); "
        f"target {cfg.target_fa_per_hour:g} false accepts/h"
    )
    print(format_streaming_table(result))
    print(format_negative_table(result))
    speakers = result.speakers
    if speakers:
        print(format_speaker_table(speakers, title="FRR at"))
    causes = format_false_accept_causes(result.current)
    if causes:
        print(causes)
    chosen = ", ".join(f"{label}={value:.2f}" for label, value in result.thresholds.items())
    print(f"chosen thresholds: {chosen}")
    print("chosen counting only negatives: " + ", ".join(f"{k}={v:.2f}" for k, v in result.negative_thresholds.items()))
    real = run_real_negatives(args, classifier, result)
    glass = run_glass(args, classifier, corpus, clips, result) if GLASS in classifier.labels else None
    if args.choose_on == "real-negatives" and real is None:
        print(
            f"{PROG}: --choose-on real-negatives needs the negatives cache (`audio-lstm data negatives`)",
            file=sys.stderr,
        )
        return 2
    if args.write_thresholds:
        named = expand_label_names(args.write_thresholds)
        pools = {"every": result.thresholds, "negatives": result.negative_thresholds}
        pool = pools.get(args.choose_on) or choose_on_negatives(real, cfg.target_fa_per_hour)
        wanted = {label: value for label, value in pool.items() if "all" in named or label in named}
        write_thresholds(args.model, wanted)
        basis = {
            "every": "every false accept",
            "negatives": "only negative false accepts",
            "real-negatives": "false accepts on the real negatives",
        }[args.choose_on]
        print(
            f"thresholds written to {args.model}: {', '.join(f'{k}={v:.2f}' for k, v in wanted.items())} "
            f"(chosen counting {basis})"
        )
    else:
        print(f"thresholds not written (pass --write-thresholds to store them in {args.model})")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        report = {
            **result.to_dict(),
            "data": [str(path) for path in args.data],
            "split": split,
            "glass": glass,
            "thresholds_written": bool(args.write_thresholds),
        }
        (args.out / "streaming.json").write_text(json.dumps(report, indent=2))
        for label, curve in result.curves.items():
            if result.chosen[label].events:
                marks = {"chosen": result.chosen[label], "model": result.current[label]}
                plot_det(label, curve, args.out / f"det_{label}.png", marks, cfg.target_fa_per_hour)
        print(f"report written to {args.out}")
    return 0
