"""The device side never imports torch or librosa (nor the other training-only packages).

A fresh interpreter with an import hook that makes those packages unimportable imports every
module of `audio_lstm.device`, loads the tiny model and classifies a generated WAV through the
CLI, in clip and in event mode.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

BLOCKED = ("torch", "librosa", "onnx", "matplotlib", "tqdm")  # the `train` extra; onnxruntime is allowed

SCRIPT = textwrap.dedent(
    """
    import importlib, io, json, pkgutil, sys
    from contextlib import redirect_stdout

    BLOCKED = set(sys.argv[3].split(","))
    attempts = []

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                attempts.append(name)
                raise ImportError(f"{name} is blocked: the device side must not need it")
            return None

    sys.meta_path.insert(0, Blocker())

    import audio_lstm.device
    names = sorted(m.name for m in pkgutil.iter_modules(audio_lstm.device.__path__))
    for name in names:
        importlib.import_module(f"audio_lstm.device.{name}")
    for name in ("audio_lstm.cli", "audio_lstm.device.features", "audio_lstm.device.labels", "audio_lstm.device.audio_io",
                 "audio_lstm.device.decisions"):
        importlib.import_module(name)

    from audio_lstm.cli import main as cli_main
    from audio_lstm.device.runtime import StreamingClassifier

    model, wav = sys.argv[1], sys.argv[2]
    classifier = StreamingClassifier(model)
    first = classifier.process(__import__("numpy").zeros(1600, "int16"))  # 7 frames: less than one group
    assert first.shape == (0, len(classifier.labels)) and classifier.flush().shape == (7, len(classifier.labels))

    results = {}
    for mode in (["--clip"], ["--threshold", "yes=0"]):
        out = io.StringIO()
        with redirect_stdout(out):
            code = cli_main(["classify", "--model", model, "--format", "jsonl", *mode, wav])
        results[mode[0]] = (code, [json.loads(line) for line in out.getvalue().splitlines()])

    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print(json.dumps({"modules": names, "results": results, "leaked": leaked, "attempts": attempts}))
    """  # noqa: E501
)


def test_device_runs_without_training_packages(tiny_model, tmp_path, write_wav) -> None:  # noqa: ANN001
    wav = write_wav(tmp_path / "speech like.wav", sample_rate=22050, seconds=1.5)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_model.int8), str(wav), ",".join(BLOCKED)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"runtime", "detector", "bundled", "classify", "listen", "model_file"} <= set(report["modules"])
    assert report["leaked"] == []
    clip_code, clip_records = report["results"]["--clip"]
    assert clip_code == 0 and len(clip_records) == 1 and clip_records[0]["file"] == str(wav)
    event_code, event_records = report["results"]["--threshold"]
    assert event_code == 0 and [r["label"] for r in event_records[:-1]] == ["yes"]
    assert event_records[-1] == {"file": str(wav), "summary": True, "events": 1, "duration_s": 1.5}


def test_the_microphone_daemon_loads_no_file_or_metadata_libraries() -> None:
    """`listen` without --input never reads files: soundfile (libsndfile), importlib.metadata and the
    training side stay unloaded (about 6 MB of resident memory on the board); `--version` still works."""
    code = textwrap.dedent(
        """
        import json, sys
        import audio_lstm.device.listen
        import audio_lstm.device.microphone
        loaded = sorted(m for m in ("soundfile", "importlib.metadata", "audio_lstm.commands", "audio_lstm.data")
                        if m in sys.modules)
        import audio_lstm
        print(json.dumps({"loaded": loaded, "version": audio_lstm.__version__}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert report["version"] and report["version"][0].isdigit()
