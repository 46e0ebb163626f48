"""`audio-lstm classify` on hostile input: bounded memory, odd names, broken files; CLI robustness.

Memory is measured, not assumed: the runs that could grow run in a subprocess (with an address-space
cap, so that a regression fails instead of swapping the machine) that reports its peak RSS.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import test_signal

from audio_lstm.device.classify import main

PROG = "audio-lstm classify: "
ADDRESS_SPACE_CAP = 4 << 30  # bytes; the runs below need about 0.3 GB
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# Runs `audio-lstm ARGS...` through the console script's own function and reports what it saw.
RUNNER = textwrap.dedent(
    """
    import json, os, resource, sys
    from audio_lstm.cli import main
    code = main([os.fsdecode(arg) for arg in sys.argv[2:]])
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    report = {"code": code, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              "threads": int(status["Threads"]), "numpy": "numpy" in sys.modules,
              "env": {name: os.environ.get(name) for name in sys.argv[1].split(",")}}
    print(json.dumps(report), file=sys.stderr)
    """
)


def run_cli(*args: str | bytes | Path, env: dict[str, str] | None = None) -> tuple[dict, str, list[str]]:
    """`audio-lstm ARGS` in a fresh interpreter: (report, stdout, stderr lines without the report)."""
    base = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))

    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, ",".join(THREAD_VARIABLES), *map(os.fsencode, args)],
        capture_output=True,
        timeout=300,
        env={**base, **(env or {})},
        preexec_fn=cap,
    )
    err = proc.stderr.decode("utf-8", "backslashreplace").splitlines()
    assert proc.returncode == 0 and err and err[-1].startswith("{"), err[-20:]
    return json.loads(err[-1]), proc.stdout.decode(), [line for line in err[:-1] if line]


def run_main(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, list[str]]:
    code = main([os.fsdecode(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, [line for line in captured.err.splitlines() if line]


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line]


def problems(err: list[str]) -> list[str]:
    """Error lines, less the expected note that an 8 kHz file lacks the upper band."""
    return [line for line in err if ": warning: recorded at 8000 Hz" not in line]


def events_only(records: list[dict]) -> list[dict]:
    return [r for r in records if not r.get("summary")]


def long_wav(path: Path, minutes: float) -> Path:
    """A long, small file: 8 kHz unsigned 8-bit noise (0.48 MB per minute)."""
    rng = np.random.default_rng(0)
    with soundfile.SoundFile(str(path), "w", samplerate=8000, channels=1, subtype="PCM_U8") as handle:
        for _ in range(int(minutes)):
            handle.write((0.05 * rng.standard_normal(8000 * 60)).astype(np.float32))
    return path


# -- 1. bounded memory ----------------------------------------------------------------------------


def test_clip_mode_refuses_long_file_from_header(tiny_model, tmp_path, write_wav) -> None:  # noqa: ANN001
    """--clip on a 30 min file: one line naming the file and the limit, and no more memory than a 1 s clip."""
    short = write_wav(tmp_path / "short.wav", sample_rate=8000)
    long = long_wav(tmp_path / "long.wav", minutes=30)
    small, out, err = run_cli("classify", "--model", tiny_model.int8, "--clip", short)
    assert small["code"] == 0 and len(jsonl(out)) == 1 and problems(err) == []
    big, out, err = run_cli("classify", "--model", tiny_model.int8, "--clip", short, long)
    assert big["code"] == 1 and [r["file"] for r in jsonl(out)] == [str(short)]
    err = problems(err)
    assert len(err) == 1 and err[0].startswith(f"{PROG}{long}: ") and "1800.0 s" in err[0]
    assert "at most 30 s" in err[0] and "without --clip" in err[0]
    assert big["maxrss_kb"] - small["maxrss_kb"] < 40 * 1024, (small, big)


def test_event_mode_memory_stays_bounded(tiny_model, tmp_path, write_wav) -> None:  # noqa: ANN001
    short = write_wav(tmp_path / "short.wav", sample_rate=8000)
    long = long_wav(tmp_path / "long.wav", minutes=20)
    small, out, _ = run_cli("classify", "--model", tiny_model.int8, short)
    assert small["code"] == 0
    big, out, err = run_cli("classify", "--model", tiny_model.int8, long)
    assert big["code"] == 0 and problems(err) == []
    summary = jsonl(out)[-1]
    assert summary["summary"] is True and summary["duration_s"] == pytest.approx(1200.0, abs=0.01)
    assert big["maxrss_kb"] - small["maxrss_kb"] < 40 * 1024, (small, big)


@pytest.mark.parametrize("mode", [["--clip"], []], ids=["clip", "events"])
def test_absurd_sample_rates_are_refused(tiny_model, tmp_path, write_wav, mode) -> None:  # noqa: ANN001
    """A 32 KB WAV whose header says 1 Hz (16000 s of audio) once took 19 GB; now one line, no reading."""
    one_hz = tmp_path / "one_hz.wav"
    soundfile.write(str(one_hz), (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32), 1)
    fast = tmp_path / "fast.wav"
    soundfile.write(str(fast), np.zeros(4000, np.float32), 4_000_000)
    good = write_wav(tmp_path / "good.wav")
    report, out, err = run_cli("classify", "--model", tiny_model.int8, *mode, one_hz, fast, good)
    assert report["code"] == 1 and str(good) in {r["file"] for r in jsonl(out)}
    assert len(err) == 2, err
    assert err[0].startswith(f"{PROG}{one_hz}: ") and "1 Hz" in err[0]
    assert err[1].startswith(f"{PROG}{fast}: ") and "4000000 Hz" in err[1]
    assert report["maxrss_kb"] < 400 * 1024


# -- 2. one bad file name does not abort a batch --------------------------------------------------


def test_undecodable_file_names_do_not_abort_the_batch(tiny_model, tmp_path, write_wav) -> None:  # noqa: ANN001
    folder = os.fsencode(tmp_path / "batch")
    os.mkdir(folder)
    good1 = write_wav(Path(os.fsdecode(os.path.join(folder, b"a_good.wav"))))
    odd = os.path.join(folder, b"bad\xff.ogg")
    soundfile.write(odd, test_signal(1.0, 16000), 16000, format="OGG", subtype="VORBIS")
    broken = os.path.join(folder, b"broken\xfe\n.wav")
    with open(broken, "wb") as handle:
        handle.write(b"not audio at all\n" * 50)
    good2 = write_wav(Path(os.fsdecode(os.path.join(folder, b"z_good.wav"))))
    shown_odd = os.fsdecode(folder) + "/bad\\xff.ogg"
    shown_broken = os.fsdecode(folder) + "/broken\\xfe\\n.wav"
    for mode in (["--clip"], []):
        for fmt in ("jsonl", "table", "csv"):
            report, out, err = run_cli("classify", "--model", tiny_model.int8, "--format", fmt, *mode, folder)
            assert report["code"] == 1, (mode, fmt, err)
            assert len(err) == 1 and err[0].startswith(f"{PROG}{shown_broken}: "), err
            shown = {r["file"] for r in jsonl(out)} if fmt == "jsonl" else out
            for name in (str(good1), shown_odd, str(good2)):
                assert name in shown, (mode, fmt, name, out)
    # named one by one on the command line (bytes argv), the same
    report, out, err = run_cli("classify", "--model", tiny_model.int8, "--clip", good1, odd, broken, good2)
    assert report["code"] == 1 and [r["file"] for r in jsonl(out)] == [str(good1), shown_odd, str(good2)]
    assert len(err) == 1 and shown_broken in err[0]


def test_any_per_file_failure_is_one_line(tiny_model, tmp_path, write_wav, capsys, monkeypatch) -> None:  # noqa: ANN001
    from audio_lstm.device import classify

    files = [write_wav(tmp_path / f"{name}.wav") for name in ("one", "two", "three")]
    real = classify.classify_clip

    def flaky(classifier, path, warn):  # noqa: ANN001, ANN202
        if path.name == "two.wav":
            raise KeyError("something nobody expected")
        return real(classifier, path, warn)

    monkeypatch.setattr(classify, "classify_clip", flaky)
    code, out, err = run_main(capsys, "--model", tiny_model.int8, "--clip", *files)
    assert code == 1 and [r["file"] for r in jsonl(out)] == [str(files[0]), str(files[2])]
    assert len(err) == 1 and err[0].startswith(f"{PROG}{files[1]}: ") and "KeyError" in err[0]


# -- 3. smaller ones ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [["--clip"], []], ids=["clip", "events"])
def test_nan_and_inf_samples_warn_once(tiny_model, tmp_path, capsys, mode) -> None:  # noqa: ANN001
    audio = test_signal(25.0, 16000)
    audio[100:200] = np.nan
    audio[16000 * 12] = np.inf
    audio[16000 * 22] = -3e38
    path = tmp_path / "nan.wav"
    soundfile.write(str(path), audio, 16000, subtype="FLOAT")
    if mode == ["--clip"]:
        path_short = tmp_path / "nan_short.wav"
        soundfile.write(str(path_short), audio[: 16000 * 3], 16000, subtype="FLOAT")
        path = path_short
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run_main(capsys, "--model", tiny_model.int8, *mode, path)
    assert [str(w.message) for w in caught] == []
    assert code == 0 and len(err) == 1 and err[0].startswith(f"{PROG}{path}: warning: ") and "NaN" in err[0]
    assert jsonl(out)


def test_truncated_wav_warns(tiny_model, tmp_path, write_wav, capsys) -> None:  # noqa: ANN001
    full = write_wav(tmp_path / "full.wav", seconds=2.0)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    for mode in (["--clip"], []):
        code, out, err = run_main(capsys, "--model", tiny_model.int8, *mode, cut)
        assert code == 0 and len(err) == 1 and err[0].startswith(f"{PROG}{cut}: warning: "), err
        assert "header" in err[0] and jsonl(out)


def test_clip_with_threshold_is_a_usage_error(tiny_model, tmp_path, write_wav, capsys) -> None:  # noqa: ANN001
    clip = write_wav(tmp_path / "a.wav")
    code, out, err = run_main(capsys, "--model", tiny_model.int8, "--clip", "--threshold", "yes=0.5", clip)
    assert code == 2 and out == "" and any("event mode" in line and "--threshold" in line for line in err)


def test_directory_scan_includes_mp3(tiny_model, tmp_path, write_wav, capsys) -> None:  # noqa: ANN001
    from audio_lstm.device.audio_io import AUDIO_SUFFIXES

    mp3 = tmp_path / "scan" / "song.mp3"
    mp3.parent.mkdir()
    soundfile.write(str(mp3), test_signal(1.0, 16000), 16000, format="MP3")
    code, out, err = run_main(capsys, "--model", tiny_model.int8, "--clip", mp3.parent)
    assert code == 0 and err == [] and [r["file"] for r in jsonl(out)] == [str(mp3)]
    assert ".mp3" in AUDIO_SUFFIXES


def test_special_files_are_not_called_empty(tiny_model, tmp_path, write_wav, capsys) -> None:  # noqa: ANN001
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    garbage = tmp_path / "noise.wav"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    urandom = Path("/dev/urandom")
    good = write_wav(tmp_path / "good.wav")
    for mode in (["--clip"], []):
        code, out, err = run_main(capsys, "--model", tiny_model.int8, *mode, fifo, urandom, garbage, good)
        assert code == 1 and str(good) in {r["file"] for r in jsonl(out)}
        assert len(err) == 3 and not any("empty" in line for line in err), err
        assert err[0].startswith(f"{PROG}{fifo}: ") and "not a regular audio file" in err[0]
        assert err[1].startswith(f"{PROG}{urandom}: ") and "not a regular audio file" in err[1]
        assert err[2].startswith(f"{PROG}{garbage}: ") and "cannot decode" in err[2]


def test_event_mode_summarises_every_file(tiny_model, tmp_path, write_wav, capsys) -> None:  # noqa: ANN001
    """A file without events still gets a record: its summary; files with events get one after them."""
    from audio_lstm.device.runtime import StreamingClassifier

    quiet = write_wav(tmp_path / "quiet.wav", audio=np.zeros(16000 * 2, np.float32))
    busy = write_wav(tmp_path / "busy.wav", seconds=3.0)
    labels = [label for label in StreamingClassifier(tiny_model.int8).labels if not label.startswith("_")]
    never = [arg for label in labels for arg in ("--threshold", f"{label}=1")]
    code, out, err = run_main(capsys, "--model", tiny_model.int8, *never, quiet)
    assert code == 0 and err == []
    assert jsonl(out) == [{"file": str(quiet), "summary": True, "events": 0, "duration_s": 2.0}]
    code, out, err = run_main(capsys, "--model", tiny_model.int8, "--threshold", "yes=0", busy)
    records = jsonl(out)
    assert code == 0 and err == [] and len(records) >= 2
    assert all(list(r) == ["file", "label", "start_s", "end_s", "score"] for r in records[:-1])
    assert records[-1] == {"file": str(busy), "summary": True, "events": len(records) - 1, "duration_s": 3.0}
    code, out, _ = run_main(capsys, "--model", tiny_model.int8, *never, "--format", "table", quiet)
    assert code == 0 and out.splitlines()[1].split() == [str(quiet), "(summary)", "0", "events,", "2.000", "s"]
    code, out, _ = run_main(capsys, "--model", tiny_model.int8, *never, "--format", "csv", quiet)
    assert code == 0 and out.splitlines()[1].split(",") == [str(quiet), "(summary)", "0.0", "2.0", ""]


# -- 4. one BLAS thread unless asked --------------------------------------------------------------


def test_classify_runs_numpy_single_threaded(tiny_model, tmp_path, write_wav) -> None:  # noqa: ANN001
    clip = write_wav(tmp_path / "a.wav")
    args = ("classify", "--model", tiny_model.int8, "--clip", clip)
    plain, _, _ = run_cli(*args)
    pinned, _, _ = run_cli(*args, env={name: "1" for name in THREAD_VARIABLES})
    assert plain["code"] == pinned["code"] == 0 and plain["numpy"]
    assert plain["threads"] == pinned["threads"], (plain, pinned)
    # what the command set for its own imports does not leak to child processes (listen --exec)
    assert plain["env"] == {name: None for name in THREAD_VARIABLES}
    # a user's own setting is kept
    mine, _, _ = run_cli(*args, env={"OPENBLAS_NUM_THREADS": "2"})
    assert mine["env"]["OPENBLAS_NUM_THREADS"] == "2"


HEAP_CHURN = """
import resource, sys
import numpy as np
from audio_lstm import cli
if len(sys.argv) > 1:
    assert cli.main(["classify", "--model", sys.argv[1], "--format", "jsonl", sys.argv[2]]) == 0
