"""Rebuild the example recordings from ../shared/data (validation speakers only).

    python examples/build_examples.py ../shared/data

clips/: one 1 s Speech Commands clip per keyword, plus unknown speech and silence (CC-BY-4.0).
stream_demo.flac: 12 s of rain (MIT, felixchenfy recorded noise, -42 dBFS) with four words (peak -6 dBFS) mixed in.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile

from audio_lstm.data.readers import read_shared_data
from audio_lstm.device.audio_io import load_audio
from audio_lstm.device.labels import KEYWORDS, SILENCE, UNKNOWN

HERE = Path(__file__).parent
RAIN_DBFS = -42.0  # RMS level of the rain background
WORD_PEAK_DBFS = -6.0  # peak level of each spoken word
STREAM_WORDS = (("stop", 2.0), ("bird", 5.0), ("yes", 8.0), ("go", 10.5))  # word (or unknown), onset s


def main(root: Path) -> None:
    corpus = read_shared_data(root)
    speech = [
        c for c in corpus.subset("validation") if "speech_commands" in str(c.path) or "unknown_words" in str(c.path)
    ]
    clips_dir = HERE / "clips"
    clips_dir.mkdir(exist_ok=True)
    for label in KEYWORDS + (UNKNOWN, SILENCE):
        clip = sorted((c for c in speech if c.label == label), key=lambda c: c.path.name)[0]
        name = label.strip("_")
        soundfile.write(clips_dir / f"{name}.flac", load_audio(clip.path), 16000)
        print(f"{clips_dir / name}.flac <- {clip.path.relative_to(root)}")
    rain = load_audio(root / "noise/background/rain.flac")[: 12 * 16000]
    rain *= 10 ** (RAIN_DBFS / 20) / np.sqrt(np.mean(rain**2))  # steady rain outside, about 20 dB under the words
    for word, onset in STREAM_WORDS:
        label = word if word in KEYWORDS else UNKNOWN
        candidates = sorted(
            (c for c in speech if c.label == label and (word in c.path.name or label != UNKNOWN)),
            key=lambda c: c.path.name,
        )
        audio = load_audio(candidates[-1].path)[:16000]
        audio *= 10 ** (WORD_PEAK_DBFS / 20) / np.abs(audio).max()  # spoken at a normal distance
        start = int(onset * 16000)
        rain[start : start + len(audio)] += audio
        print(f"stream_demo: {word} at {onset} s <- {candidates[-1].path.relative_to(root)}")
    soundfile.write(HERE / "stream_demo.flac", (rain / max(1.0, np.abs(rain).max() / 0.9)).astype(np.float32), 16000)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"))
