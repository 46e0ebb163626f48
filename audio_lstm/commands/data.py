"""`audio-lstm data negatives`: fill the cache of real negative audio from Debian's packages (and
`audio-lstm data speech`: generated negative speech, audio_lstm.commands.data_speech).

For each package (default: debian_audio.PACKAGES): `apt-get download` it into the cache's debs/ (or take
it from --from-debs DIR), extract it with `dpkg-deb -x`, convert every audio file to 16 kHz mono FLAC and
add its row to the manifest (audio_lstm.data.negatives_cache describes the cache, the split and the reader).
Resumable: a downloaded package is not downloaded again, a converted file is not converted again, a
package done (packages.json, under the current RULES_VERSION) is skipped, and the manifest is written
after each package, every 30 s and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import soundfile
from tqdm import tqdm

from audio_lstm.commands import data_speech
from audio_lstm.commands.base import UsageError
from audio_lstm.data.debian_audio import (
    PACKAGES,
    RULES_VERSION,
    AudioSource,
    Description,
    PackageFiles,
    convert_to_flac,
    describe,
    is_transcript_package,
    read_transcripts,
    transcript_package,
)
from audio_lstm.data.debian_packages import (
    PackageError,
    deb_fields,
    download_deb,
    extract_deb,
    find_debs,
    read_licence,
)
from audio_lstm.data.negatives_cache import (
    KINDS,
    SPLITS,
    ManifestRow,
    default_negatives_dir,
    keyword_flag,
    read_manifest,
    read_negatives,
    summarize,
    write_manifest,
)

PROG = "audio-lstm data"
STATE_NAME = "packages.json"
SAVE_EVERY_SECONDS = 30.0
_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


@dataclass
class PackageCounts:
    """What one package's update did."""

    version: str
    rules: int = RULES_VERSION
    converted: int = 0
    kept: int = 0
    failed: int = 0
    duplicates: int = 0


