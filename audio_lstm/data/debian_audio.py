"""Audio in Debian packages: the packages, finding audio files (also inside zip archives), the
per-package rules that describe each file, and conversion to 16 kHz mono FLAC (fetching the packages:
`audio_lstm.data.debian_packages`).

Audio files are those ending in .wav .ogg .oga .flac .opus, plainly in the package or as members of a
.zip inside it (0ad-data's public.zip); a member's source_file is ZIP_PATH/MEMBER. Tracker music (.mod,
.it, .s3m) is not audio to soundfile and is left out. Byte-identical files within a package (ktuberling's
Serbian variants, for one) are converted once: the first in path order.

Per-package rules (kind / language / speaker / transcript); "folders" are the folders of the file's path:

* asterisk-core-sounds-LANG-wav: speech / LANG / "LANG-prompts" / the line of the companion package
  asterisk-core-sounds-LANG's usr/share/doc/*/core-sounds-LANG.txt.gz whose name (``name: text``) is the
  path below sounds/VOICE/ without extension (an archive's name dropped from the path).
* ktuberling-data: speech / the language folder without its @variant / the same / the object's name
  from the file name (the part after the first "_", e.g. egypt_camel -> camel).
* hedgewars-data: a file under voices/PACK/ is speech / xx for PACK_xx, en for Default, else '' /
  PACK / the voice line's name (NAMED_LINES: a description of the line, not a verbatim transcript).
  Other files: the generic rule.
* 0ad-data: by path in the archive: audio/voice/CIV/ is speech (speaker CIV; global/ holds a dog);
  ZERO_AD_KINDS maps path prefixes to kinds; the rest: the generic rule.
* generic (every other package and file): a folder named music, or a file of 60 s or more outside a
  folder named sfx (supertuxkart's long radio and airport noises), is music; a folder named ambient or
  ambience is ambience; the rest is effects. Language '', speaker the package,
  transcript from NAMED_LINES when the file's name is a spoken line (pingus' letsgo.wav), else ''.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import soundfile
import soxr

PACKAGES = tuple(f"asterisk-core-sounds-{lang}-wav" for lang in ("en", "es", "fr", "it", "ru")) + (
    "ktuberling-data",
    "hedgewars-data",
    "0ad-data",
    "wesnoth-1.16-music",
    "supertuxkart-data",
    "frozen-bubble-data",
    "tuxtype-data",
    "pingus-data",
)
AUDIO_SUFFIXES = (".wav", ".ogg", ".oga", ".flac", ".opus")
SAMPLE_RATE = 16000
MUSIC_MIN_SECONDS = 60.0
RULES_VERSION = 3  # bump when the rules below change: packages converted under older rules are described again

_ASTERISK_AUDIO = re.compile(r"^asterisk-core-sounds-([a-z]{2,3}(?:_[A-Za-z]{2})?)-wav$")
_ASTERISK_TRANSCRIPTS = re.compile(r"^asterisk-core-sounds-[a-z]{2,3}(?:_[A-Za-z]{2})?$")
_ZERO_AD_LANGUAGES = {"greek": "grc", "latin": "la", "persian": "peo"}
ZERO_AD_KINDS = {
    "audio/music": "music",
    "audio/ambient": "ambience",
    "audio/attack/impact": "impact",
    "audio/attack/destruction": "impact",
    "audio/resource/mining": "impact",
    "audio/resource/lumbering": "impact",
    "audio/resource/construction": "impact",
}
# What a file says, by package and file name (lower case, trailing digits dropped), where the name tells.
# Hedgewars' voice lines are the same names in every pack; grunts (ow, ooff, laugh, ...) are left out.
_HEDGEWARS_PHRASES = {
    "byebye": "bye bye",
    "comeonthen": "come on then",
    "cutitout": "cut it out",
    "enemydown": "enemy down",
    "firstblood": "first blood",
    "flyaway": "fly away",
    "gonnagetyou": "gonna get you",
    "illgetyou": "i'll get you",
    "justyouwait": "just you wait",
    "leavemealone": "leave me alone",
    "nooo": "no",
    "ohdear": "oh dear",
    "runaway": "run away",
    "sameteam": "same team",
    "solong": "so long",
    "takecover": "take cover",
    "thisoneismine": "this one is mine",
    "uh-oh": "uh oh",
    "watchit": "watch it",
    "watchthis": "watch this",
    "whatthe": "what the",
    "yessir": "yes sir",
    "youllregretthat": "you'll regret that",
}
_HEDGEWARS_WORDS = [
    "amazing",
    "boring",
    "brilliant",
    "bugger",
    "coward",
    "drat",
    "excellent",
    "fire",
    "flawless",
    "grenade",
    "hello",
    "hurry",
    "incoming",
    "kamikaze",
    "melon",
    "missed",
    "nutter",
    "oops",
    "reinforcements",
    "revenge",
    "stupid",
    "traitor",
    "victory",
]
NAMED_LINES: dict[str, dict[str, str]] = {
    "hedgewars-data": {**{word: word for word in _HEDGEWARS_WORDS}, **_HEDGEWARS_PHRASES},
    "pingus-data": {"letsgo": "let's go", "ohno": "oh no", "goodidea": "good idea", "yipee": "yippee"},
    "tuxtype-data": {"excuseme": "excuse me", "shieldsdown": "shields down"},
}


def transcript_package(package: str) -> str | None:
    """The companion package holding the transcripts of an audio package, if it has one."""
    return package[: -len("-wav")] if _ASTERISK_AUDIO.match(package) else None


def is_transcript_package(package: str) -> bool:
    """True for a package that only carries transcripts (asterisk-core-sounds-LANG)."""
    return bool(_ASTERISK_TRANSCRIPTS.match(package))


def read_transcripts(root: Path) -> dict[str, str]:
    """``name: text`` lines of every usr/share/doc/*/core-sounds-*.txt.gz under root (';' lines are comments)."""
    transcripts: dict[str, str] = {}
    for path in sorted(root.glob("usr/share/doc/*/core-sounds-*.txt.gz")):
        for line in gzip.decompress(path.read_bytes()).decode("utf-8-sig", errors="replace").splitlines():
            name, colon, text = line.partition(":")
            if colon and name.strip() and not line.startswith(";"):
                transcripts[name.strip()] = text.strip()
    return transcripts


