"""A capture device for `audio-lstm listen` without a microphone: alsa-lib's `file` plugin, paced in real time.

Used by the ALSA tests (tests/device/test_listen_alsa*.py) and by `bench/listen_cpu.py`. A private
``~/.asoundrc`` (under a temporary HOME: `rig_env`) defines a capture PCM (`asoundrc`) whose ``infile``
supplies the captured samples and whose slave is the `null` PCM. Two details make this a faithful
capture device:

* **No conversion plugin above `file`.** alsa-lib's `file` plugin reads ``infile`` inside
  ``mmap_begin`` for every frame the caller *could* take; conversion plugins (`plug`, `lfloat`, ...)
  then commit fewer frames, so whole stretches of the file are skipped (measured: a jump every
  2560 frames through `plug`). PortAudio itself commits what it takes, so the file holds raw
  float32 at the device's default rate: exactly the format and rate the daemon asks for.
* **Real-time pacing.** `null` has no clock: capture would run thousands of times faster than
  real time (a busy loop, and the daemon's bounded queue would drop most of it). The plugin's
  output ``file`` (a copy of everything captured) is a pipe into a tiny reader (`PACER`) that
  consumes it at the device's byte rate (after shrinking the pipe to one page), so PortAudio's ALSA
  thread blocks in ``write`` and runs in real time.

After ``infile`` ends, the null slave's ring buffer keeps the last samples, so capture goes on with
them, like a quiet room. `PROBE` prints the device's index and default rate as JSON, or why it
cannot be used (no PortAudio, no ALSA host API, the PCM not exposed).
"""

from __future__ import annotations

import os
import shlex
import sys
import textwrap
from pathlib import Path

DEVICE = "audiolstm_test_capture"  # unique: must not collide with any system PCM name

PACER = """\
import fcntl, os, sys, time
rate = float(sys.argv[1])  # bytes per second
start, total = time.monotonic(), 0
# Shrink the pipe to one page (little read-ahead, and closing the PCM does not wait while a 64 KiB
# backlog drains at real-time pace); Linux refuses while the pipe holds more, so empty it first.
flags = fcntl.fcntl(0, fcntl.F_GETFL)
fcntl.fcntl(0, fcntl.F_SETFL, flags | os.O_NONBLOCK)
for _ in range(50):
    try:
        while True:
            data = os.read(0, 65536)
            if not data:
                sys.exit()
            total += len(data)
    except BlockingIOError:
        pass
    try:
        fcntl.fcntl(0, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)
        break
    except OSError:
        time.sleep(0.001)
fcntl.fcntl(0, fcntl.F_SETFL, flags)
while True:
    data = os.read(0, 8192)
    if not data:
        break
    total += len(data)
    ahead = total / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
"""

PROBE = f"""\
import json, sys
try:
    import sounddevice as sd
except OSError as error:
    print(json.dumps({{"skip": f"PortAudio cannot be loaded: {{error}}"}})); sys.exit()
apis = [api["name"] for api in sd.query_hostapis()]
if "ALSA" not in apis:
    print(json.dumps({{"skip": f"PortAudio has no ALSA host API (host APIs: {{apis}})"}})); sys.exit()
try:
    info = sd.query_devices({DEVICE!r}, "input")
except Exception as error:
    print(json.dumps({{"skip": f"PortAudio's ALSA host API does not expose the virtual PCM: {{error}}"}})); sys.exit()
print(json.dumps({{"name": info["name"], "index": info["index"], "rate": info["default_samplerate"]}}))
"""


def rig_env(home: Path) -> dict[str, str]:
    """This process's environment with HOME (so alsa-lib reads `home`/.asoundrc) and no AUDIODEV."""
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), PYTHONUNBUFFERED="1")
    env.pop("AUDIODEV", None)
    return env


def asoundrc(infile: Path, pacer: Path, byte_rate: int) -> str:
    """The ``.asoundrc`` text of the capture PCM `DEVICE`: samples from `infile`, paced by the `PACER`
    script at `pacer` reading `byte_rate` bytes per second."""
    return textwrap.dedent(f"""\
        pcm.{DEVICE} {{
            type file
            slave.pcm "null"
            infile "{infile}"
            file "|{shlex.quote(sys.executable)} -I -S {shlex.quote(str(pacer))} {byte_rate}"
            format "raw"
        }}
        """)
