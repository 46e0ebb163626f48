#!/bin/sh
# The Raspberry Pi install path of docs/raspberry-pi.md, tried in an emulated arm64 Debian: a fresh
# venv in /opt/audio-lstm/venv, `pip install` of a wheel of this checkout (deps from PyPI), then
# `audio-lstm --version`, `classify`, `serve --help`, `listen --list-devices`, the extras, the venv
# size, and `systemd-analyze verify` of deploy/*.service. Opt-in, not part of CI. Needs root,
# network (Debian mirror, PyPI) and: apt-get install -y debootstrap qemu-user-static binfmt-support
# Reuses scripts/arm_parity.sh's arm64 root ($AUDIO_LSTM_ARM_ROOT, default /tmp/audio-lstm-arm64),
# building it (debootstrap, minutes) when missing.
#   scripts/pi_install_check.sh [--cpu cortex-a76] [--report out.json] [--rebuild]
# Exit: 0 pass, 1 a step failed, 2 cannot run here.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-"$here/../.venv/bin/python"}
[ -x "$python" ] || python=python3
exec nice -n "${NICE:-10}" "$python" "$here/pi_install_check.py" "$@"
