"""Generated negative speech: words and sentences in every espeak-ng voice, none of them a keyword.

For each espeak-ng voice (about 130 languages and accents), two recordings: isolated words with pauses
between them (what a keyword looks like) and sentences (runs of words, a TV talking). The words come from
the word list of the voice's language among Debian's ``w*`` packages (`WORDLIST_PACKAGES`) or, for a
language without one, from another language's list read with that voice's rules, which sounds like the
voice's language. Each recording has its own variant (espeak-ng's ``+f3``, ``+klatt2``, ...), speed and
pitch, chosen from the voice's seed, so the set is a deterministic function of the installed espeak-ng and
word lists.

A word is left out when it is a keyword (any case) or sounds like one: its espeak-ng phonemes in that voice,
reduced by `phoneme_key`, equal a keyword's, or differ from it by one phoneme where the keyword has three or
more. `audio-lstm data speech` (audio_lstm.commands.data_speech) puts the recordings in the negatives cache.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from audio_lstm.device.labels import KEYWORDS
from audio_lstm.synth.voice_base import run
from audio_lstm.synth.voices import espeak_voice_rows

# Debian word lists (/usr/share/dict) by espeak-ng language code.
WORDLIST_PACKAGES = {
    "en": "wamerican",
    "de": "wngerman",
    "fr": "wfrench",
    "es": "wspanish",
    "it": "witalian",
    "pt": "wportuguese",
    "nl": "wdutch",
    "da": "wdanish",
    "sv": "wswedish",
    "nb": "wnorwegian",
    "pl": "wpolish",
    "ca": "wcatalan",
    "uk": "wukrainian",
    "bg": "wbulgarian",
    "eo": "wesperanto",
    "ga": "wirish",
}
KINDS = ("words", "sentences")
WORDS_PER_RECORDING = 60
SENTENCES_PER_RECORDING = 14
SHORT_WORD_LETTERS = 6
SEED_SALT = "audio-lstm spoken negatives v1:"
_WORD = re.compile(r"^[^\W\d_]{2,14}$")  # letters only, 2 to 14 of them
_STRIPPED = str.maketrans("", "", "ˈˌːˑ‿|-_ '")
_FOLDED = {"ɹ": "r", "ɾ": "r", "ʁ": "r", "ɡ": "g", "ɑ": "a", "ʌ": "a", "ɐ": "a", "æ": "a", "ɔ": "o", "ɒ": "o"}
_FOLDED |= {"ɛ": "e", "ə": "e", "ɪ": "i", "ʊ": "u", "j": "y", "oʊ": "o", "əʊ": "o", "aʊ": "aw", "aɪ": "ay"}


def phoneme_key(ipa: str) -> str:
    """IPA reduced to what a listener would confuse: no stress or length marks, near vowels merged."""
    text = unicodedata.normalize("NFC", ipa.strip()).translate(_STRIPPED)
    for long_form in sorted(_FOLDED, key=len, reverse=True):
        text = text.replace(long_form, _FOLDED[long_form])
    return text


def one_edit_apart(a: str, b: str) -> bool:
    """True when a and b differ by at most one inserted, deleted or replaced character."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) <= 1
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def sounds_like_keyword(key: str, keyword_keys: list[str]) -> bool:
    """Whether a word's phoneme key matches a keyword's (one edit allowed for keywords of 3+ phonemes)."""
    return any(key == k or (len(k) >= 3 and one_edit_apart(key, k)) for k in keyword_keys)


def phonemes(voice: str, words: list[str]) -> list[str]:
    """espeak-ng's IPA for each word in `voice` (one line per word; '' where it printed nothing).
    Raises RuntimeError when espeak-ng cannot speak with the voice."""
    result = subprocess.run(
        ["espeak-ng", "-q", "--ipa", "-v", voice],
        input="".join(f"{word}.\n" for word in words),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"espeak-ng -v {voice} failed: {result.stderr.strip() or result.returncode}")
    lines = result.stdout.splitlines()
    return lines if len(lines) == len(words) else [phonemes_one(voice, word) for word in words]


def phonemes_one(voice: str, word: str) -> str:
    """espeak-ng's IPA for one word in `voice`."""
    return run("espeak-ng", "-q", "--ipa", "-v", voice, word).strip()


def keyword_keys() -> list[str]:
    """Phoneme keys of the keywords as espeak-ng's American English says them."""
    return [phoneme_key(ipa) for ipa in phonemes("en-us", list(KEYWORDS))]


def read_wordlist(path: Path) -> list[str]:
    """The words of a /usr/share/dict list usable as speech: letters only, 2 to 14, no keyword, unique."""
    keywords = set(KEYWORDS)
    words = (line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines())
    return sorted({w for w in words if _WORD.match(w) and w.lower() not in keywords})