block = np.zeros(160000, np.float32)  # 10 ms of work per 10 s block, as event mode allocates it
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(100):
    wide = block.astype(np.float64) * 2.0
    half = (np.sqrt(np.abs(wide)) + 1.0)[: len(wide) // 2].astype(np.float32)
    del wide, half
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_device_commands_reuse_freed_memory_instead_of_faulting_it_in_again(tiny_model, tmp_path, write_wav) -> None:  # noqa: ANN001
    clip = write_wav(tmp_path / "a.wav")

    def page_faults(*argv: str) -> int:
        done = subprocess.run([sys.executable, "-c", HEAP_CHURN, *argv], capture_output=True, text=True, check=True)
        return int(done.stdout.splitlines()[-1])

    plain, after_classify = page_faults(), page_faults(str(tiny_model.int8), str(clip))
    assert after_classify * 10 < plain, (plain, after_classify)  # each block's arrays came from fresh pages


def test_thread_limit_is_set_before_numpy_loads(monkeypatch) -> None:  # noqa: ANN001
    """What `audio-lstm classify` sets, seen from inside the command's import."""
    code = textwrap.dedent(
        """
        import os, sys
        from audio_lstm import cli
        seen = {}
        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name == "numpy" and not seen:
                    seen.update({k: os.environ.get(k) for k in cli.BLAS_THREAD_VARIABLES})
                return None
        sys.meta_path.insert(0, Spy())
        cli.main(["classify", "--help"])
        print(seen)
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str({name: "1" for name in THREAD_VARIABLES})


# -- 5. torch-needing commands without torch ------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["train", "DATA", "--out", "RUN"], ["export", "CKPT"], ["evaluate", "CKPT", "DATA"]],
    ids=["train", "export", "evaluate"],
)
def test_training_commands_without_torch_say_so(tmp_path, command) -> None:  # noqa: ANN001
    blocker = tmp_path / "no_torch"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    (tmp_path / "model.pt").write_bytes(b"not really a checkpoint")
    (tmp_path / "data").mkdir()
    names = {"DATA": str(tmp_path / "data"), "RUN": str(tmp_path / "run"), "CKPT": str(tmp_path / "model.pt")}
    env = dict(os.environ, PYTHONPATH=str(blocker))
    proc = subprocess.run(
        [sys.executable, "-m", "audio_lstm.cli", *[names.get(a, a) for a in command]],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    lines = [line for line in proc.stderr.splitlines() if line]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert lines == [
        f"audio-lstm {command[0]}: needs torch; install the training extra: "
        "pip install torch==2.13.0 && pip install 'audio-lstm[train]'"
    ]