# -- audio files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioSource:
    """One audio file of a package: plain (archive '') or a member of a zip archive in it."""

    archive: str  # path of the zip inside the package, or ''
    member: str  # path inside the archive, or inside the package for a plain file
    folder: str  # its first two folders below the audio root of its package or archive ('.' for none)

    @property
    def source_file(self) -> str:
        """Path inside the package; ZIP_PATH/MEMBER for a member of an archive."""
        return f"{self.archive}/{self.member}" if self.archive else self.member


def _with_folders(archive: str, members: list[str]) -> list[AudioSource]:
    """Sources for members of one archive (or plain files of the package), each with its group folder."""
    parents = [PurePosixPath(member).parent.parts for member in members]
    root_depth = len(os.path.commonprefix(parents)) if parents else 0
    return [
        AudioSource(archive, member, "/".join(parent[root_depth : root_depth + 2]) or ".")
        for member, parent in zip(members, parents)
    ]


class PackageFiles:
    """The audio files of an extracted package (`sources`, in path order) and their bytes (`read`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._archives: dict[str, zipfile.ZipFile] = {}
        self.unreadable: list[str] = []  # archives that could not be opened, with the reason
        plain: list[str] = []
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root).as_posix()
            if path.is_symlink() or not path.is_file():
                continue
            if path.suffix.lower() in AUDIO_SUFFIXES:
                plain.append(relative)
            elif path.suffix.lower() == ".zip":
                try:
                    self._archives[relative] = zipfile.ZipFile(path)
                except (zipfile.BadZipFile, OSError) as error:
                    self.unreadable.append(f"{relative}: not a readable zip archive ({error})")
        self.sources = _with_folders("", plain)
        for archive, opened in self._archives.items():
            names = sorted(n for n in opened.namelist() if PurePosixPath(n).suffix.lower() in AUDIO_SUFFIXES)
            self.sources += _with_folders(archive, names)

    def read(self, source: AudioSource) -> bytes:
        """The file's bytes."""
        if source.archive:
            return self._archives[source.archive].read(source.member)
        return (self.root / source.member).read_bytes()

    def close(self) -> None:
        """Close the archives."""
        for opened in self._archives.values():
            opened.close()


def convert_to_flac(data: bytes, dest: Path) -> float:
    """Decode audio bytes (soundfile), mix to mono, resample to 16 kHz (soxr) and write a 16-bit FLAC
    atomically; returns its duration in seconds. Raises ValueError or soundfile's error for bad audio."""
    audio, sample_rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    if audio.shape[0] == 0:
        raise ValueError("no samples")
    mono = audio.mean(axis=1)
    if sample_rate != SAMPLE_RATE:
        mono = soxr.resample(mono, sample_rate, SAMPLE_RATE)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    soundfile.write(partial, np.clip(mono, -1.0, 1.0), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    os.replace(partial, dest)
    return len(mono) / SAMPLE_RATE


# -- per-package rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Description:
    """What the per-package rules say about one file."""

    kind: str
    language: str
    speaker: str
    transcript: str


def _line_name(member: str) -> str:
    return re.sub(r"\d+$", "", PurePosixPath(member).stem).lower()


def describe(package: str, source: AudioSource, duration_s: float, transcripts: dict[str, str]) -> Description:
    """Kind, language, speaker and transcript of one file by the rules in the module docstring."""
    path = PurePosixPath(source.member)
    folders = [part.lower() for part in path.parts[:-1]]
    named = NAMED_LINES.get(package, {}).get(_line_name(source.member), "")
    asterisk = _ASTERISK_AUDIO.match(package)
    if asterisk:
        language = asterisk.group(1)
        below_voice = re.sub(r"^.*?/sounds/[^/]+/", "", source.source_file)
        name = re.sub(r"[^/]+\.zip/", "", str(PurePosixPath(below_voice).with_suffix("")))
        return Description("speech", language, f"{language}-prompts", transcripts.get(name, ""))
    if package == "ktuberling-data":
        language = path.parent.name.split("@")[0]
        return Description("speech", language, language, re.sub(r"[-_]+", " ", path.stem.split("_", 1)[-1]))
    if package == "hedgewars-data" and "voices" in folders:
        pack = path.parent.name
        language = pack.rsplit("_", 1)[1] if "_" in pack else ("en" if pack == "Default" else "")
        return Description("speech", language, pack, named)
    if package == "0ad-data" and folders[:2] == ["audio", "voice"] and folders[2:3] != ["global"]:
        civ = folders[2] if len(folders) > 2 else "unknown"
        return Description("speech", _ZERO_AD_LANGUAGES.get(civ, ""), civ, "")
    prefix_kinds = [kind for prefix, kind in ZERO_AD_KINDS.items() if path.as_posix().startswith(prefix + "/")]
    if package == "0ad-data" and prefix_kinds:
        kind = prefix_kinds[0]
    elif "music" in folders or (duration_s >= MUSIC_MIN_SECONDS and "sfx" not in folders):
        kind = "music"
    elif "ambient" in folders or "ambience" in folders:
        kind = "ambience"
    else:
        kind = "effects"
    return Description(kind, "", package, named)