def espeak_voices() -> list[str]:
    """The language codes of espeak-ng's own voices (not MBROLA), sorted."""
    return sorted({language for language, file in espeak_voice_rows("") if not file.startswith("mb/")})


def espeak_variants() -> list[str]:
    """espeak-ng's voice variants (the names after '+'), sorted."""
    return sorted({file.split("/", 1)[1] for _, file in espeak_voice_rows("variant") if file.startswith("!v/")})


def language_of(voice: str) -> str:
    """A voice's language: the code before its first '-' ('en-gb-scotland' -> 'en')."""
    return voice.split("-", 1)[0]


def seed_of(*parts: str) -> int:
    """A stable seed from names."""
    return int(hashlib.sha1((SEED_SALT + "/".join(parts)).encode("utf-8")).hexdigest()[:12], 16)


def wordlist_for(voice: str, wordlists: dict[str, list[str]]) -> str:
    """The language whose word list `voice` reads: its own when there is one, else one chosen by seed."""
    if language_of(voice) in wordlists:
        return language_of(voice)
    languages = sorted(wordlists)
    return languages[seed_of(voice) % len(languages)]


@dataclass(frozen=True)
class Recording:
    """One generated recording: the voice spec that speaks it, its prosody, its SSML text and transcript."""

    voice: str  # language code
    kind: str  # "words" | "sentences"
    variant: str
    speed: int  # words per minute
    pitch: int  # 0..99
    wordlist: str  # the language of the word list read
    ssml: str
    transcript: str

    @property
    def spec(self) -> str:
        """The espeak-ng voice spec: language and variant ('de+klatt2')."""
        return f"{self.voice}+{self.variant}" if self.variant else self.voice

    @property
    def name(self) -> str:
        """The recording's path below the package's audio folder, without suffix."""
        return f"{self.voice}/{self.kind}"


def plan_recordings(
    voice: str, wordlists: dict[str, list[str]], variants: list[str], keys: list[str]
) -> list[Recording]:
    """The two recordings of one voice (none when its words cannot be spoken). Raises RuntimeError when
    espeak-ng cannot speak with the voice."""
    rng = np.random.default_rng(seed_of(voice))
    language = wordlist_for(voice, wordlists)
    pool = wordlists[language]
    short = [w for w in pool if len(w) <= SHORT_WORD_LETTERS] or pool
    candidates = [
        words[i]
        for words in (short, pool)  # half short words: one-word utterances are what keywords look like
        for i in rng.choice(len(words), size=min(len(words), 2 * WORDS_PER_RECORDING), replace=False)
    ]
    candidates = list(dict.fromkeys(candidates))
    ipa = phonemes(voice, candidates)
    words = [w for w, p in zip(candidates, ipa) if p and not sounds_like_keyword(phoneme_key(p), keys)]
    if len(words) < 10:
        return []
    recordings = []
    for kind in KINDS:
        variant = variants[int(rng.integers(len(variants)))] if variants else ""
        speed, pitch = int(rng.integers(120, 211)), int(rng.integers(20, 81))
        if kind == "words":
            chosen = [words[int(i)] for i in rng.choice(len(words), size=WORDS_PER_RECORDING)]
            pauses = rng.uniform(0.3, 1.5, size=len(chosen))
            ssml = "".join(f'{escape(w)}<break time="{int(p * 1000)}ms"/>' for w, p in zip(chosen, pauses))
            transcript = " ".join(chosen)
        else:
            sentences = []
            for _ in range(SENTENCES_PER_RECORDING):
                run_of = [words[int(i)] for i in rng.choice(len(words), size=int(rng.integers(3, 13)))]
                sentences.append(" ".join(run_of) + str(rng.choice([".", ".", "?", "!"])))
            ssml = "".join(f'{escape(s)}<break time="{int(rng.uniform(200, 900))}ms"/>' for s in sentences)
            transcript = " ".join(sentences)
        recordings.append(Recording(voice, kind, variant, speed, pitch, language, f"<speak>{ssml}</speak>", transcript))
    return recordings


def render(recording: Recording) -> bytes:
    """The recording as WAV bytes from espeak-ng (its own rate). Raises RuntimeError when espeak-ng fails."""
    voice = recording.spec
    result = subprocess.run(
        ["espeak-ng", "-m", "-v", voice, "-s", str(recording.speed), "-p", str(recording.pitch), "--stdout"],
        input=recording.ssml.encode("utf-8"),
        capture_output=True,
    )
    if result.returncode != 0 or len(result.stdout) < 1000:
        raise RuntimeError(f"espeak-ng -v {voice} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout
