"""Output of `audio-lstm classify`: records as jsonl, csv (with header) or an aligned table.

Event mode ends each file with a summary record (also for a file without events), marked so that
it cannot be taken for an event: jsonl ``{"file", "summary": true, "events", "duration_s"}``; csv
a row with label ``(summary)``, start_s 0.0, end_s the duration and an empty score; table a line
``FILE  (summary)  N events, D s``.
"""

from __future__ import annotations

import csv
import json
from typing import TextIO

CLIP_FIELDS = ("file", "label", "score")
EVENT_FIELDS = ("file", "label", "start_s", "end_s", "score")
SUMMARY_LABEL = "(summary)"


def summary_record(file: str, events: int, duration_s: float) -> dict[str, object]:
    """The record that closes one file in event mode."""
    return {"file": file, "summary": True, "events": events, "duration_s": round(duration_s, 3)}


class RecordWriter:
    """Writes records as jsonl, csv (with header) or an aligned table, one line per record."""

    def __init__(self, fmt: str, fields: tuple[str, ...], stream: TextIO, widths: dict[str, int]) -> None:
        self.fmt, self.fields, self.stream = fmt, fields, stream
        self.widths = {name: max(widths.get(name, 0), len(name)) for name in fields}
        if "label" in fields and "start_s" in fields:
            self.widths["label"] = max(self.widths["label"], len(SUMMARY_LABEL))
        for name in ("start_s", "end_s"):
            self.widths[name] = max(self.widths[name], 9) if name in fields else 0
        if "score" in fields:
            self.widths["score"] = 6
        self._csv = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(fields)
        elif fmt == "table":
            stream.write(self._row({name: name for name in fields}) + "\n")

    def _row(self, values: dict[str, object]) -> str:
        cells = []
        for name in self.fields:
            value = values[name]
            if isinstance(value, float):
                text = f"{value:.4f}" if name == "score" else f"{value:.3f}"
                cells.append(text.rjust(self.widths[name]))
            elif name in ("start_s", "end_s", "score"):
                cells.append(str(value).rjust(self.widths[name]))
            else:
                cells.append(str(value).ljust(self.widths[name]))
        return "  ".join(cells).rstrip()

    def write(self, record: dict[str, object]) -> None:
        """One record: an event or clip result, or a `summary_record`."""
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(record) + "\n")
        elif record.get("summary"):
            self._write_summary(record)
        elif self._csv is not None:
            self._csv.writerow([record[name] for name in self.fields])
        else:
            self.stream.write(self._row(record) + "\n")

    def _write_summary(self, record: dict[str, object]) -> None:
        duration = float(record["duration_s"])  # type: ignore[arg-type]
        if self._csv is not None:
            self._csv.writerow([record["file"], SUMMARY_LABEL, 0.0, duration, ""])  # floats as events' are
            return
        file = str(record["file"]).ljust(self.widths["file"])
        label = SUMMARY_LABEL.ljust(self.widths["label"])
        count = record["events"]
        self.stream.write(f"{file}  {label}  {count} event{'' if count == 1 else 's'}, {duration:.3f} s\n")

    def flush(self) -> None:
        """Flush the stream (each file's records reach a pipe as soon as the file is done)."""
        self.stream.flush()
