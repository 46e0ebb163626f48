"""Debian packages as a source of files, without root: `apt-get download`, `dpkg-deb -x`, the licence.

Used by `audio-lstm data negatives` (audio in packages) and `audio-lstm data speech` (word lists).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

APT_HINT = "run `apt-get update` once (as root) and try again"


class PackageError(Exception):
    """A package that cannot be downloaded, extracted or read; the message names it."""


def _run(command: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise PackageError(lines[-1] if lines else f"{command[0]} exited with {done.returncode}")
    return done.stdout


def deb_fields(deb: Path) -> tuple[str, str]:
    """(package, version) from a .deb's control file."""
    try:
        package, version = _run(["dpkg-deb", "-f", str(deb), "Package", "Version"]).splitlines()[:2]
    except (PackageError, ValueError) as error:
        raise PackageError(f"{deb}: not a readable .deb ({error})") from None
    return package.split(":", 1)[1].strip(), version.split(":", 1)[1].strip()


def find_debs(folder: Path) -> dict[str, Path]:
    """The .deb files in a folder by package name (the newest file wins when a package has several)."""
    found: dict[str, Path] = {}
    for deb in sorted(folder.glob("*.deb"), key=lambda path: path.stat().st_mtime):
        found[deb_fields(deb)[0]] = deb
    return found


def download_deb(package: str, debs_dir: Path) -> Path:
    """`apt-get download PACKAGE` into debs_dir (by way of debs_dir/.partial, so a broken download never
    looks finished); returns the .deb. Raises PackageError naming the package, with the apt-get update hint."""
    partial = debs_dir / ".partial"
    partial.mkdir(parents=True, exist_ok=True)
    for leftover in partial.glob("*.deb"):
        leftover.unlink()
    try:
        _run(["apt-get", "download", "-q", package], cwd=partial)
    except (PackageError, OSError) as error:
        raise PackageError(f"apt-get download {package} failed: {error}; {APT_HINT}") from None
    debs = sorted(partial.glob("*.deb"))
    if not debs:
        raise PackageError(f"apt-get download {package} left no .deb; {APT_HINT}")
    target = debs_dir / debs[0].name
    os.replace(debs[0], target)
    return target


def extract_deb(deb: Path, dest: Path) -> None:
    """`dpkg-deb -x DEB DEST`."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        _run(["dpkg-deb", "-x", str(deb), str(dest)])
    except PackageError as error:
        raise PackageError(f"dpkg-deb -x {deb.name} failed: {error}") from None


def read_licence(root: Path, package: str) -> str:
    """The first non-empty License: field of usr/share/doc/PACKAGE/copyright, or 'unknown'."""
    copyright_file = root / "usr" / "share" / "doc" / package / "copyright"
    if copyright_file.is_file():
        text = copyright_file.read_text(encoding="utf-8", errors="replace")
        match = re.search(r"^License:[ \t]*(\S[^\n]*)", text, re.MULTILINE)
        if match:
            return match.group(1).strip()
    return "unknown"
