"""Per-frame training targets of a stream, from the word spans placed in it (numpy only).

Frame ``i`` is labelled by the time of its END sample, ``i * hop + n_fft``: a word's frames are
ignored (IGNORE_INDEX) from its onset until the model can know it, then carry its label until a
short tail after the word ends; everything else is `_silence_`. NOT_KEYWORD_INDEX marks frames
where any non-keyword class is right (the training loss sums `_unknown_` and `_silence_`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from audio_lstm.device.features import MfccConfig, num_frames

IGNORE_INDEX = -100  # target of frames left out of the loss
NOT_KEYWORD_INDEX = -2  # target of frames where any non-keyword class (unknown, silence) is right


def frame_targets(
    num_samples: int,
    spans: Sequence[tuple[int, int, int]],
    mfcc: MfccConfig,
    silence_index: int,
    lead: int,
    tail: int,
    onset_targets: Mapping[int, int] | None = None,
) -> np.ndarray:
    """Per-frame targets (int64) of a stream of `num_samples` samples.

    `spans` holds (label index, a, b): word activity [a, b) in stream samples. Frames whose end
    sample lies in [a, start) are IGNORE_INDEX, those in [start, b + tail] get the label, with
    start = min(max(a + lead, b - lead), b); `onset_targets` maps a label to another target for
    [a, start). Later spans overwrite earlier ones; the rest is silence.
    """
    count = num_frames(num_samples, mfcc)
    ends = np.arange(count, dtype=np.int64) * mfcc.hop_length + mfcc.n_fft
    targets = np.full(count, silence_index, dtype=np.int64)
    onset_targets = onset_targets or {}
    for label, a, b in spans:
        start = min(max(a + lead, b - lead), b)
        targets[(ends >= a) & (ends < start)] = onset_targets.get(label, IGNORE_INDEX)
        targets[(ends >= start) & (ends <= b + tail)] = label
    return targets
