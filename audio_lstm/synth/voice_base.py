"""What every TTS engine of `audio_lstm.synth.voices` shares: the prosody of a rendition, the engine
interface, and small helpers to run an engine's program and check what it wrote."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Prosody:
    """How one rendition is spoken."""

    rate: float  # tempo factor, 1.0 = the engine's default speed
    pitch: float  # -1..1, mapped onto each engine's own pitch scale (0 = its default)
    form: str  # "plain" | "!" | "?" | "emphasis" (SSML where the engine has it, else "!")


class Engine:
    """One TTS program: whether it is installed, its voice specs, and how it speaks a word.

    `pitch_control` False means the engine ignores `Prosody.pitch`; the caller then shifts pitch
    (and speed) by resampling.
    """

    name = ""
    pitch_control = True
    programs: tuple[str, ...] = ()
    install = ""  # what to install for it, shown when it is skipped

    def available(self) -> bool:
        """True if every program it needs is on PATH and it has at least one voice."""
        return all(shutil.which(p) for p in self.programs) and bool(self.voices())

    def version(self) -> str:
        """A short version string recorded in the marker."""
        return run(self.programs[0], "--version").strip().splitlines()[0] if self.programs else ""

    def voices(self) -> list[str]:
        """Sorted voice specs this engine can speak with."""
        raise NotImplementedError

    def synth(self, voice: str, word: str, prosody: Prosody, wav: Path) -> bool:
        """Speak `word` with `voice` into `wav`; False when the engine produced nothing usable."""
        raise NotImplementedError


def run(*args: str, stdin: str | None = None) -> str:
    """Run a program; its stdout and stderr together ("" if it is not installed)."""
    try:
        result = subprocess.run(list(args), input=stdin, capture_output=True, text=True)
    except FileNotFoundError:
        return ""
    return result.stdout + result.stderr


def call(args: list[str], wav: Path, stdin: str | None = None) -> bool:
    """Run a synthesis command; True if it succeeded and `wav` holds more than a WAV header."""
    result = subprocess.run(args, input=stdin, capture_output=True, text=True)
    return result.returncode == 0 and wav.is_file() and wav.stat().st_size > 1000


def text_of(word: str, form: str) -> str:
    """The text to speak for a form without markup: "word", "word!" or "word?" (emphasis as "!")."""
    return word + ("!" if form == "emphasis" else form if form in ("!", "?") else "")


def package_version(package: str) -> str:
    """The installed Debian package's version ("unknown" without dpkg, "" if not installed)."""
    if shutil.which("dpkg-query") is None:
        return "unknown"
    return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True).stdout