def build_parser() -> argparse.ArgumentParser:
    """Arguments of `audio-lstm data`."""
    parser = argparse.ArgumentParser(prog=PROG, description="Build data caches.")
    commands = parser.add_subparsers(dest="what", required=True, metavar="WHAT")
    negatives = commands.add_parser(
        "negatives",
        help="real negative audio from Debian's packages",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    negatives.add_argument("--cache", type=Path, help=f"cache folder (default: {default_negatives_dir()})")
    negatives.add_argument(
        "--from-debs", type=Path, metavar="DIR", help="use the .deb files in DIR instead of downloading"
    )
    negatives.add_argument("--packages", nargs="+", metavar="NAME", help="only these packages")
    negatives.add_argument("--no-progress", action="store_true", help="no progress bars")
    speech = commands.add_parser(
        "speech",
        help="generated negative speech (every espeak-ng voice) into the same cache",
        description=data_speech.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    speech.add_argument("--cache", type=Path, help=f"cache folder (default: {default_negatives_dir()})")
    speech.add_argument(
        "--from-debs", type=Path, metavar="DIR", help="take the word lists' .deb files from DIR instead of downloading"
    )
    speech.add_argument("--voices", nargs="+", metavar="VOICE", help="only these espeak-ng voices (default: all)")
    speech.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _write_json_atomically(path: Path, value: object) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(value, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _warn(message: str) -> None:
    tqdm.write(f"warning: {message}", file=sys.stderr)


def _read_state(cache: Path) -> dict[str, dict]:
    path = cache / STATE_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: unreadable ({error}); delete it to convert every package again") from None


def _deb_for(package: str, debs: dict[str, Path], debs_dir: Path, from_debs: Path | None) -> Path:
    if package in debs:
        return debs[package]
    if from_debs is not None:
        raise UsageError(f"--from-debs {from_debs}: holds no .deb of {package}")
    debs[package] = download_deb(package, debs_dir)
    return debs[package]


def _manifest_row(
    package: str,
    version: str,
    licence: str,
    source: AudioSource,
    relative: str,
    duration: float,
    description: Description,
) -> ManifestRow:
    who = {"speech": description.speaker, "music": source.source_file}.get(description.kind, source.folder)
    return {
        "path": relative,
        "package": package,
        "version": version,
        "source_file": source.source_file,
        "licence": licence,
        "kind": description.kind,
        "language": description.language,
        "speaker": description.speaker,
        "group": f"{package}/{description.kind}/{who}",
        "duration_s": f"{duration:.3f}",
        "transcript": description.transcript,
        "contains_keyword": keyword_flag(description.transcript),
        "split": "",
    }


def update_package(
    package: str, cache: Path, debs: dict[str, Path], from_debs: Path | None, rows: list[ManifestRow], progress: bool
) -> tuple[PackageCounts, list[ManifestRow]]:
    """Convert the files of one package that are not converted yet; returns its counts and all rows."""
    deb = _deb_for(package, debs, cache / "debs", from_debs)
    version = deb_fields(deb)[1]
    work = cache / "work"
    shutil.rmtree(work, ignore_errors=True)
    extract_deb(deb, work / package)
    companion = transcript_package(package)
    transcripts: dict[str, str] = {}
    if companion:
        extract_deb(_deb_for(companion, debs, cache / "debs", from_debs), work / companion)
        transcripts = read_transcripts(work / companion)
    licence = read_licence(work / package, package)
    others = [row for row in rows if row["package"] != package]
    previous = {row["source_file"]: row for row in rows if row["package"] == package and row["version"] == version}
    counts, new_rows, seen = PackageCounts(version), [], set()
    files = PackageFiles(work / package)
    for problem in files.unreadable:
        _warn(f"{package}: {problem}")
    last_save = time.monotonic()
    try:
        for source in tqdm(files.sources, desc=package, unit="file", disable=not progress, file=sys.stderr):
            try:
                data = files.read(source)
            except (zipfile.BadZipFile, OSError, ValueError) as error:
                _warn(f"{package}: {source.source_file}: cannot read ({error})")
                counts.failed += 1
                continue
            digest = hashlib.sha1(data).digest()
            if digest in seen:
                counts.duplicates += 1
                continue
            seen.add(digest)
            relative = f"audio/{package}/{source.source_file}.flac"
            old = previous.get(source.source_file)
            if old is not None and (cache / relative).is_file():
                duration = float(old["duration_s"])
                counts.kept += 1
            else:
                try:
                    duration = convert_to_flac(data, cache / relative)
                except (RuntimeError, ValueError, soundfile.SoundFileError) as error:
                    _warn(f"{package}: {source.source_file}: cannot decode ({error})")
                    counts.failed += 1
                    continue
                counts.converted += 1
            description = describe(package, source, duration, transcripts)
            new_rows.append(_manifest_row(package, version, licence, source, relative, duration, description))
            if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                write_manifest(cache, others + new_rows)
                last_save = time.monotonic()
    except KeyboardInterrupt:
        write_manifest(cache, others + new_rows)  # keep what this package converted so far
        raise
    files.close()
    shutil.rmtree(work, ignore_errors=True)
    return counts, write_manifest(cache, others + new_rows)


def _is_done(package: str, state: dict[str, dict], debs: dict[str, Path], rows: list[ManifestRow], cache: Path) -> bool:
    entry = state.get(package)
    if not entry or entry.get("rules") != RULES_VERSION:
        return False
    if package in debs and deb_fields(debs[package])[1] != entry["version"]:
        return False
    return all((cache / row["path"]).is_file() for row in rows if row["package"] == package)


def _print_summary(cache: Path, rows: list[ManifestRow]) -> None:
    hours = summarize(read_negatives(cache))
    excluded = sum(row["contains_keyword"] == "1" for row in rows)
    print(
        f"\n{cache / 'manifest.tsv'}: {len(rows)} files; hours without the {excluded} files whose "
        f"transcript holds a keyword:"
    )
    print(f"  {'kind':<10}" + "".join(f"{split:>12}" for split in SPLITS))
    for kind in [kind for kind in KINDS if kind in hours] + sorted(set(hours) - set(KINDS)):
        print(f"  {kind:<10}" + "".join(f"{hours[kind].get(split, 0.0):>12.2f}" for split in SPLITS))
    totals = [sum(per_split.get(split, 0.0) for per_split in hours.values()) for split in SPLITS]
    print(f"  {'total':<10}" + "".join(f"{total:>12.2f}" for total in totals))


def run_negatives(cache: Path | None, from_debs: Path | None, packages: list[str] | None, progress: bool) -> int:
    """Fill the negatives cache; returns the exit code (1 when a package failed)."""
    cache = default_negatives_dir() if cache is None else cache
    if from_debs is not None and not from_debs.is_dir():
        raise UsageError(f"--from-debs {from_debs}: no such folder")
    for name in packages or []:
        if not _PACKAGE_NAME.match(name):
            raise UsageError(f"--packages: {name!r} is not a Debian package name")
    if shutil.which("dpkg-deb") is None:
        raise UsageError("dpkg-deb not found: this command needs Debian's dpkg (a Debian-based system)")
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--cache {cache}: cannot create it ({error.strerror})") from None
    debs_dir = from_debs if from_debs is not None else cache / "debs"
    try:
        debs = find_debs(debs_dir) if debs_dir.is_dir() else {}
        rows = read_manifest(cache)
    except (PackageError, ValueError) as error:
        raise UsageError(str(error)) from None
    if packages is None:
        packages = [name for name in debs if not is_transcript_package(name)] if from_debs else list(PACKAGES)
        if not packages:
            raise UsageError(f"--from-debs {from_debs}: holds no .deb with audio")
    audio_packages = list(dict.fromkeys(name for name in packages if not is_transcript_package(name)))
    if from_debs is not None:
        needed = [name for package in audio_packages for name in (package, transcript_package(package)) if name]
        missing = [name for name in needed if name not in debs]
        if missing:
            raise UsageError(f"--from-debs {from_debs}: holds no .deb of {', '.join(missing)}")
    state = _read_state(cache)
    started, failed, done = time.monotonic(), [], 0
    for package in audio_packages:
        if _is_done(package, state, debs, rows, cache):
            continue
        try:
            counts, rows = update_package(package, cache, debs, from_debs, rows, progress)
        except PackageError as error:
            print(f"{package}: {error}", file=sys.stderr)
            failed.append(package)
            continue
        done += 1
        state[package] = asdict(counts)
        _write_json_atomically(cache / STATE_NAME, state)
        print(
            f"{package} {counts.version}: {counts.converted} converted, {counts.kept} kept, "
            f"{counts.failed} failed to decode, {counts.duplicates} duplicates skipped",
            flush=True,
        )
    if not done and not failed:
        print(f"nothing left to do: every package is converted already ({cache})")
    else:
        print(f"took {time.monotonic() - started:.0f} s")
    if rows:
        _print_summary(cache, rows)
    if failed:
        print(f"failed: {', '.join(failed)} (see the messages above)", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `audio-lstm data`."""
    args = build_parser().parse_args(argv)
    progress = sys.stderr.isatty() and not args.no_progress
    try:
        if args.what == "speech":
            return data_speech.run_speech(args.cache, args.from_debs, args.voices, progress)
        return run_negatives(args.cache, args.from_debs, args.packages, progress)
    except UsageError as error:
        print(f"{PROG} {args.what}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{PROG} {args.what}: interrupted; run it again to go on where it stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
