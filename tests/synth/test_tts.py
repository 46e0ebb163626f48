"""Generated speech set: planning over engines, rendering, format, marker, layout, labels, determinism."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio_lstm.commands import tts as tts_command
from audio_lstm.data.generated_sets import MARKER
from audio_lstm.data.layouts import detect_layout, open_corpus
from audio_lstm.device.labels import KEYWORDS, UNKNOWN
from audio_lstm.synth import tts, voices
from audio_lstm.synth.voice_base import Engine, Prosody
from audio_lstm.synth.words import default_words_per_label, unknown_words

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not on PATH")
WORDS = {"yes": 3, "yet": 3}


class ToneEngine(Engine):
    """A fake engine without pitch control: every word is 0.3 s of a 200 Hz tone at 16 kHz."""

    name = "tone"
    pitch_control = False

    def available(self) -> bool:
        return True

    def version(self) -> str:
        return "tone 1"

    def voices(self) -> list[str]:
        return ["a_b", "c"]

    def synth(self, voice: str, word: str, prosody: Prosody, wav: Path) -> bool:
        t = np.arange(int(0.3 * 16000)) / 16000
        soundfile.write(str(wav), 0.5 * np.sin(2 * np.pi * 200 * t), 16000)
        return True


class MissingEngine(ToneEngine):
    """A fake engine whose program is not installed."""

    name = "missing"
    programs = ("no-such-tts-program-here",)
    install = "apt-get install nothing"

    def available(self) -> bool:
        return Engine.available(self)


@pytest.fixture()
def fake_engines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(voices, "ENGINES", (*voices.ENGINES, ToneEngine(), MissingEngine()))


def dominant_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)])


def test_split_by_share_is_exact_and_deterministic() -> None:
    shares = {"a": 1.0, "b": 1.0, "c": 1.0}
    for total in range(0, 40):
        counts = tts.split_by_share(total, shares, np.random.default_rng(7))
        assert sum(counts.values()) == total and set(counts) == set(shares)
        assert set(counts.values()) <= {total // 3, -(-total // 3)}  # floor or ceil of an equal third
        assert counts == tts.split_by_share(total, shares, np.random.default_rng(7))
    unequal = tts.split_by_share(10, {"a": 3.0, "b": 1.0, "c": 1.0}, np.random.default_rng(0))
    assert unequal["a"] == 6 and unequal["b"] + unequal["c"] == 4 and min(unequal.values()) >= 2
    # ties go to different engines for different seeds
    winners = {
        max(tts.split_by_share(1, shares, np.random.default_rng(s)).items(), key=lambda kv: kv[1])[0] for s in range(20)
    }
    assert winners == set(shares)


def test_split_by_share_balances_leftovers_over_many_words() -> None:
    rng, given = np.random.default_rng(1), {"a": 0, "b": 0, "c": 0}
    for _ in range(100):  # 100 one-clip words: no engine may get them all
        for name, n in tts.split_by_share(1, {"a": 2.0, "b": 1.0, "c": 1.0}, rng, given).items():
            given[name] += n
    assert given == {"a": 50, "b": 25, "c": 25}


def test_plan_splits_each_words_clips_equally_over_engines_whatever_their_voice_count() -> None:
    specs = {"big": [f"v{i}" for i in range(500)], "small": ["x"], "mid": ["p", "q", "r"]}
    words = {"yes": 30, "no": 31, "yet": 2, "know": 1, "top": 1}
    jobs = tts.plan(words, specs, seed=4)
    assert len(jobs) == sum(words.values())
    for word, n in words.items():
        per_engine = Counter(j.engine for j in jobs if j.word == word)
        assert sum(per_engine.values()) == n and max(per_engine.values()) <= -(-n // 3)
        assert all(per_engine[e] >= n // 3 for e in specs)
    totals = Counter(j.engine for j in jobs)
    assert max(totals.values()) - min(totals.values()) <= 1
    # within an engine, voices are cycled: "mid" speaks "yes" with each of its 3 voices 3 or 4 times
    mid = Counter(j.voice for j in jobs if j.word == "yes" and j.engine == "mid")
    assert set(mid) == {"p", "q", "r"} and set(mid.values()) <= {3, 4}
    assert all(j.name.startswith(f"{j.word}/{voices.voice_id(j.engine, j.voice)}_nohash_") for j in jobs)
    assert len({j.name for j in jobs}) == len(jobs)


def test_plan_is_deterministic_and_honours_shares() -> None:
    specs = {"espeak": ["en-gb", "en-us", "en-us+f3"], "flite": ["kal", "slt"]}
    words = default_words_per_label(5, 40)
    assert tts.plan(words, specs, seed=1) == tts.plan(words, specs, seed=1)
    assert tts.plan(words, specs, seed=1) != tts.plan(words, specs, seed=2)
    only_flite = tts.plan(words, specs, seed=1, shares={"espeak": 0})
    assert {j.engine for j in only_flite} == {"flite"} and len(only_flite) == sum(words.values())
    ranges = tts.ProsodyRanges()
    for job in tts.plan(words, specs, seed=1):
        assert ranges.rate[0] <= job.rate <= ranges.rate[1] and ranges.pitch[0] <= job.pitch <= ranges.pitch[1]
        assert job.form in ranges.forms and ranges.peak_dbfs[0] <= job.level_db <= ranges.peak_dbfs[1]
    with pytest.raises(ValueError, match="no engine"):
        tts.plan(words, {"espeak": []}, seed=1)
    with pytest.raises(ValueError, match="same voice id"):
        tts.plan(words, {"espeak": ["en-us+f3", "en-us-f3"]}, seed=1)


def test_render_places_levels_and_pitch_shifts_without_pitch_control(tmp_path: Path, fake_engines: None) -> None:
    job = tts.Job("yes", "tone", "a_b", 1.0, 1.0, "plain", 0.2, -6.0, "yes/tone-a-b_nohash_0.flac")
    assert tts.render(job, tmp_path, tmp_path)
    audio, rate = soundfile.read(str(tmp_path / job.name), dtype="float32")
    assert rate == tts.SAMPLE_RATE and len(audio) == tts.SAMPLE_RATE
    assert 20 * np.log10(np.abs(audio).max()) == pytest.approx(-6.0, abs=0.1)
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    assert loud[0] / rate == pytest.approx(0.2, abs=0.01)
    shifted = 2 ** (tts.SHIFT_SEMITONES / 12)  # two semitones up, and as much shorter
    assert (loud[-1] - loud[0]) / rate == pytest.approx(0.3 / shifted, abs=0.01)
    assert dominant_hz(audio[loud[0] : loud[-1]], rate) == pytest.approx(200 * shifted, rel=0.03)


def test_missing_engine_is_skipped_with_a_note(
    tmp_path: Path,
    fake_engines: None,
    capsys: pytest.CaptureFixture,
) -> None:
    marker = tts.build_generated_set(tmp_path / "set", {"yes": 4}, engines=["tone", "missing"])
    assert list(marker["engines"]) == ["tone"] and marker["written"] == 4
    assert marker["skipped_engines"] == ["missing: not installed, skipped (apt-get install nothing)"]
    assert "missing: not installed" in capsys.readouterr().err
    assert marker["engines"]["tone"]["pitch"].startswith("resampling")
    assert {p.stem.split("_nohash_")[0] for p in (tmp_path / "set").glob("yes/*.flac")} == {"tone-a-b", "tone-c"}
    with pytest.raises(RuntimeError, match="no TTS engine"):
        tts.build_generated_set(tmp_path / "none", {"yes": 1}, engines=["missing"])
    with pytest.raises(KeyError, match="unknown TTS engine"):
        tts.build_generated_set(tmp_path / "none", {"yes": 1}, engines=["tone"], shares={"tonee": 1.0})
    assert not (tmp_path / "none").exists()


def test_command_line_errors_exit_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        tts_command.main([str(tmp_path / "x"), "--share", "espeak"])
    assert exit_info.value.code == 2 and "ENGINE=WEIGHT" in capsys.readouterr().err
    assert tts_command.main([str(tmp_path / "x"), "--engines", "nosuch"]) == 2
    assert capsys.readouterr().err.startswith("audio-lstm tts: unknown TTS engine 'nosuch'")
    assert not (tmp_path / "x").exists()


@needs_espeak
def test_generated_set_format_layout_and_labels(tmp_path: Path) -> None:
    out = tmp_path / "tts"
    marker = tts.build_generated_set(out, WORDS, seed=3, limit_voices=2, engines=["espeak"])
    assert marker["status"] == "complete" and len(marker["voices"]) == 2 and list(marker["engines"]) == ["espeak"]
    saved = json.loads((out / MARKER).read_text())
    assert saved["counts_per_word"] == marker["counts_per_word"]
    assert saved["engines"]["espeak"]["version"].startswith("eSpeak NG")
    assert saved["counts_per_engine"] == {"espeak": {"planned": 6, "written": marker["written"]}}
    ids = {voices.voice_id(*v.split(":", 1)) for v in marker["voices"]}
    assert all(i.startswith("espeak-") and "_" not in i for i in ids)
    files = sorted(out.glob("*/*.flac"))
    assert len(files) == marker["written"] >= 5
    for path in files:
        audio, rate = soundfile.read(str(path), dtype="float32")
        assert rate == tts.SAMPLE_RATE and audio.ndim == 1 and len(audio) == tts.SAMPLE_RATE
        peak_db = 20 * np.log10(np.abs(audio).max())
        assert -20.5 <= peak_db <= -2.5
        assert "_nohash_" in path.stem and path.stem.split("_nohash_")[0] in ids
    assert detect_layout(out) == "generated"
    corpus = open_corpus(out)
    assert {c.split for c in corpus.clips} == {"train"}
    assert {c.label for c in corpus.clips if c.path.parent.name == "yes"} == {"yes"}
    assert {c.label for c in corpus.clips if c.path.parent.name == "yet"} == {UNKNOWN}
    assert {c.group for c in corpus.clips} <= ids
    # rebuilding with the same seed gives the same files and audio
    first = soundfile.read(str(files[0]), dtype="float32")[0]
    again = tts.build_generated_set(out, WORDS, seed=3, limit_voices=2, engines=["espeak"])
    assert again["voices"] == marker["voices"] and sorted(out.glob("*/*.flac")) == files
    assert np.array_equal(soundfile.read(str(files[0]), dtype="float32")[0], first)


def test_foreign_folder_is_not_overwritten(tmp_path: Path, fake_engines: None) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        tts.build_generated_set(tmp_path, {"yes": 1}, engines=["tone"])
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_vocabulary_has_near_misses_and_no_keywords() -> None:
    words = unknown_words()
    assert {"yet", "know", "top", "dawn", "often", "goal", "light", "write", "marvin", "visual"} <= set(words)
    assert not set(words) & set(KEYWORDS) and len(words) >= 150
    counts = default_words_per_label(300, 3000)
    assert all(counts[k] == 300 for k in KEYWORDS) and counts["yet"] == 2 * counts["hello"]


def test_incomplete_set_is_refused(tmp_path: Path) -> None:
    (tmp_path / "yes").mkdir()
    (tmp_path / MARKER).write_text(json.dumps({"status": "building"}))
    with pytest.raises(ValueError, match="incomplete"):
        open_corpus(tmp_path)
