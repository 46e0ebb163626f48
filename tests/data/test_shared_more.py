"""The folders added to the shared data: speech_commands_more, glass_break_more, measured rooms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from audio_lstm.data.readers import SHARED_SALT, read_shared_data, split_for_group
from audio_lstm.data.shared_more import measured_rirs, room_of


def write(path: Path, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), (0.1 * np.random.default_rng(0).standard_normal(int(seconds * 16000))), 16000)


def test_new_folders_are_read_and_split_by_speaker_source_and_room(tmp_path: Path) -> None:
    speakers = [f"{i:08x}" for i in range(40)]
    for speaker in speakers:
        write(tmp_path / "speech_commands" / "yes" / f"{speaker}_nohash_0.wav")
        write(tmp_path / "speech_commands_more" / "yes" / f"{speaker}_nohash_1.flac")
        write(tmp_path / "speech_commands_more" / "seven" / f"{speaker}_nohash_0.flac")
    for source in ("openclonk", "voxelibre"):
        for n in range(3):
            write(tmp_path / "glass_break_more" / "confident" / source / f"break{n}.ogg")
    write(tmp_path / "glass_break_more" / "uncertain" / "ice" / "icecrash.ogg")
    write(tmp_path / "glass_break_more" / "hard_negatives" / "ceramic" / "plate.wav")
    for room in ("room-z02", "room-z04", "room-207", "Hotel_Room112"):
        for mic in range(2):
            write(tmp_path / "rir" / "measured" / "db" / f"{room}-micstep-{mic}-spkstep-0.rir.wav", 0.2)

    corpus = read_shared_data(tmp_path)
    by_path = {clip.path.relative_to(tmp_path).as_posix(): clip for clip in corpus.clips}
    more_yes = [c for p, c in by_path.items() if p.startswith("speech_commands_more/yes/")]
    assert len(more_yes) == 40 and {c.label for c in more_yes} == {"yes"}
    assert {c.label for p, c in by_path.items() if "/seven/" in p} == {"_unknown_"}
    for speaker in speakers:  # one speaker, one split, in both folders
        splits = {c.split for c in corpus.clips if c.group == speaker}
        assert splits == {split_for_group(speaker, 15, 0, SHARED_SALT)}
    assert {c.split for c in corpus.clips if c.split} >= {"train", "validation"}
    glass = [c for c in corpus.clips if c.label == "glass_break"]
    assert len(glass) == 6 and all(len({c.split for c in glass if c.group == g}) == 1 for g in {c.group for c in glass})
    assert not any("uncertain" in p for p in by_path)
    assert by_path["glass_break_more/hard_negatives/ceramic/plate.wav"].label == "_silence_"
    rooms = {room_of(path) for path in corpus.rir_files}
    assert rooms and all(p in measured_rirs(tmp_path, "train") for p in corpus.rir_files)
    validation_rooms = {room_of(path) for path in measured_rirs(tmp_path, "validation")}
    assert not rooms & validation_rooms  # a room is heard in one split only
    assert room_of(Path("real.rir.room-z02-micstep-3-spkstep-3.wav")) == "room-z02"
