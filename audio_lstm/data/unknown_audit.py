"""Which clips of the shared `unknown_words` folder are keywords after all.

`../shared/data/unknown_words/` is the "unknown" class of an Edge Impulse project, built from
Speech Commands clips of words other than *that* project's keywords (yes, no). About three in ten
of its clips are therefore our keywords (up, down, left, ... go) filed as `_unknown_`. Two kinds of
evidence find them:

1. **duplicates** (model-free): a clip whose samples are identical to a labelled file in
   `speech_commands/` (39 of the 908; 33 of them copies of keyword clips);
2. **model** (needs a model): the clip's label under the given models' averaged scores is one of
   the keywords the folder can hold (not yes or no: none of the 33 keyword duplicates is one, where
   about eight would be if the folder held them). How often the bundled model finds them, and
   how often it calls real unknown words keywords: docs/training.md.

`audio-lstm audit-unknown ../shared/data --out audio_lstm/data/unknown_words_excluded.tsv`
writes the list that `read_shared_data` leaves out of training (validation drops the whole folder
regardless: it is scored on labels no model chose). Torch-free: numpy, soundfile, onnxruntime; the
command is `audio_lstm.commands.audit_unknown`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from audio_lstm.data.readers import Clip, audio_files
from audio_lstm.device.decisions import clip_label
from audio_lstm.device.labels import KEYWORDS, UNKNOWN

# The Edge Impulse project's own keywords, so never in its "unknown" class: a clip scored as one of
# these is a hard negative (kept), not a mislabelled keyword.
SOURCE_KEYWORDS = ("yes", "no")
FILED_KEYWORDS = tuple(word for word in KEYWORDS if word not in SOURCE_KEYWORDS)
HEADER = "# file\treason\tevidence"


def sample_digest(path: Path) -> str:
    """SHA-1 of a file's decoded 16-bit samples: equal for the same recording in any container."""
    samples, _ = sf.read(str(path), dtype="int16", always_2d=True)
    return hashlib.sha1(samples.tobytes()).hexdigest()


def find_duplicates(candidates: Sequence[Path], labelled: Sequence[Path]) -> dict[Path, Path]:
    """{candidate: a labelled file with identical samples} for every candidate that has one."""
    by_digest = {sample_digest(path): path for path in labelled}
    twins = {path: by_digest.get(sample_digest(path)) for path in candidates}
    return {path: twin for path, twin in twins.items() if twin is not None}


def keyword_verdicts(candidates: Sequence[Path], models: Sequence[Path]) -> dict[Path, tuple[str, float]]:
    """{candidate: (keyword, score)} for the clips the models' mean scores label as a FILED_KEYWORDS word."""
    from audio_lstm.commands.evaluate import onnx_scorer
    from audio_lstm.evaluation.clip_eval import ClipSet

    if not models:
        return {}
    clips = ClipSet.load([Clip(path, UNKNOWN, "audit", "train") for path in candidates])
    scorers = [onnx_scorer(model) for model in models]
    labels, smoothing = scorers[0][1], scorers[0][3]
    for model, (_, model_labels, _, _) in zip(models, scorers):
        if model_labels != labels:
            raise ValueError(f"{model}: labels {', '.join(model_labels)} differ from {models[0]}'s")
    mean_scores = np.mean([score(clips.audio) for score, *_ in scorers], axis=0)
    verdicts = {}
    for path, frame_scores in zip(candidates, mean_scores):
        label, confidence = clip_label(frame_scores, labels, smoothing)
        if label in FILED_KEYWORDS:
            verdicts[path] = (label, float(confidence))
    return verdicts


def audit(shared: Path, models: Sequence[Path]) -> tuple[list[tuple[str, str, str]], int]:
    """Rows (file name, reason, evidence) for every `unknown_words` clip that is not unknown speech,
    and how many clips the folder holds."""
    folder = shared / "unknown_words"
    candidates = audio_files(folder) if folder.is_dir() else []
    if not candidates:
        raise ValueError(f"{shared}: no unknown_words folder with audio in it")
    labelled = audio_files(shared / "speech_commands") if (shared / "speech_commands").is_dir() else []
    rows = {
        path.name: ("duplicate", str(twin.relative_to(shared)))
        for path, twin in find_duplicates(candidates, labelled).items()
    }
    for path, (keyword, confidence) in keyword_verdicts(candidates, models).items():
        rows.setdefault(path.name, ("model", f"{keyword} {confidence:.2f}"))
    return [(name, *rows[name]) for name in sorted(rows)], len(candidates)
