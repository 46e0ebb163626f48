#!/bin/sh
# x86-64 vs aarch64 (qemu-user) parity of the int8 model + device runtime. Needs root, network,
# and: apt-get install -y debootstrap qemu-user-static binfmt-support
# First run ~debootstrap + pip install in an emulated arm64 Debian (see docs/arm.md);
# the arm64 root is kept in $AUDIO_LSTM_ARM_ROOT (default /tmp/audio-lstm-arm64) so reruns are fast.
#   scripts/arm_parity.sh [--fp32 runs/default/model.fp32.onnx] [--report out.json] [--rebuild]
# Exit: 0 pass, 1 scores/labels differ beyond tolerance, 2 cannot run here.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-"$here/../.venv/bin/python"}
[ -x "$python" ] || python=python3
exec nice -n "${NICE:-19}" "$python" "$here/arm_parity.py" "$@"
