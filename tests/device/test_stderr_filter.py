"""`NativeStderrFilter`: PortAudio's and alsa-lib's repeated lines on fd 2 are collapsed, the rest kept.

A subprocess (fd 2 must be a real descriptor, not a test's captured stream) writes through the
descriptor as C libraries do, and through Python's sys.stderr.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os, sys
    from audio_lstm.device.messages import warn
    from audio_lstm.device.stderr_filter import NativeStderrFilter
    chain = [b"ALSA lib pcm_file.c:935:(snd_pcm_file_open) open /x for reading failed: No such file or directory\\n",
             b"Expression 'ret' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 1736\\n",
             b"Expression 'AlsaOpen( &alsaApi->baseHostApiRep, params, streamDir, &self->pcm )' failed in "
             b"'src/hostapi/alsa/pa_linux_alsa.c', line: 1904\\n"]
    native = NativeStderrFilter()
    assert native.install()
    warn("before")
    for attempt in range(50):  # a device retried 50 times
        for line in chain:
            os.write(2, line)
        if attempt == 10:
            os.write(2, b"some other library line\\n")
            print("a Python line", file=sys.stderr)
    os.write(2, b"a line without its newline")
    native.remove()
    os.write(2, b"\\nafter, straight to fd 2\\n")
    warn("done")
""")


def test_repeated_portaudio_lines_are_suppressed() -> None:
    process = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert process.returncode == 0, process.stderr
    lines = process.stderr.splitlines()
    assert lines.count("Expression 'ret' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 1736") == 1
    assert sum(line.startswith("ALSA lib pcm_file.c:935") for line in lines) == 1
    assert "audio-lstm listen: (147 more PortAudio/ALSA messages suppressed)" in lines
    for kept in (
        "audio-lstm listen: before",
        "some other library line",
        "a Python line",
        "a line without its newline",
        "after, straight to fd 2",
        "audio-lstm listen: done",
    ):
        assert kept in lines, process.stderr
    assert len(lines) == 3 + 7 + 1
