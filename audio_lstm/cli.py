"""`audio-lstm COMMAND ...`: dispatch to each command's own `main(argv)`.

Commands import lazily, so the device commands (classify, listen, serve) never load torch. Before a
device command's module (and so numpy) is imported, numpy's BLAS/OpenMP pools are limited to one
thread unless the user set their variables: the device does small matrix products, one stream at a
time, and `--threads` counts onnxruntime's threads only.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("audio_lstm.commands.train", "train a model on data folders (needs the train extra)"),
    "evaluate": ("audio_lstm.commands.evaluate", "clip accuracy of a checkpoint or ONNX model on a data folder"),
    "export": ("audio_lstm.commands.export", "checkpoint -> streaming fp32 + int8 ONNX (needs the train extra)"),
    "classify": ("audio_lstm.device.classify", "classify audio files: clips, or events in long recordings"),
    "listen": ("audio_lstm.device.listen", "live microphone daemon that prints events (--input: a file or a pipe)"),
    "serve": ("audio_lstm.device.serve", "Wyoming wake-word server for Home Assistant (needs the wyoming extra)"),
    "mine": ("audio_lstm.commands.mine", "windows of real negative audio where a model nearly fires (hard negatives)"),
    "tts": ("audio_lstm.commands.tts", "generated speech for training: every offline TTS voice at varied prosody"),
    "glass": ("audio_lstm.commands.glass", "synthetic breaking glass for training"),
    "audit-unknown": ("audio_lstm.commands.audit_unknown", "list the shared unknown_words clips that are keywords"),
    "data": ("audio_lstm.commands.data", "data caches: `data negatives` (Debian audio), `data speech` (espeak-ng)"),
}
DEVICE_COMMANDS = ("classify", "listen", "serve")
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
TRAINING_MODULES = ("torch", "librosa", "onnx", "matplotlib", "tqdm")  # the `train` extra


def usage() -> str:
    """The top-level help text."""
    lines = ["usage: audio-lstm COMMAND [ARGS...]", "       audio-lstm --version", "", "commands:"]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "`audio-lstm COMMAND --help` describes each command."]
    return "\n".join(lines)


def import_single_threaded(module_name: str) -> ModuleType:
    """Import `module_name` with the BLAS thread variables the user left unset set to 1.

    The libraries read them once, when they load; they are removed again afterwards, so that
    processes the command starts (`listen --exec`) inherit the user's environment, not ours.
    """
    added = [name for name in BLAS_THREAD_VARIABLES if name not in os.environ]
    os.environ.update({name: "1" for name in added})
    try:
        return importlib.import_module(module_name)
    finally:
        for name in added:
            os.environ.pop(name, None)


def _needs_training_extra(command: str, error: ModuleNotFoundError) -> bool:
    if error.name not in TRAINING_MODULES:
        return False
    print(
        f"audio-lstm {command}: needs {error.name}; install the training extra: "
        f"pip install torch==2.13.0 && pip install 'audio-lstm[train]'",
        file=sys.stderr,
    )
    return True


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `audio-lstm` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from audio_lstm import __version__

        print(f"audio-lstm {__version__}")
        return 0
    command = argv[0]
    if command not in COMMANDS:
        print(f"audio-lstm: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name = COMMANDS[command][0]
    try:  # the training commands import torch & co. at import time or inside main(): either way, one line
        if command in DEVICE_COMMANDS:
            module = import_single_threaded(module_name)
        else:
            module = importlib.import_module(module_name)
        return int(module.main(argv[1:]) or 0)
    except ModuleNotFoundError as error:
        if _needs_training_extra(command, error):
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
