"""Glass figures by recording: recall per validation recording in the streams, and recall through
the validation split's measured rooms (rooms training never heard).

Through the rooms: every validation glass clip is convolved with every validation room's measured
impulse response (`audio_lstm.augment.rooms.measured_impulse_response`, direct path at lag 0),
placed 1 s into 3 s of the validation ambience at a fixed SNR, and streamed through the int8 file
and the real detector at the model's thresholds, fresh for each: found when a `glass_break` event
overlaps the clip. Torch-free.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from audio_lstm.augment.rooms import measured_impulse_response, reverberate
from audio_lstm.augment.signal import db_to_gain, rms
from audio_lstm.data.readers import Clip
from audio_lstm.device.audio_io import load_audio
from audio_lstm.device.labels import GLASS
from audio_lstm.device.options import make_detector
from audio_lstm.device.runtime import StreamingClassifier
from audio_lstm.evaluation.event_matching import replay
from audio_lstm.evaluation.streaming import StreamingResult

ROOM_SNR_DB = 10.0  # glass over the validation ambience, through each room
LEAD_S, TOTAL_S = 1.0, 3.0


def recall_by_recording(result: StreamingResult, clips: Sequence[Clip]) -> dict[str, dict[str, int]]:
    """Per source recording (a clip's group): glass events placed in the streams and found, at the
    model's thresholds."""
    group_of = {str(clip.path): clip.group for clip in clips}
    placed = Counter(group_of.get(e.source, e.source) for e in result.plan.events if e.label == GLASS)
    missed = (
        Counter(group_of.get(source, source) for source in result.current[GLASS].missed)
        if GLASS in result.current
        else Counter()
    )
    return {group: {"events": n, "found": n - missed[group]} for group, n in sorted(placed.items())}


def recall_through_rooms(
    classifier: StreamingClassifier,
    glass: Sequence[Path],
    rooms: Sequence[Path],
    ambience: Sequence[Path],
    seed: int = 0,
) -> dict[str, Any]:
    """Glass recall through each measured room (see the module docstring)."""
    rate = classifier.sample_rate
    rng = np.random.default_rng(seed)
    backgrounds = [load_audio(path, rate) for path in ambience] or [np.zeros(rate, dtype=np.float32)]
    total = int(TOTAL_S * rate)
    per_room: dict[str, dict[str, int]] = {}
    for room in rooms:
        response = measured_impulse_response(load_audio(room, rate), rate)
        found = 0
        for path in glass:
            wet = reverberate(load_audio(path, rate)[: total - int(LEAD_S * rate)], response)
            background = np.resize(backgrounds[int(rng.integers(len(backgrounds)))], total).astype(np.float32)
            level = rms(background)
            stream = background * (db_to_gain(-ROOM_SNR_DB) * rms(wet) / level if level > 0 else 0.0)
            start = int(LEAD_S * rate)
            stream[start : start + len(wet)] += wet
            classifier.reset()
            scores = np.concatenate([classifier.process(stream.astype(np.float32)), classifier.flush()])
            events = replay(make_detector(classifier, classifier.info.thresholds), scores)
            found += any(e.label == GLASS and e.end_s >= LEAD_S for e in events)
        per_room[room.name] = {"clips": len(glass), "found": found}
    clips = sum(r["clips"] for r in per_room.values())
    found = sum(r["found"] for r in per_room.values())
    return {"rooms": per_room, "clips": clips, "found": found, "recall": found / clips if clips else None}


def format_glass_tables(by_recording: dict[str, dict[str, int]], rooms: dict[str, Any] | None) -> str:
    """Glass recall per validation recording and through the measured validation rooms."""
    lines = ["glass recall per validation recording (streams, model's threshold):"]
    lines += [f"  {group:<32} {r['found']:>3}/{r['events']:<3}" for group, r in by_recording.items()]
    if rooms and rooms["clips"]:
        lines.append(
            f"glass recall through {len(rooms['rooms'])} measured validation rooms at {ROOM_SNR_DB:g} dB SNR: "
            f"{rooms['found']}/{rooms['clips']} ({rooms['recall']:.2f})"
        )
        lines += [f"  {name:<60} {r['found']:>3}/{r['clips']}" for name, r in rooms["rooms"].items()]
    return "\n".join(lines)
