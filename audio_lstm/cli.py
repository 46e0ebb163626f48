"""`audio-lstm COMMAND ...`: dispatch to each command's own `main(argv)`.

Commands import lazily, so the device commands (classify, listen) never load torch.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("audio_lstm.train_command", "train a model on data folders (needs the train extra)"),
    "evaluate": ("audio_lstm.evaluate", "clip accuracy of a checkpoint or ONNX model on a data folder"),
    "export": ("audio_lstm.export.command", "checkpoint -> streaming fp32 + int8 ONNX (needs the train extra)"),
    "classify": ("audio_lstm.device.classify", "classify audio files: clips, or events in long recordings"),
    "listen": ("audio_lstm.device.listen", "live microphone daemon that prints events"),
    "data": ("audio_lstm.data_command", "build data caches: `data negatives` (real negatives from Debian's packages)"),
}


def usage() -> str:
    lines = ["usage: audio-lstm COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "`audio-lstm COMMAND --help` describes each command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `audio-lstm` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        print(f"audio-lstm: unknown command {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name = COMMANDS[argv[0]][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name in ("torch", "librosa", "onnx", "matplotlib"):
            print(f"audio-lstm {argv[0]}: needs {error.name}; install the training extra: "
                  f"pip install torch==2.13.0 && pip install 'audio-lstm[train]'", file=sys.stderr)
            return 2
        raise
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
